/**
 * The OCI image manifest and config blob of a Flux artifact, byte-for-byte in the form
 * fluxcd/pkg `oci/push.go` produces them through go-containerregistry (v0.21.5, the version
 * fluxcd/pkg pins):
 *
 * - manifest: `{"schemaVersion":2,"mediaType":…,"config":{…},"layers":[{…}],"annotations":{…}}`,
 *   descriptors as `{"mediaType","size","digest"}`, annotation keys sorted (Go's encoding/json
 *   sorts map keys), compact JSON without a trailing newline;
 * - config (media type application/vnd.cncf.flux.config.v1+json): the image config that
 *   `mutate.ConfigFile` + `mutate.Append` serialise, i.e.
 *   `{"architecture":"","created":…,"history":[{"created":"0001-01-01T00:00:00Z"}],"os":"",
 *   "rootfs":{"type":"layers","diff_ids":["sha256:…"]},"config":{}}`.
 *
 * One deliberate difference: Flux always stamps `created` (now) on the manifest and the config.
 * ksail writes the created annotation only when the caller gives a timestamp, and then uses Go's
 * zero time in the config, so the manifest digest of an unchanged directory stays the same.
 * source-controller reads only the manifest's layers and annotations, never the config.
 */
import { KsailError } from "../errors.js";
import type { Layer } from "./layer.js";
import { sha256Digest } from "./layer.js";
import {
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_SOURCE,
  FLUX_CONFIG_MEDIA_TYPE,
  FLUX_CONTENT_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
} from "./media-types.js";

/** A blob as built: `data` is the same buffer as `bytes`, `size` its length (for upload APIs). */
export interface ArtifactBlob {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  data: Buffer;
  size: number;
}

/** What the manifest and config need of a layer (in memory or in a file). */
export type LayerDescriptor = Pick<Layer, "digest" | "size" | "diffId">;

export interface FluxArtifact<L extends LayerDescriptor = Layer> {
  manifest: ArtifactBlob;
  config: ArtifactBlob;
  layer: L;
  annotations: Record<string, string>;
}

export interface ArtifactMetadata {
  source: string;
  revision: string;
  /** RFC 3339 timestamp; omitted → no created annotation (reproducible manifest digest). */
  created?: string;
  /** Extra manifest annotations (the three OCI keys above always win). */
  annotations?: Record<string, string>;
}

/** Go's zero time.Time as encoding/json writes it. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

function sortedRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/** The config blob, key order as go-containerregistry's v1.ConfigFile marshals it. */
export function buildFluxConfig(diffId: string, created?: string): Buffer {
  const config = {
    architecture: "",
    created: created ?? GO_ZERO_TIME,
    history: [{ created: GO_ZERO_TIME }],
    os: "",
    rootfs: { type: "layers", diff_ids: [diffId] },
    config: {},
  };
  return Buffer.from(JSON.stringify(config), "utf8");
}

export function buildFluxArtifact<L extends LayerDescriptor>(
  layer: L,
  metadata: ArtifactMetadata,
): FluxArtifact<L> {
  if (metadata.created !== undefined && !RFC3339.test(metadata.created)) {
    throw new KsailError("usage", `created timestamp "${metadata.created}" is not RFC 3339`, {
      hint: "Use a timestamp like 2024-05-01T12:00:00Z.",
    });
  }
  const annotations: Record<string, string> = { ...(metadata.annotations ?? {}) };
  annotations[ANNOTATION_SOURCE] = metadata.source;
  annotations[ANNOTATION_REVISION] = metadata.revision;
  if (metadata.created !== undefined) annotations[ANNOTATION_CREATED] = metadata.created;
  const sortedAnnotations = sortedRecord(annotations);

  const configBytes = buildFluxConfig(layer.diffId, metadata.created);
  const configDigest = sha256Digest(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: FLUX_CONFIG_MEDIA_TYPE, size: configBytes.length, digest: configDigest },
    layers: [{ mediaType: FLUX_CONTENT_MEDIA_TYPE, size: layer.size, digest: layer.digest }],
    annotations: sortedAnnotations,
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), "utf8");
  return {
    manifest: {
      bytes: manifestBytes,
      digest: sha256Digest(manifestBytes),
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      data: manifestBytes,
      size: manifestBytes.length,
    },
    config: {
      bytes: configBytes,
      digest: configDigest,
      mediaType: FLUX_CONFIG_MEDIA_TYPE,
      data: configBytes,
      size: configBytes.length,
    },
    layer,
    annotations: sortedAnnotations,
  };
}

function notFlux(problem: string): KsailError {
  return new KsailError("validation", `not a Flux artifact: ${problem}`, {
    hint:
      "Flux artifacts have an OCI image manifest with config media type " +
      `${FLUX_CONFIG_MEDIA_TYPE} and a first layer of type ${FLUX_CONTENT_MEDIA_TYPE}.`,
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkDescriptor(
  value: unknown,
  where: string,
): { digest: string; size: number; mediaType: string } {
  if (!isRecord(value)) throw notFlux(`${where} is not an object`);
  const { digest, size, mediaType } = value;
  if (typeof mediaType !== "string") throw notFlux(`${where}.mediaType is missing`);
  if (typeof digest !== "string" || !DIGEST.test(digest)) {
    throw notFlux(`${where}.digest is not a sha256 digest`);
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw notFlux(`${where}.size is not a non-negative integer`);
  }
  return { digest, size, mediaType };
}

/**
 * Reads a manifest and checks it is a Flux artifact the way source-controller needs it: OCI image
 * manifest, Flux config media type, first layer the Flux tar+gzip content (source-controller
 * extracts layer 0).
 */
export function parseFluxManifest(bytes: Buffer): {
  configDigest: string;
  layer: { digest: string; size: number; mediaType: string };
  annotations: Record<string, string>;
} {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new KsailError("validation", "not a Flux artifact: the manifest is not valid JSON", {
      cause: error,
    });
  }
  if (!isRecord(parsed)) throw notFlux("the manifest is not a JSON object");
  if (parsed.schemaVersion !== 2) throw notFlux("schemaVersion is not 2");
  if (parsed.mediaType !== undefined && parsed.mediaType !== OCI_MANIFEST_MEDIA_TYPE) {
    throw notFlux(
      `manifest mediaType is ${JSON.stringify(parsed.mediaType)}, not ${OCI_MANIFEST_MEDIA_TYPE}`,
    );
  }
  if (Array.isArray(parsed.manifests)) throw notFlux("it is an image index, not an image manifest");
  const config = checkDescriptor(parsed.config, "config");
  if (config.mediaType !== FLUX_CONFIG_MEDIA_TYPE) {
    throw notFlux(`config mediaType is ${config.mediaType}, not ${FLUX_CONFIG_MEDIA_TYPE}`);
  }
  if (!Array.isArray(parsed.layers) || parsed.layers.length === 0) {
    throw notFlux("the manifest has no layers");
  }
  const layer = checkDescriptor(parsed.layers[0], "layers[0]");
  if (layer.mediaType !== FLUX_CONTENT_MEDIA_TYPE) {
    throw notFlux(`layers[0].mediaType is ${layer.mediaType}, not ${FLUX_CONTENT_MEDIA_TYPE}`);
  }
  const annotations: Record<string, string> = {};
  if (parsed.annotations !== undefined && parsed.annotations !== null) {
    if (!isRecord(parsed.annotations)) throw notFlux("annotations is not an object");
    for (const [key, value] of Object.entries(parsed.annotations)) {
      if (typeof value !== "string") throw notFlux(`annotation ${key} is not a string`);
      annotations[key] = value;
    }
  }
  return { configDigest: config.digest, layer, annotations };
}
