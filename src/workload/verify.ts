/**
 * Checking signatures of workload artifacts (issues 14 and 27): `ksail workload verify [VERSION]
 * --key`, the signed column of `versions`, and the signatures `prune` removes with their
 * versions. Two formats, checked as Flux's source-controller (v1.9.1) and `cosign verify` (v3)
 * check them with a public key and no transparency log:
 *
 * - "bundle": cosign v3's Sigstore bundles, found as OCI referrers of the digest (the referrers
 *   API, or the `sha256-<hex>` fallback tag). When a digest has any, only they count — the
 *   peers do not fall back to the legacy format then;
 * - "legacy": cosign v2's `sha256-<hex>.sig` tag, a layer whose simple-signing payload verifies
 *   with the key and names the digest.
 */
import type { KeyObject } from "node:crypto";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import { isDigest } from "../oci/digest.js";
import { digestOfReferrersTag, referrersTag } from "../oci/referrers.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { checkBundles, readBundles } from "../sign/bundle-signature.js";
import { signatureTag, signedDigestOfTag } from "../sign/cosign-format.js";
import { parseReferrer } from "../sign/bundle-format.js";
import { checkSignatures, readSignatures } from "../sign/signature.js";
import { mapLimit } from "../util/map-limit.js";
import { versionNotFound } from "./versions.js";

/** "legacy": cosign v2's `.sig` tag; "bundle": cosign v3's Sigstore bundle referrer. */
export type SignatureFormat = "legacy" | "bundle";
export const SIGNATURE_FORMATS: readonly SignatureFormat[] = ["legacy", "bundle"];

export interface VerifyOptions {
  repository: RepositoryRef;
  /** A version, tag or manifest digest. */
  reference: string;
  publicKey: KeyObject;
}

export type VerifyResult =
  | {
      ok: true;
      reference: string;
      digest: string;
      format: SignatureFormat;
      /** Where the signature that verified is: the `.sig` tag, or the bundle's referrer digest. */
      signature: string;
    }
  | {
      ok: false;
      reference: string;
      digest: string;
      /** The format that was checked, when the digest has a signature at all. */
      format?: SignatureFormat;
      reason: string;
    };

/**
 * Verifies the artifact `reference` in `repository` with `publicKey`. A missing or bad
 * signature is a result (`ok: false` with the reason); a missing reference is a not-found error.
 */
export async function verifyArtifact(
  { client }: { client: RegistryClient },
  options: VerifyOptions,
): Promise<VerifyResult> {
  const { repository, reference, publicKey } = options;
  const found = await client.resolve(repository, reference);
  if (found === undefined && !isDigest(reference)) {
    throw await versionNotFound(client, repository, reference);
  }
  if (found === undefined) {
    throw new KsailError(
      "not-found",
      `${formatRepository(repository)} has no ${isDigest(reference) ? "manifest" : "version"} ${reference}`,
      { hint: "`ksail workload versions` lists what is there." },
    );
  }
  return verifyDigest(client, repository, reference, found.digest, publicKey);
}

async function verifyDigest(
  client: RegistryClient,
  repository: RepositoryRef,
  reference: string,
  digest: string,
  publicKey: KeyObject,
): Promise<VerifyResult> {
  const base = { reference, digest };
  const [stored, legacy] = await Promise.all([
    readBundles(client, repository, digest),
    readSignatures(client, repository, digest),
  ]);
  if (stored.bundles.length > 0) {
    const check = await checkBundles(client, repository, digest, stored.bundles, publicKey);
    if (check.ok) {
      const attached = stored.bundles.find((b) => b.subjectDigest === digest);
      return { ...base, ok: true, format: "bundle", signature: attached!.referrerDigest };
    }
    const legacyNote =
      legacy === undefined
        ? ""
        : ` (the legacy signature ${legacy.tag} is not checked: Flux and cosign v3 check only the bundles when a digest has any)`;
    return {
      ...base,
      ok: false,
      format: "bundle",
      reason: `no signature bundle of ${reference} (${digest}) verifies with the given key: ${check.reasons.join("; ")}${legacyNote}`,
    };
  }
  const tag = signatureTag(digest);
  if (legacy === undefined) {
    return {
      ...base,
      ok: false,
      reason: `${reference} (${digest}) is not signed: no signature bundle among its referrers (${stored.via === "api" ? "referrers API" : `tag ${referrersTag(digest)}`}) and no tag ${tag}`,
    };
  }
  const check = await checkSignatures(client, repository, digest, legacy, publicKey);
  if (check.ok) return { ...base, ok: true, format: "legacy", signature: tag };
  return {
    ...base,
    ok: false,
    format: "legacy",
    reason: `no signature of ${reference} (${digest}) verifies with the given key: ${check.reasons.join("; ")}`,
  };
}

/**
 * Digests that have a signature tag, from a tag list alone (no requests): the cheap "signed"
 * column of `versions` without a key. It says a signature exists, not that it is valid.
 */
export function signatureTagsByDigest(tags: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const tag of tags) {
    const digest = signedDigestOfTag(tag);
    if (digest !== undefined) out.set(digest, tag);
  }
  return out;
}

/** {@link signatureTagsByDigest} for a repository: one tag list request. */
export async function listSignedDigests(
  client: RegistryClient,
  repository: RepositoryRef,
): Promise<Map<string, string>> {
  return signatureTagsByDigest(await client.listTags(repository));
}

/**
 * Whether the registry answers the referrers API, from one request about `digest`: when it does
 * not, the tag list alone tells which digests have referrers (their `sha256-<hex>` tags).
 */
async function hasReferrersApi(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string | undefined,
): Promise<boolean> {
  if (digest === undefined) return false;
  return (await client.referrers(repository, digest)).via === "api";
}

/** Digests that have a referrers-schema tag (`sha256-<hex>`) in `tags`. */
export function referrersTagDigests(tags: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const tag of tags) {
    const digest = digestOfReferrersTag(tag);
    if (digest !== undefined) out.add(digest);
  }
  return out;
}

/**
 * The signature formats each digest has, without a key (the SIGNED column of `versions`): says
 * a signature exists, not that it is valid. Legacy signatures come from the tag list; bundles
 * from each digest's referrers — one request per digest on registries with the referrers API,
 * only for digests with a `sha256-<hex>` tag on the others.
 */
export async function signatureFormats(
  client: RegistryClient,
  repository: RepositoryRef,
  digests: readonly string[],
  tags: readonly string[],
  options: { concurrency?: number } = {},
): Promise<Map<string, SignatureFormat[]>> {
  const unique = [...new Set(digests)];
  const legacy = signatureTagsByDigest(tags);
  const withIndex = referrersTagDigests(tags);
  const api = await hasReferrersApi(client, repository, unique[0]);
  const formats = await mapLimit(unique, options.concurrency ?? 8, async (digest) => {
    const found: SignatureFormat[] = [];
    if (api || withIndex.has(digest)) {
      const { bundles } = await readBundles(client, repository, digest);
      if (bundles.some((b) => b.subjectDigest === digest)) found.push("bundle");
    }
    if (legacy.has(digest)) found.push("legacy");
    return found;
  });
  return new Map(unique.map((digest, i) => [digest, formats[i]!]));
}

/**
 * Verifies many digests with one key (the signed column of `versions --key`), at most
 * `concurrency` at a time. With `tags` (the repository's tag list) and a registry without the
 * referrers API, digests that have neither signature tag are answered without a request.
 */
export async function verifyDigests(
  client: RegistryClient,
  repository: RepositoryRef,
  digests: readonly string[],
  publicKey: KeyObject,
  options: { tags?: readonly string[]; concurrency?: number } = {},
): Promise<Map<string, VerifyResult>> {
  const unique = [...new Set(digests)];
  const tags = options.tags;
  const skippable =
    tags !== undefined && !(await hasReferrersApi(client, repository, unique[0]))
      ? new Set([...signatureTagsByDigest(tags).keys(), ...referrersTagDigests(tags)])
      : undefined;
  const results = await mapLimit(unique, options.concurrency ?? 8, async (digest) => {
    if (skippable !== undefined && !skippable.has(digest)) {
      const result: VerifyResult = {
        ok: false,
        reference: digest,
        digest,
        reason: `${digest} is not signed: no tag ${signatureTag(digest)} or ${referrersTag(digest)}`,
      };
      return result;
    }
    return verifyDigest(client, repository, digest, digest, publicKey);
  });
  return new Map(unique.map((digest, i) => [digest, results[i]!]));
}

export interface SignatureToDelete {
  /** The signed artifact digest. */
  digest: string;
  /** sha256-<hex>.sig */
  tag: string;
  /** The signature manifest's digest: what prune deletes (registries delete by digest). */
  manifestDigest: string;
}

/**
 * For prune: the signature manifests that belong to `digests` (artifact digests being
 * deleted), resolved from the repository's tag list. Digests without a signature are left out.
 */
export async function signaturesOf(
  client: RegistryClient,
  repository: RepositoryRef,
  digests: readonly string[],
  options: { tags?: readonly string[]; concurrency?: number } = {},
): Promise<SignatureToDelete[]> {
  const tags = options.tags ?? (await client.listTags(repository));
  const signed = signatureTagsByDigest(tags);
  const wanted = [...new Set(digests)].filter((d) => signed.has(d));
  const resolved = await mapLimit(wanted, options.concurrency ?? 8, async (digest) => {
    const tag = signed.get(digest)!;
    const found = await client.resolve(repository, tag);
    return found === undefined ? undefined : { digest, tag, manifestDigest: found.digest };
  });
  return resolved.filter((r): r is SignatureToDelete => r !== undefined);
}

export interface SignaturePruneResult {
  /** Signatures of deleted versions that were (or, in a dry run, would be) deleted. */
  deleted: SignatureToDelete[];
  /** Signature manifests left because a kept version's signature tag names them too. */
  kept: SignatureToDelete[];
}

/** What `prune` asks of the signatures and referrers of the versions it deletes. */
export interface PruneAttachmentsInput {
  repository: RepositoryRef;
  deletedDigests: readonly string[];
  keptDigests: readonly string[];
  dryRun?: boolean;
  concurrency?: number;
}

/**
 * For prune: deletes the signature manifests of `deletedDigests` (versions prune removed), never
 * one that a signature tag of `keptDigests` also points at (a DELETE by digest removes every tag
 * on the manifest). Read right before deleting, from the current tag list.
 */
export async function pruneSignatures(
  { client }: { client: RegistryClient },
  input: PruneAttachmentsInput,
): Promise<SignaturePruneResult> {
  const { repository } = input;
  const concurrency = input.concurrency ?? 8;
  const kept = new Set(input.keptDigests);
  const tags = await client.listTags(repository);
  const doomed = input.deletedDigests.filter((d) => !kept.has(d));
  const [candidates, keptSignatures] = await Promise.all([
    signaturesOf(client, repository, doomed, { tags, concurrency }),
    signaturesOf(client, repository, [...kept], { tags, concurrency }),
  ]);
  const protectedManifests = new Set(keptSignatures.map((s) => s.manifestDigest));
  const deleting = candidates.filter((s) => !protectedManifests.has(s.manifestDigest));
  const result: SignaturePruneResult = {
    deleted: deleting,
    kept: candidates.filter((s) => protectedManifests.has(s.manifestDigest)),
  };
  if (input.dryRun) return result;
  await mapLimit([...new Set(deleting.map((s) => s.manifestDigest))], concurrency, (digest) =>
    client.deleteManifest(repository, digest, { missingOk: true }),
  );
  return result;
}

export interface ReferrerToDelete {
  /** The deleted version's digest the referrer is attached to. */
  digest: string;
  /** The referrer manifest (a signature bundle, an SBOM, …) or the fallback index. */
  manifestDigest: string;
  /** "bundle": a Sigstore bundle; "referrer": another tool's; "index": the `sha256-<hex>` tag. */
  kind: "bundle" | "referrer" | "index";
  /** The fallback tag, for kind "index". */
  tag?: string;
}

/**
 * For prune: deletes the referrers of `deletedDigests` (their signature bundles and whatever
 * else is attached to them) and their `sha256-<hex>` fallback indexes. A referrer is deleted
 * only when its own `subject` names the deleted digest, so a bundle copied into another
 * digest's index is never removed from under a kept version.
 */
export async function pruneReferrers(
  { client }: { client: RegistryClient },
  input: PruneAttachmentsInput,
): Promise<ReferrerToDelete[]> {
  const { repository } = input;
  const concurrency = input.concurrency ?? 8;
  const kept = new Set(input.keptDigests);
  const doomed = [...new Set(input.deletedDigests)].filter((d) => !kept.has(d));
  if (doomed.length === 0) return [];
  // The first answer tells whether the registry has the referrers API. Without it, only a digest
  // whose `sha256-<hex>` fallback tag exists has referrers, and one tag list shows which do.
  const first = await client.referrers(repository, doomed[0] as string);
  let candidates = doomed;
  if (first.via === "tag") {
    const tags = new Set(await client.listTags(repository));
    candidates = doomed.filter(
      (d) => tags.has(referrersTag(d)) || (d === doomed[0] && first.descriptors.length > 0),
    );
  }
  const perDigest = await mapLimit(candidates, concurrency, async (digest) => {
    const out: ReferrerToDelete[] = [];
    const { descriptors, via } =
      digest === doomed[0] ? first : await client.referrers(repository, digest);
    for (const d of descriptors) {
      const manifest = await client.fetchManifest(repository, d.digest).catch((error: unknown) => {
        if (error instanceof KsailError && error.kind === "not-found") return undefined;
        throw error;
      });
      if (manifest === undefined) continue;
      const parsed = parseReferrer(manifest.bytes);
      if (parsed?.subjectDigest !== digest) continue;
      out.push({
        digest,
        manifestDigest: d.digest,
        kind: parsed.bundleLayer === undefined ? "referrer" : "bundle",
      });
    }
    if (via === "tag") {
      const tag = referrersTag(digest);
      const index = await client.resolve(repository, tag);
      if (index !== undefined)
        out.push({ digest, manifestDigest: index.digest, kind: "index", tag });
    }
    return out;
  });
  const deleting = perDigest.flat();
  if (input.dryRun) return deleting;
  await mapLimit(deleting, concurrency, (r) =>
    client.deleteManifest(repository, r.manifestDigest, { missingOk: true }),
  );
  return deleting;
}
