/**
 * cosign's key-based signature format in a registry (cosign v2 "legacy" tag scheme, the one
 * `cosign sign --key … --tlog-upload=false` writes and Flux's source-controller falls back to
 * when an artifact has no Sigstore bundle):
 *
 * - the tag `sha256-<hex>.sig` in the artifact's repository names an OCI image manifest
 *   (`application/vnd.oci.image.manifest.v1+json`, config `application/vnd.oci.image.config.v1+json`,
 *   built by go-containerregistry from `empty.Image`);
 * - each layer is one signature: media type `application/vnd.dev.cosign.simplesigning.v1+json`,
 *   the blob is the simple-signing payload, the annotation `dev.cosignproject.cosign/signature`
 *   is the base64 ASN.1 ECDSA signature over the blob's bytes;
 * - the payload is sigstore's `payload.Cosign` as encoding/json writes it:
 *   `{"critical":{"identity":{"docker-reference":"<registry>/<repo>"},"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},"optional":null}`.
 */
import { createHash } from "node:crypto";
import { GO_ZERO_TIME } from "../artifact/manifest.js";
import type { RepositoryRef } from "../oci/reference.js";
import { KsailError } from "../errors.js";

export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
export const COSIGN_SIGNATURE_TYPE = "cosign container image signature";
export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
export const SIGNATURE_TAG_SUFFIX = ".sig";

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;
const SIGNATURE_TAG_RE = /^sha256-([a-f0-9]{64})\.sig$/;

/** `sha256:<hex>` → `sha256-<hex>.sig`, the tag cosign stores the digest's signatures under. */
export function signatureTag(digest: string): string {
  const match = DIGEST_RE.exec(digest);
  if (match === null) {
    throw new KsailError(
      "usage",
      `"${digest}" is not a sha256 digest; only sha256 artifacts can be signed`,
    );
  }
  return `sha256-${match[1]}${SIGNATURE_TAG_SUFFIX}`;
}

/** The digest a `sha256-<hex>.sig` tag signs, or undefined for any other tag. */
export function signedDigestOfTag(tag: string): string | undefined {
  const match = SIGNATURE_TAG_RE.exec(tag);
  return match === null ? undefined : `sha256:${match[1]}`;
}

/**
 * go-containerregistry's `name.Repository.Name()` for the docker-reference claim: Docker Hub
 * is spelled index.docker.io and its one-component names get "library/".
 */
export function dockerReference(repository: RepositoryRef): string {
  if (repository.registry === "docker.io" || repository.registry === "index.docker.io") {
    const path = repository.repository.includes("/")
      ? repository.repository
      : `library/${repository.repository}`;
    return `index.docker.io/${path}`;
  }
  return `${repository.registry}/${repository.repository}`;
}

/** The simple-signing payload cosign signs for `digest` in `repository`, byte for byte. */
export function simpleSigningPayload(repository: RepositoryRef, digest: string): Buffer {
  // JSON.stringify writes these ASCII-only values exactly as Go's encoding/json does.
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": dockerReference(repository) },
        image: { "docker-manifest-digest": digest },
        type: COSIGN_SIGNATURE_TYPE,
      },
      optional: null,
    }),
    "utf8",
  );
}

export interface SimpleSigningClaims {
  dockerReference: string;
  digest: string;
}

/** The claims of a payload, or a reason why it is not a cosign simple-signing payload. */
export function parseSimpleSigningPayload(
  bytes: Buffer,
): { ok: true; claims: SimpleSigningClaims } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "the signed payload is not JSON" };
  }
  const critical = (value as { critical?: unknown } | null)?.critical as
    | {
        identity?: { "docker-reference"?: unknown };
        image?: { "docker-manifest-digest"?: unknown };
        type?: unknown;
      }
    | undefined;
  if (critical?.type !== COSIGN_SIGNATURE_TYPE) {
    return { ok: false, reason: `the signed payload is not of type "${COSIGN_SIGNATURE_TYPE}"` };
  }
  const digest = critical.image?.["docker-manifest-digest"];
  const reference = critical.identity?.["docker-reference"];
  if (typeof digest !== "string" || typeof reference !== "string") {
    return { ok: false, reason: "the signed payload names no image digest or reference" };
  }
  return { ok: true, claims: { dockerReference: reference, digest } };
}

export interface Descriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
}

export interface BlobToPush {
  digest: string;
  size: number;
  data: Buffer;
}

export interface SignatureImage {
  manifest: Buffer;
  /** The config blob (the layers are pushed separately). */
  config: BlobToPush;
}

export function blobOf(data: Buffer): BlobToPush {
  return {
    digest: `sha256:${createHash("sha256").update(data).digest("hex")}`,
    size: data.length,
    data,
  };
}

/**
 * The signature manifest with these layers, as go-containerregistry serialises cosign's
 * `empty.Signatures()` + appended layers: the config lists every layer as an (uncompressed)
 * diff_id with one empty history entry each; JSON field order as encoding/json writes the structs.
 */
export function signatureImage(layers: readonly Descriptor[]): SignatureImage {
  const configJson = Buffer.from(
    JSON.stringify({
      architecture: "",
      created: GO_ZERO_TIME,
      history: layers.map(() => ({ created: GO_ZERO_TIME })),
      os: "",
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
    "utf8",
  );
  const config = blobOf(configJson);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: OCI_CONFIG_MEDIA_TYPE, size: config.size, digest: config.digest },
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        size: l.size,
        digest: l.digest,
        ...(l.annotations && Object.keys(l.annotations).length > 0
          ? { annotations: sortedObject(l.annotations) }
          : {}),
      })),
    }),
    "utf8",
  );
  return { manifest, config };
}

/** The layers of a signature manifest (any media type), or undefined when it is not one. */
export function signatureLayers(manifestBytes: Buffer): Descriptor[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(manifestBytes.toString("utf8"));
  } catch {
    return undefined;
  }
  const layers = (value as { layers?: unknown } | null)?.layers;
  if (!Array.isArray(layers)) return undefined;
  const out: Descriptor[] = [];
  for (const layer of layers as unknown[]) {
    const l = layer as Partial<Descriptor> | null;
    if (
      l === null ||
      typeof l !== "object" ||
      typeof l.mediaType !== "string" ||
      typeof l.digest !== "string" ||
      typeof l.size !== "number"
    ) {
      return undefined;
    }
    out.push({
      mediaType: l.mediaType,
      size: l.size,
      digest: l.digest,
      ...(l.annotations && typeof l.annotations === "object" ? { annotations: l.annotations } : {}),
    });
  }
  return out;
}

function sortedObject(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}
