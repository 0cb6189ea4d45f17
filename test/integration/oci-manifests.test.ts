import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { OCI_MANIFEST, blobOf, manifestFor, rejectsKsail } from "../../lab/oci-fixtures.js";
import { registrySuite } from "../../lab/oci-suite.js";
import { startRegistry } from "../../lab/registry.js";

const noCredentials = async () => undefined;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

describe("manifests (src/oci/manifests.ts) against the real distribution registry", () => {
  const suite = registrySuite();

  it("refuses a manifest whose blob is missing with MANIFEST_BLOB_UNKNOWN", async () => {
    const { lab, client, repo } = suite;
    const config = blobOf(Buffer.from("{}"));
    await client.pushBlob(repo, config);
    const missing = blobOf(randomBytes(100)); // never pushed
    const manifest = manifestFor(config, [missing]);
    const error = await rejectsKsail(client.pushManifest(repo, "broken", manifest, OCI_MANIFEST));
    assert.equal(error.code, "MANIFEST_BLOB_UNKNOWN");
    assert.equal(error.kind, "registry");
    assert.match(error.message, new RegExp(lab.registry.replace(/\./g, "\\.")));
    assert.match(error.message, /team\/app/);
    assert.equal(await client.resolve(repo, "broken"), undefined);
  });

  it("pushes a manifest, then resolves (HEAD) and fetches (GET) it with the right digest and type", async () => {
    const { client, repo } = suite;
    const config = blobOf(Buffer.from('{"a":1}'));
    const layer = blobOf(randomBytes(4096));
    await client.pushBlob(repo, config);
    await client.pushBlob(repo, layer);
    const manifest = manifestFor(config, [layer]);
    const digest = await client.pushManifest(repo, "1.0.0", manifest, OCI_MANIFEST);
    assert.equal(digest, sha256Digest(manifest));

    const resolved = await client.resolve(repo, "1.0.0");
    assert.deepEqual(resolved, { digest, mediaType: OCI_MANIFEST, size: manifest.byteLength });

    const byTag = await client.fetchManifest(repo, "1.0.0");
    assert.ok(byTag.bytes.equals(manifest));
    assert.equal(byTag.mediaType, OCI_MANIFEST);
    assert.equal(byTag.digest, digest);

    const byDigest = await client.fetchManifest(repo, digest);
    assert.ok(byDigest.bytes.equals(manifest));

    // pushing by digest works too and returns the same digest
    assert.equal(await client.pushManifest(repo, digest, manifest, OCI_MANIFEST), digest);
    assert.equal(await client.resolve(repo, "9.9.9"), undefined);
    const missing = await rejectsKsail(client.fetchManifest(repo, "9.9.9"));
    assert.equal(missing.kind, "not-found");
    assert.equal(missing.code, "MANIFEST_UNKNOWN");
  });

  it("tagDigest reads a tag's current digest with one HEAD; deleteManifest({ missingOk }) accepts a manifest already gone", async () => {
    const { client, lab } = suite;
    const r = { registry: lab.registry, repository: "cas/app" };
    const config = blobOf(Buffer.from('{"cas":1}'));
    await client.pushBlob(r, config);
    const first = await client.pushManifest(r, "1", manifestFor(config, []), OCI_MANIFEST);
    assert.equal(await client.tagDigest(r, "1"), first);
    assert.equal(await client.tagDigest(r, "2"), undefined);
    // retagging is seen at once (nothing cached)
    const layer = blobOf(randomBytes(10));
    await client.pushBlob(r, layer);
    const second = await client.pushManifest(r, "1", manifestFor(config, [layer]), OCI_MANIFEST);
    assert.notEqual(second, first);
    assert.equal(await client.tagDigest(r, "1"), second);

    assert.equal(await client.deleteManifest(r, second, { missingOk: true }), true);
    // a concurrent prune got there first: success, and says so
    assert.equal(await client.deleteManifest(r, second, { missingOk: true }), false);
    const strict = await rejectsKsail(client.deleteManifest(r, second));
    assert.equal(strict.kind, "not-found");
    assert.equal(await client.tagDigest(r, "1"), undefined);
  });

  it("deletes by digest; the tag then resolves to undefined and GC frees the blob files", async () => {
    const { lab, client } = suite;
    const r = { registry: lab.registry, repository: "to/delete" };
    const config = blobOf(Buffer.from('{"del":1}'));
    const layer = blobOf(randomBytes(3000));
    await client.pushBlob(r, config);
    await client.pushBlob(r, layer);
    const digest = await client.pushManifest(
      r,
      "1.0.0",
      manifestFor(config, [layer]),
      OCI_MANIFEST,
    );
    const layerHex = layer.digest.slice("sha256:".length);
    const before = await walk(lab.storageDir);
    assert.ok(before.some((p) => p.includes(layerHex)));

    const byTag = await rejectsKsail(client.deleteManifest(r, "1.0.0"));
    assert.equal(byTag.kind, "usage");

    await client.deleteManifest(r, digest);
    assert.equal(await client.resolve(r, "1.0.0"), undefined);
    assert.equal(await client.resolve(r, digest), undefined);
    const again = await rejectsKsail(client.deleteManifest(r, digest));
    assert.equal(again.kind, "not-found");

    await lab.garbageCollect({ deleteUntagged: true });
    const afterGc = await walk(lab.storageDir);
    assert.ok(
      !afterGc.some((p) => p.includes(`blobs/sha256/${layerHex.slice(0, 2)}/${layerHex}`)),
      "the layer's blob data should be gone after garbage-collect",
    );
  });
});

describe("RegistryClient: deletes disabled", () => {
  it("explains REGISTRY_STORAGE_DELETE_ENABLED when the registry refuses deletes", async () => {
    const lab = await startRegistry({ deleteEnabled: false });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const r = { registry: lab.registry, repository: "nodelete" };
      const config = blobOf(Buffer.from("{}"));
      await client.pushBlob(r, config);
      const digest = await client.pushManifest(r, "1", manifestFor(config, []), OCI_MANIFEST);
      const error = await rejectsKsail(client.deleteManifest(r, digest));
      assert.equal(error.kind, "registry");
      assert.equal(error.code, "UNSUPPORTED");
      assert.match(`${error.message} ${error.hint}`, /REGISTRY_STORAGE_DELETE_ENABLED=true/);
      assert.ok(await client.resolve(r, "1"), "the manifest must still be there");
    } finally {
      client.close();
      await lab.stop();
    }
  });
});
