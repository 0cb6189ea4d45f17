/** Small builders and assertions the OCI client tests share. */
import assert from "node:assert/strict";
import { KsailError } from "../src/errors.js";
import { sha256Digest } from "../src/oci/digest.js";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export function blobOf(data: Uint8Array) {
  return { digest: sha256Digest(data), size: data.byteLength, data };
}

/** A Flux-shaped image manifest naming `config` and `layers` (built by hand, on purpose). */
export function manifestFor(
  config: { digest: string; size: number },
  layers: { digest: string; size: number }[],
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: "application/vnd.cncf.flux.config.v1+json",
        digest: config.digest,
        size: config.size,
      },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.cncf.flux.content.v1.tar+gzip",
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
}

/** The KsailError `promise` rejects with; fails when it resolves or rejects with anything else. */
export async function rejectsKsail(promise: Promise<unknown>): Promise<KsailError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KsailError, `expected KsailError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}
