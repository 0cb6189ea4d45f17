/**
 * Signing a pushed artifact's manifest digest and checking its signatures in cosign's
 * key-based format (see cosign-format.ts), on top of the registry client's public methods.
 * Offline: no transparency log entry is written or required.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import {
  blobOf,
  parseSimpleSigningPayload,
  signatureImage,
  signatureLayers,
  signatureTag,
  simpleSigningPayload,
  OCI_MANIFEST_MEDIA_TYPE,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  type Descriptor,
} from "./cosign-format.js";
import type { SigningKey } from "./keys.js";

/** Signature payloads are a few hundred bytes; anything much larger is not one. */
export const MAX_PAYLOAD_SIZE = 64 * 1024;
/** More signature layers than this on one digest are not examined. */
export const MAX_SIGNATURE_LAYERS = 64;

/** Base64 ASN.1 DER ECDSA signature over SHA-256(payload), as cosign writes it. */
export function signPayload(key: SigningKey, payload: Buffer): string {
  return cryptoSign("sha256", payload, { key: key.privateKey, dsaEncoding: "der" }).toString(
    "base64",
  );
}

export function verifyPayload(publicKey: KeyObject, payload: Buffer, signature: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return cryptoVerify(
      "sha256",
      payload,
      { key: publicKey, dsaEncoding: "der" },
      Buffer.from(signature, "base64"),
    );
  } catch {
    return false;
  }
}

export interface StoredSignatures {
  tag: string;
  /** Digest of the signature manifest (what prune deletes). */
  manifestDigest: string;
  layers: Descriptor[];
}

/** The signature manifest stored for `digest`, or undefined when the digest has none. */
export async function readSignatures(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
): Promise<StoredSignatures | undefined> {
  const tag = signatureTag(digest);
  const found = await client.resolve(repository, tag);
  if (found === undefined) return undefined;
  const { bytes, digest: manifestDigest } = await client.fetchManifest(repository, found.digest);
  const layers = signatureLayers(bytes);
  if (layers === undefined) {
    throw new KsailError(
      "registry",
      `the signature tag ${tag} of ${formatRepository(repository)} does not name an image manifest with layers`,
      { hint: `Delete the tag ${tag} (it was not written by cosign or ksail) and sign again.` },
    );
  }
  return { tag, manifestDigest, layers };
}

export interface SignatureCheck {
  ok: boolean;
  /** Why each signature layer was rejected (empty when ok). */
  reasons: string[];
}

/**
 * Checks every simple-signing layer of `stored` against `publicKey` until one verifies and names
 * `digest`, like cosign's VerifyImageSignatures with a key and no transparency log.
 */
export async function checkSignatures(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
  stored: StoredSignatures,
  publicKey: KeyObject,
): Promise<SignatureCheck> {
  const reasons: string[] = [];
  const layers = stored.layers.slice(0, MAX_SIGNATURE_LAYERS);
  for (const [index, layer] of layers.entries()) {
    const which = `signature ${index + 1} of ${stored.layers.length}`;
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || typeof signature !== "string") {
      reasons.push(`${which}: not a cosign simple-signing layer`);
      continue;
    }
    if (layer.size > MAX_PAYLOAD_SIZE) {
      reasons.push(`${which}: payload of ${layer.size} bytes is too large`);
      continue;
    }
    const payload = await client.fetchBlob(repository, layer.digest);
    if (!verifyPayload(publicKey, payload, signature)) {
      reasons.push(`${which}: the signature does not verify with the given public key`);
      continue;
    }
    const parsed = parseSimpleSigningPayload(payload);
    if (!parsed.ok) {
      reasons.push(`${which}: ${parsed.reason}`);
      continue;
    }
    if (parsed.claims.digest !== digest) {
      reasons.push(`${which}: it signs ${parsed.claims.digest}, not ${digest}`);
      continue;
    }
    return { ok: true, reasons: [] };
  }
  if (layers.length === 0) reasons.push("the signature manifest has no layers");
  return { ok: false, reasons };
}

export interface AttachResult {
  tag: string;
  /** Digest of the signature manifest now under the tag. */
  manifestDigest: string;
  /** True when a signature of this digest by this key was already there (nothing written). */
  unchanged: boolean;
}

/**
 * Signs `digest` and stores the signature under its `.sig` tag. Signatures already there are
 * kept (other keys' signatures are someone's data); one by the same key over the same payload
 * makes this a no-op, as cosign's duplicate detector does. Blobs go up before the tag moves.
 */
export async function attachSignature(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
  key: SigningKey,
): Promise<AttachResult> {
  const payload = simpleSigningPayload(repository, digest);
  const existing = await readSignatures(client, repository, digest);
  const payloadBlob = blobOf(payload);
  if (existing !== undefined) {
    for (const layer of existing.layers) {
      const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
      if (
        layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE &&
        layer.digest === payloadBlob.digest &&
        typeof signature === "string" &&
        verifyPayload(key.publicKey, payload, signature)
      ) {
        return { tag: existing.tag, manifestDigest: existing.manifestDigest, unchanged: true };
      }
    }
  }
  const layer: Descriptor = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    size: payloadBlob.size,
    digest: payloadBlob.digest,
    annotations: { [SIGNATURE_ANNOTATION]: signPayload(key, payload) },
  };
  const layers = [...(existing?.layers ?? []), layer];
  const image = signatureImage(layers);
  await client.pushBlob(repository, payloadBlob);
  await client.pushBlob(repository, image.config);
  const tag = signatureTag(digest);
  const manifestDigest = await client.pushManifest(
    repository,
    tag,
    image.manifest,
    OCI_MANIFEST_MEDIA_TYPE,
  );
  return { tag, manifestDigest, unchanged: false };
}
