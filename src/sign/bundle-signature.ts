/**
 * Signing a manifest digest as cosign v3 does (a Sigstore bundle attached as an OCI referrer,
 * see bundle-format.ts) and checking such bundles with a public key, offline: no transparency
 * log entry is written or required, as with `cosign sign --tlog-upload=false` and
 * `cosign verify --insecure-ignore-tlog`, and as Flux's source-controller checks with a key.
 */
import type { KeyObject } from "node:crypto";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import type { ReferrerDescriptor } from "../oci/referrers.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import {
  BUNDLE_MEDIA_TYPE,
  BUNDLE_MEDIA_TYPE_PREFIX,
  bundleReferrer,
  dsseBundle,
  INTOTO_PAYLOAD_TYPE,
  OCI_EMPTY_MEDIA_TYPE,
  parseBundle,
  parseReferrer,
  preAuthEncoding,
  publicKeyHint,
  signStatement,
  statementSubjects,
} from "./bundle-format.js";
import { OCI_MANIFEST_MEDIA_TYPE } from "./cosign-format.js";
import type { SigningKey } from "./keys.js";
import { MAX_SIGNATURE_LAYERS, signPayload, verifyPayload } from "./signature.js";

/**
 * A key-based bundle is about 1 KiB; one with a certificate chain, transparency log entries
 * and timestamps a few KiB. A larger one is refused unread (exit 9).
 */
export const MAX_BUNDLE_SIZE = 256 * 1024;

export interface StoredBundle {
  /** Digest of the referrer manifest that carries the bundle (what prune deletes). */
  referrerDigest: string;
  /** The digest the referrer's `subject` names. */
  subjectDigest: string | undefined;
  layer: { digest: string; size: number };
}

export interface StoredBundles {
  bundles: StoredBundle[];
  /** How the referrers were found: the registry's referrers API or the fallback tag. */
  via: "api" | "tag";
  /** Every referrer of the digest (bundles and others: SBOMs, attestations of other tools). */
  referrers: ReferrerDescriptor[];
}

/** A referrer that may be a bundle: cosign's artifact type, or none/empty (registries differ). */
function mayBeBundle(d: ReferrerDescriptor): boolean {
  if (d.mediaType !== OCI_MANIFEST_MEDIA_TYPE) return false;
  const type = d.artifactType;
  return (
    type === undefined ||
    type === "" ||
    type === OCI_EMPTY_MEDIA_TYPE ||
    type.startsWith(BUNDLE_MEDIA_TYPE_PREFIX)
  );
}

/** The Sigstore bundles attached to `digest` (at most MAX_SIGNATURE_LAYERS are read). */
export async function readBundles(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
): Promise<StoredBundles> {
  const { descriptors, via } = await client.referrers(repository, digest);
  const candidates = descriptors.filter(mayBeBundle).slice(0, MAX_SIGNATURE_LAYERS);
  const bundles: StoredBundle[] = [];
  for (const candidate of candidates) {
    const { bytes } = await client.fetchManifest(repository, candidate.digest);
    const parsed = parseReferrer(bytes);
    if (parsed?.bundleLayer === undefined) continue; // another tool's referrer
    bundles.push({
      referrerDigest: candidate.digest,
      subjectDigest: parsed.subjectDigest,
      layer: { digest: parsed.bundleLayer.digest, size: parsed.bundleLayer.size },
    });
  }
  return { bundles, via, referrers: descriptors };
}

export interface BundleCheck {
  ok: boolean;
  /** Why each bundle was rejected (empty when ok). */
  reasons: string[];
}

/**
 * Checks `stored` bundles against `publicKey` until one verifies and names `digest` — both in
 * the referrer's subject and in what the key signed — like cosign's bundle verification with a
 * key and no transparency log. A bundle larger than MAX_BUNDLE_SIZE stops the check (exit 9).
 */
export async function checkBundles(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
  stored: readonly StoredBundle[],
  publicKey: KeyObject,
): Promise<BundleCheck> {
  const reasons: string[] = [];
  let manifestBytes: Buffer | undefined;
  for (const [index, bundle] of stored.entries()) {
    const which = `bundle ${index + 1} of ${stored.length} (${bundle.referrerDigest.slice(0, 19)}…)`;
    if (bundle.subjectDigest !== digest) {
      reasons.push(
        `${which}: it is attached to ${bundle.subjectDigest ?? "no subject"}, not ${digest}`,
      );
      continue;
    }
    if (bundle.layer.size > MAX_BUNDLE_SIZE) throw tooLarge(repository, bundle);
    const bytes = await client.fetchBlob(repository, bundle.layer.digest, {
      size: bundle.layer.size,
    });
    const parsed = parseBundle(bytes);
    if (!parsed.ok) {
      reasons.push(`${which}: ${parsed.reason}`);
      continue;
    }
    const content = parsed.content;
    if (content.kind === "dsse") {
      if (content.payloadType !== INTOTO_PAYLOAD_TYPE) {
        reasons.push(
          `${which}: its payload type ${content.payloadType} is not an in-toto statement`,
        );
        continue;
      }
      const pae = preAuthEncoding(content.payloadType, content.payload);
      if (!content.signatures.some((s) => verifyPayload(publicKey, pae, s))) {
        reasons.push(`${which}: the signature does not verify with the given public key`);
        continue;
      }
      const subjects = statementSubjects(content.payload);
      if (!subjects.ok) {
        reasons.push(`${which}: ${subjects.reason}`);
        continue;
      }
      if (!subjects.digests.includes(digest)) {
        reasons.push(`${which}: it signs ${subjects.digests.join(", ")}, not ${digest}`);
        continue;
      }
      return { ok: true, reasons: [] };
    }
    // A message signature signs the artifact's own bytes: the signed manifest.
    if (content.digest !== undefined && content.digest !== digest) {
      reasons.push(`${which}: it signs ${content.digest}, not ${digest}`);
      continue;
    }
    manifestBytes ??= (await client.fetchManifest(repository, digest)).bytes;
    if (!verifyPayload(publicKey, manifestBytes, content.signature)) {
      reasons.push(`${which}: the signature does not verify with the given public key`);
      continue;
    }
    return { ok: true, reasons: [] };
  }
  return { ok: false, reasons };
}

function tooLarge(repository: RepositoryRef, bundle: StoredBundle): KsailError {
  return new KsailError(
    "registry",
    `the bundle of referrer ${bundle.referrerDigest} in ${formatRepository(repository)} is ${bundle.layer.size} bytes; a signature bundle is at most ${MAX_BUNDLE_SIZE}`,
    {
      code: "SIZE_EXCEEDED",
      hint: `Delete that referrer (it was not written by cosign or ksail): DELETE /v2/${repository.repository}/manifests/${bundle.referrerDigest}.`,
    },
  );
}

export interface BundleAttachResult {
  /** Digest of the referrer manifest carrying the bundle. */
  referrerDigest: string;
  /** How verifiers find it: the registry's referrers API or the `sha256-<hex>` fallback tag. */
  via: "api" | "tag";
  /** True when a bundle of this digest by this key was already attached (nothing written). */
  unchanged: boolean;
}

/**
 * Signs `digest` as cosign v3 does and attaches the bundle as a referrer. A bundle by the same
 * key for this digest makes this a no-op; other referrers are left alone.
 */
export async function attachBundle(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
  key: SigningKey,
  now: Date = new Date(),
): Promise<BundleAttachResult> {
  const subject = await client.resolve(repository, digest);
  if (subject === undefined) {
    throw new KsailError(
      "not-found",
      `${formatRepository(repository)} has no manifest ${digest} to sign`,
    );
  }
  const existing = await readBundles(client, repository, digest);
  const mine = existing.bundles.filter((b) => b.subjectDigest === digest);
  if (mine.length > 0) {
    const check = await checkBundles(client, repository, digest, mine, key.publicKey);
    if (check.ok) {
      return { referrerDigest: mine[0]!.referrerDigest, via: existing.via, unchanged: true };
    }
  }
  const statement = signStatement(digest);
  const signature = signPayload(key, preAuthEncoding(INTOTO_PAYLOAD_TYPE, statement));
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const bundle = dsseBundle(statement, signature, publicKeyHint(spki));
  const image = bundleReferrer(
    { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    bundle,
    now,
  );
  for (const blob of image.blobs) await client.pushBlob(repository, blob);
  const pushed = await client.pushReferrer(repository, digest, image.manifest, {
    artifactType: BUNDLE_MEDIA_TYPE,
  });
  return { referrerDigest: pushed.digest, via: pushed.via, unchanged: false };
}
