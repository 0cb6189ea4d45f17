/**
 * Removing tags — and only tags — on registries without tag deletion (distribution 2.x answers
 * DELETE /manifests/<tag> with 400). Deleting a tag's manifest by digest would delete every tag
 * on that digest, so the tags are first moved to a marker manifest of their own (unique, so no
 * other tag can point at it), and that marker is deleted by digest: the tags go with it. One
 * marker serves any number of tags, so untagging N versions costs N small PUTs and a few DELETEs,
 * where deleting N digests that are still tagged makes distribution 2.x read every tag of the
 * repository once per DELETE (its tag lookup), N × tags reads in all.
 *
 * A client reading one of these tags in between gets the marker, which is no Flux artifact
 * (an empty config and layer) and is refused as one, as a missing tag would be. A run stopped
 * in between leaves the tags on a marker: `isUntagMarker` lets the next prune find and delete it.
 */
import { randomUUID } from "node:crypto";
import { MEDIA_TYPES, type RegistryClient } from "../oci/client.js";
import { sha256Digest } from "../oci/digest.js";
import type { RepositoryRef } from "../oci/reference.js";
import { mapLimit } from "../util/map-limit.js";

/** The empty JSON object, OCI's "empty descriptor" content. */
const EMPTY_CONFIG = Buffer.from("{}");
const EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json";
/** The annotation that marks a marker manifest; its value is unique per marker. */
export const UNTAG_MARKER_ANNOTATION = "ksail.io/untag-marker";

/** True when `bytes` is a marker manifest that moveTagsAway wrote. */
export function isUntagMarker(bytes: Buffer): boolean {
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as {
      annotations?: Record<string, unknown>;
    };
    return typeof parsed.annotations?.[UNTAG_MARKER_ANNOTATION] === "string";
  } catch {
    return false;
  }
}

/**
 * Removes `tags` by moving them to fresh markers and deleting those: one marker per `concurrency`
 * share of the tags (distribution removes a deleted manifest's tags one after the other, so the
 * markers' DELETEs run side by side), at most `concurrency` PUTs at a time. Every marker is
 * deleted even when a PUT failed, so no tag is left on one.
 * `purpose` goes into the markers' annotation (what removed the tags, for a reader in between).
 */
export async function moveTagsAway(
  client: RegistryClient,
  repository: RepositoryRef,
  tags: readonly string[],
  options: { concurrency?: number; purpose: string },
): Promise<void> {
  if (tags.length === 0) return;
  const limit = Math.max(1, options.concurrency ?? 8);
  const config = { digest: sha256Digest(EMPTY_CONFIG), size: EMPTY_CONFIG.length };
  await client.pushBlob(repository, { ...config, data: EMPTY_CONFIG });
  const run = `${options.purpose} ${new Date().toISOString()} ${randomUUID()}`;
  const markers = Array.from({ length: Math.min(limit, tags.length) }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: EMPTY_MEDIA_TYPE, ...config },
        layers: [{ mediaType: EMPTY_MEDIA_TYPE, ...config }],
        annotations: { [UNTAG_MARKER_ANNOTATION]: `${run} ${i}` },
      }),
    ),
  );
  try {
    await mapLimit(tags, limit, (tag, i) =>
      client.pushManifest(
        repository,
        tag,
        markers[i % markers.length] as Buffer,
        MEDIA_TYPES.ociManifest,
      ),
    );
  } finally {
    // Also after a failed PUT: one whose answer was lost may have moved its tag.
    await mapLimit(markers, limit, (marker) =>
      client.deleteManifest(repository, sha256Digest(marker), { missingOk: true }),
    );
  }
}
