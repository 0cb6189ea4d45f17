/**
 * cosign v3's signature format: a Sigstore bundle (v0.3) attached to the signed manifest as an
 * OCI 1.1 referrer — what `cosign sign --key … --tlog-upload=false` writes by default
 * (cosign v3 `signDigestBundle` + `ociremote.WriteAttestationNewBundleFormat`) and what Flux's
 * source-controller (v1.9.1, `cosign.GetBundles`) and `cosign verify` look for first:
 *
 * - the bundle JSON (protojson of `dev.sigstore.bundle.v1.Bundle`): `mediaType`
 *   `application/vnd.dev.sigstore.bundle.v0.3+json`, `verificationMaterial.publicKey.hint`
 *   (a key-based bundle names no certificate), and `dsseEnvelope` whose `payloadType` is
 *   `application/vnd.in-toto+json` and whose payload is an in-toto Statement v1 with one subject
 *   `{"digest":{"sha256":"<hex>"}}` and the predicate type `https://sigstore.dev/cosign/sign/v1`;
 *   each DSSE signature is ECDSA/SHA-256 (ASN.1 DER, base64) over the DSSE pre-authentication
 *   encoding `DSSEv1 <len> <type> <len> <payload>`. A bundle may instead hold a
 *   `messageSignature` over the artifact's bytes (sigstore-go `PlainData`);
 * - the referrer: an OCI image manifest with `artifactType` = the bundle media type, the empty
 *   config (`application/vnd.oci.empty.v1+json`, the 2-byte blob `{}`), exactly one layer (the
 *   bundle) and `subject` = the signed manifest's descriptor, pushed by digest. Registries with
 *   the referrers API index it themselves; for the others the client keeps an OCI index under
 *   the tag `sha256-<hex>` (the referrers tag schema) listing it.
 */
import { createHash } from "node:crypto";
import { KsailError } from "../errors.js";
import { blobOf, OCI_MANIFEST_MEDIA_TYPE, type BlobToPush } from "./cosign-format.js";

export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
/** What cosign's `ociremote.Bundle` accepts as a bundle layer (any bundle media type). */
export const BUNDLE_MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle";
export const OCI_EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json";
export const INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const INTOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1";
const INTOTO_STATEMENT_V01 = "https://in-toto.io/Statement/v0.1";
export const COSIGN_SIGN_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1";
/** Annotations cosign puts on its bundle referrers. */
export const BUNDLE_CONTENT_ANNOTATION = "dev.sigstore.bundle.content";
export const BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType";
export const CREATED_ANNOTATION = "org.opencontainers.image.created";

const SHA256_DIGEST_RE = /^sha256:([a-f0-9]{64})$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** The descriptor of the signed manifest, as the referrer's `subject` names it. */
export interface SubjectDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** The in-toto statement cosign v3 signs for `digest` (protojson field order). */
export function signStatement(digest: string): Buffer {
  const match = SHA256_DIGEST_RE.exec(digest);
  if (match === null) {
    throw new KsailError(
      "usage",
      `"${digest}" is not a sha256 digest; only sha256 artifacts can be signed`,
    );
  }
  return Buffer.from(
    JSON.stringify({
      _type: INTOTO_STATEMENT_V1,
      subject: [{ digest: { sha256: match[1] } }],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
    }),
    "utf8",
  );
}

/** DSSE's pre-authentication encoding: what a DSSE signature signs. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `,
      "utf8",
    ),
    payload,
  ]);
}

/** sigstore-go's key hint: base64 of SHA-256 over the public key's PKIX DER. */
export function publicKeyHint(spkiDer: Buffer): string {
  return createHash("sha256").update(spkiDer).digest("base64");
}

/** A key-based bundle holding a DSSE envelope over `payload`, signed with `signature` (base64). */
export function dsseBundle(payload: Buffer, signature: string, hint: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint } },
      dsseEnvelope: {
        payload: payload.toString("base64"),
        payloadType: INTOTO_PAYLOAD_TYPE,
        signatures: [{ sig: signature }],
      },
    }),
    "utf8",
  );
}

export interface ReferrerImage {
  /** The referrer manifest, to push by its digest. */
  manifest: Buffer;
  /** Its blobs: the empty config and the bundle. */
  blobs: BlobToPush[];
  artifactType: string;
  annotations: Record<string, string>;
}

/**
 * The referrer manifest that attaches `bundle` to `subject`, laid out as cosign writes it
 * (go-containerregistry's v1.Manifest field order plus a top-level `artifactType`).
 */
export function bundleReferrer(
  subject: SubjectDescriptor,
  bundle: Buffer,
  created: Date,
): ReferrerImage {
  const config = blobOf(Buffer.from("{}", "utf8"));
  const layer = blobOf(bundle);
  const annotations = {
    [BUNDLE_CONTENT_ANNOTATION]: "dsse-envelope",
    [BUNDLE_PREDICATE_ANNOTATION]: COSIGN_SIGN_PREDICATE_TYPE,
    [CREATED_ANNOTATION]: created.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: {
        mediaType: OCI_EMPTY_MEDIA_TYPE,
        size: config.size,
        digest: config.digest,
        artifactType: BUNDLE_MEDIA_TYPE,
      },
      layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: layer.size, digest: layer.digest }],
      annotations,
      subject: { mediaType: subject.mediaType, size: subject.size, digest: subject.digest },
      artifactType: BUNDLE_MEDIA_TYPE,
    }),
    "utf8",
  );
  return { manifest, blobs: [config, layer], artifactType: BUNDLE_MEDIA_TYPE, annotations };
}

/** What a referrer manifest says about itself: its subject and its single bundle layer. */
export interface ParsedReferrer {
  subjectDigest: string | undefined;
  /** The bundle layer, when the manifest has exactly one layer of a bundle media type. */
  bundleLayer: { digest: string; size: number; mediaType: string } | undefined;
}

export function parseReferrer(bytes: Buffer): ParsedReferrer | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  const m = value as { subject?: { digest?: unknown }; layers?: unknown };
  const subjectDigest = typeof m.subject?.digest === "string" ? m.subject.digest : undefined;
  let bundleLayer: ParsedReferrer["bundleLayer"];
  if (Array.isArray(m.layers) && m.layers.length === 1) {
    const l = m.layers[0] as { mediaType?: unknown; digest?: unknown; size?: unknown } | null;
    if (
      l !== null &&
      typeof l === "object" &&
      typeof l.mediaType === "string" &&
      l.mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX) &&
      typeof l.digest === "string" &&
      typeof l.size === "number"
    ) {
      bundleLayer = { digest: l.digest, size: l.size, mediaType: l.mediaType };
    }
  }
  return { subjectDigest, bundleLayer };
}

/** The signed content of a bundle, ready for a signature check. */
export type BundleContent =
  | {
      kind: "dsse";
      payloadType: string;
      payload: Buffer;
      /** base64 signatures of the envelope. */
      signatures: string[];
    }
  | {
      kind: "message";
      /** The sha256 digest the bundle says the artifact has ("sha256:<hex>"), when it says one. */
      digest: string | undefined;
      signature: string;
    };

/** Parses a bundle, or says why it is not a v0.3 Sigstore bundle ksail can check. */
export function parseBundle(
  bytes: Buffer,
): { ok: true; content: BundleContent } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "the bundle is not JSON" };
  }
  const b = (value ?? {}) as {
    mediaType?: unknown;
    dsseEnvelope?: { payload?: unknown; payloadType?: unknown; signatures?: unknown };
    messageSignature?: {
      messageDigest?: { algorithm?: unknown; digest?: unknown };
      signature?: unknown;
    };
  };
  if (!isBundleV03(b.mediaType)) {
    return {
      ok: false,
      reason: `the bundle's media type ${JSON.stringify(b.mediaType ?? null)} is not a Sigstore bundle v0.3 or later`,
    };
  }
  if (b.dsseEnvelope && typeof b.dsseEnvelope === "object") {
    const { payload, payloadType, signatures } = b.dsseEnvelope;
    if (
      typeof payload !== "string" ||
      !BASE64_RE.test(payload) ||
      typeof payloadType !== "string"
    ) {
      return { ok: false, reason: "the bundle's DSSE envelope has no payload or payload type" };
    }
    const sigs = Array.isArray(signatures)
      ? signatures
          .map((s) => (s as { sig?: unknown } | null)?.sig)
          .filter((s): s is string => typeof s === "string")
      : [];
    if (sigs.length === 0)
      return { ok: false, reason: "the bundle's DSSE envelope has no signature" };
    return {
      ok: true,
      content: {
        kind: "dsse",
        payloadType,
        payload: Buffer.from(payload, "base64"),
        signatures: sigs,
      },
    };
  }
  if (b.messageSignature && typeof b.messageSignature === "object") {
    const { messageDigest, signature } = b.messageSignature;
    if (typeof signature !== "string") {
      return { ok: false, reason: "the bundle's message signature has no signature" };
    }
    let digest: string | undefined;
    if (
      messageDigest?.algorithm === "SHA2_256" &&
      typeof messageDigest.digest === "string" &&
      BASE64_RE.test(messageDigest.digest)
    ) {
      digest = `sha256:${Buffer.from(messageDigest.digest, "base64").toString("hex")}`;
    }
    return { ok: true, content: { kind: "message", digest, signature } };
  }
  return { ok: false, reason: "the bundle holds neither a DSSE envelope nor a message signature" };
}

/** v0.3 as `…bundle.v0.3+json`, or older spellings `…bundle+json;version=0.3` and later. */
function isBundleV03(mediaType: unknown): boolean {
  if (typeof mediaType !== "string") return false;
  const dotted = /^application\/vnd\.dev\.sigstore\.bundle\.v(\d+)\.(\d+)\+json$/.exec(mediaType);
  const param = /^application\/vnd\.dev\.sigstore\.bundle\+json;version=(\d+)\.(\d+)$/.exec(
    mediaType,
  );
  const version = dotted ?? param;
  if (version === null) return false;
  const [major, minor] = [Number(version[1]), Number(version[2])];
  return major > 0 || minor >= 3;
}

/**
 * The sha256 digests an in-toto statement's subjects name, or a reason why the payload is not
 * an in-toto statement.
 */
export function statementSubjects(
  payload: Buffer,
): { ok: true; digests: string[]; predicateType: string } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, reason: "the signed statement is not JSON" };
  }
  const s = (value ?? {}) as { _type?: unknown; subject?: unknown; predicateType?: unknown };
  if (s._type !== INTOTO_STATEMENT_V1 && s._type !== INTOTO_STATEMENT_V01) {
    return { ok: false, reason: "the signed payload is not an in-toto statement" };
  }
  const digests: string[] = [];
  if (Array.isArray(s.subject)) {
    for (const subject of s.subject as unknown[]) {
      const hex = (subject as { digest?: { sha256?: unknown } } | null)?.digest?.sha256;
      if (typeof hex === "string") digests.push(`sha256:${hex.toLowerCase()}`);
    }
  }
  if (digests.length === 0)
    return { ok: false, reason: "the signed statement names no sha256 subject" };
  return {
    ok: true,
    digests,
    predicateType: typeof s.predicateType === "string" ? s.predicateType : "",
  };
}
