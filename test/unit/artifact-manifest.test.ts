import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { isKsailError } from "../../src/errors.js";
import type { Layer } from "../../src/artifact/layer.js";
import { buildFluxArtifact, parseFluxManifest } from "../../src/artifact/manifest.js";
import {
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_SOURCE,
  FLUX_CONFIG_MEDIA_TYPE,
  FLUX_CONTENT_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
} from "../../src/artifact/media-types.js";

const sha = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

const data = Buffer.from("fake layer");
const layer: Layer = {
  data,
  digest: sha(data),
  size: data.length,
  uncompressedSize: 2048,
  fileCount: 1,
  diffId: sha("fake tar"),
};
const metadata = {
  source: "https://github.com/example/app.git",
  revision: "main@sha1:" + "a".repeat(40),
};

describe("buildFluxArtifact", () => {
  it("writes the exact OCI manifest Flux expects", () => {
    const artifact = buildFluxArtifact(layer, metadata);
    const expectedConfig =
      '{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],' +
      `"os":"","rootfs":{"type":"layers","diff_ids":["${layer.diffId}"]},"config":{}}`;
    assert.equal(artifact.config.bytes.toString(), expectedConfig);
    assert.equal(artifact.config.digest, sha(expectedConfig));
    assert.equal(artifact.config.mediaType, FLUX_CONFIG_MEDIA_TYPE);
    assert.equal(artifact.config.size, artifact.config.bytes.length);

    const expectedManifest =
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST_MEDIA_TYPE}",` +
      `"config":{"mediaType":"${FLUX_CONFIG_MEDIA_TYPE}","size":${expectedConfig.length},"digest":"${sha(expectedConfig)}"},` +
      `"layers":[{"mediaType":"${FLUX_CONTENT_MEDIA_TYPE}","size":${data.length},"digest":"${layer.digest}"}],` +
      `"annotations":{"${ANNOTATION_REVISION}":"${metadata.revision}","${ANNOTATION_SOURCE}":"${metadata.source}"}}`;
    assert.equal(artifact.manifest.bytes.toString(), expectedManifest);
    assert.equal(artifact.manifest.digest, sha(expectedManifest));
    assert.equal(artifact.manifest.mediaType, OCI_MANIFEST_MEDIA_TYPE);
    assert.deepEqual(artifact.annotations, {
      [ANNOTATION_REVISION]: metadata.revision,
      [ANNOTATION_SOURCE]: metadata.source,
    });
    assert.equal(artifact.layer, layer);
  });

  it("is reproducible without created and adds it (manifest and config) only when given", () => {
    const a = buildFluxArtifact(layer, metadata);
    const b = buildFluxArtifact(layer, { ...metadata });
    assert.equal(a.manifest.digest, b.manifest.digest);
    assert.equal(ANNOTATION_CREATED in a.annotations, false);

    const created = "2024-05-01T12:00:00Z";
    const c = buildFluxArtifact(layer, { ...metadata, created });
    assert.equal(c.annotations[ANNOTATION_CREATED], created);
    assert.notEqual(c.manifest.digest, a.manifest.digest);
    assert.equal(JSON.parse(c.config.bytes.toString()).created, created);
    assert.deepEqual(Object.keys(JSON.parse(c.manifest.bytes.toString()).annotations), [
      ANNOTATION_CREATED,
      ANNOTATION_REVISION,
      ANNOTATION_SOURCE,
    ]);
  });

  it("rejects a created value that is not RFC 3339", () => {
    assert.throws(
      () => buildFluxArtifact(layer, { ...metadata, created: "yesterday" }),
      (e) => isKsailError(e) && e.kind === "usage",
    );
  });
});

describe("parseFluxManifest", () => {
  it("round-trips what buildFluxArtifact writes", () => {
    const artifact = buildFluxArtifact(layer, { ...metadata, created: "2024-05-01T12:00:00Z" });
    const parsed = parseFluxManifest(artifact.manifest.bytes);
    assert.equal(parsed.configDigest, artifact.config.digest);
    assert.deepEqual(parsed.layer, {
      digest: layer.digest,
      size: layer.size,
      mediaType: FLUX_CONTENT_MEDIA_TYPE,
    });
    assert.deepEqual(parsed.annotations, artifact.annotations);
  });

  const good = JSON.parse(buildFluxArtifact(layer, metadata).manifest.bytes.toString()) as Record<
    string,
    unknown
  >;
  const cases: [string, unknown, RegExp][] = [
    ["invalid JSON", "{", /not valid JSON/],
    ["a JSON array", [], /not a JSON object/],
    ["schemaVersion 1", { ...good, schemaVersion: 1 }, /schemaVersion/],
    [
      "a Docker manifest",
      { ...good, mediaType: "application/vnd.docker.distribution.manifest.v2+json" },
      /manifest mediaType/,
    ],
    ["an index", { schemaVersion: 2, manifests: [] }, /image index/],
    [
      "a container image config",
      {
        ...good,
        config: {
          ...(good.config as object),
          mediaType: "application/vnd.oci.image.config.v1+json",
        },
      },
      /config mediaType/,
    ],
    ["no layers", { ...good, layers: [] }, /no layers/],
    [
      "a plain tar layer",
      {
        ...good,
        layers: [
          { ...(good.layers as object[])[0], mediaType: "application/vnd.oci.image.layer.v1.tar" },
        ],
      },
      /layers\[0\]\.mediaType/,
    ],
    [
      "a bad digest",
      { ...good, layers: [{ ...(good.layers as object[])[0], digest: "md5:abc" }] },
      /layers\[0\]\.digest/,
    ],
    ["a non-string annotation", { ...good, annotations: { a: 1 } }, /annotation a/],
  ];
  for (const [name, value, pattern] of cases) {
    it(`rejects ${name}`, () => {
      const bytes = Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
      assert.throws(
        () => parseFluxManifest(bytes),
        (e) => isKsailError(e) && e.kind === "validation" && pattern.test(e.message),
      );
    });
  }
});
