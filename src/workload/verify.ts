/**
 * Checking signatures of workload artifacts (issue 14): `ksail workload verify [VERSION] --key`,
 * the signed column of `versions`, and the signature tags `prune` removes with their versions.
 * The check is what Flux's source-controller does with a public key (cosign, key-based, no
 * transparency log): a layer of the digest's `.sig` manifest whose payload verifies with the
 * key and names the digest.
 */
import type { KeyObject } from "node:crypto";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import { isDigest } from "../oci/digest.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { signatureTag, signedDigestOfTag } from "../sign/cosign-format.js";
import { checkSignatures, readSignatures } from "../sign/signature.js";
import { mapLimit } from "../util/map-limit.js";
import { versionNotFound } from "./versions.js";

export interface VerifyOptions {
  repository: RepositoryRef;
  /** A version, tag or manifest digest. */
  reference: string;
  publicKey: KeyObject;
}

export type VerifyResult =
  | { ok: true; reference: string; digest: string; signatureTag: string }
  | { ok: false; reference: string; digest: string; signatureTag: string; reason: string };

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
  const tag = signatureTag(digest);
  const base = { reference, digest, signatureTag: tag };
  const stored = await readSignatures(client, repository, digest);
  if (stored === undefined) {
    return { ...base, ok: false, reason: `${reference} (${digest}) is not signed: no tag ${tag}` };
  }
  const check = await checkSignatures(client, repository, digest, stored, publicKey);
  if (check.ok) return { ...base, ok: true };
  return {
    ...base,
    ok: false,
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
 * Verifies many digests with one key (the signed column of `versions --key`), at most
 * `concurrency` at a time. Digests without a signature tag are answered without a request
 * when `tags` (the repository's tag list) is given.
 */
export async function verifyDigests(
  client: RegistryClient,
  repository: RepositoryRef,
  digests: readonly string[],
  publicKey: KeyObject,
  options: { tags?: readonly string[]; concurrency?: number } = {},
): Promise<Map<string, VerifyResult>> {
  const signed = options.tags ? signatureTagsByDigest(options.tags) : undefined;
  const unique = [...new Set(digests)];
  const results = await mapLimit(unique, options.concurrency ?? 8, async (digest) => {
    if (signed !== undefined && !signed.has(digest)) {
      const tag = signatureTag(digest);
      const result: VerifyResult = {
        ok: false,
        reference: digest,
        digest,
        signatureTag: tag,
        reason: `${digest} is not signed: no tag ${tag}`,
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

/**
 * For prune: deletes the signature manifests of `deletedDigests` (versions prune removed), never
 * one that a signature tag of `keptDigests` also points at (a DELETE by digest removes every tag
 * on the manifest). Read right before deleting, from the current tag list.
 */
export async function pruneSignatures(
  { client }: { client: RegistryClient },
  input: {
    repository: RepositoryRef;
    deletedDigests: readonly string[];
    keptDigests: readonly string[];
    dryRun?: boolean;
    concurrency?: number;
  },
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
