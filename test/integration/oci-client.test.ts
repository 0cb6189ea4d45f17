import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import type { RegistryEvent } from "../../src/oci/client.js";
import { sha256Digest } from "../../src/oci/digest.js";
import type { RepositoryRef } from "../../src/oci/reference.js";
import { OCI_MANIFEST, blobOf, manifestFor, rejectsKsail } from "../lab/oci-fixtures.js";
import { startRegistry } from "../lab/registry.js";
import type { LabRegistry } from "../lab/registry.js";

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

describe("RegistryClient against the real distribution registry", () => {
  let lab: LabRegistry;
  let client: RegistryClient;
  const events: RegistryEvent[] = [];
  let repo: RepositoryRef;

  before(async () => {
    lab = await startRegistry();
    client = new RegistryClient({ credentials: noCredentials, onEvent: (e) => events.push(e) });
    repo = { registry: lab.registry, repository: "team/app" };
  });
  after(async () => {
    client?.close();
    await lab?.stop();
  });

  it("pings the registry", async () => {
    await client.ping(lab.registry);
  });

  it("pushes a small blob monolithically, fetches it byte for byte, then reports it exists", async () => {
    const blob = blobOf(randomBytes(1000));
    events.length = 0;
    assert.equal(await client.blobExists(repo, blob.digest), false);
    assert.equal(await client.pushBlob(repo, blob), "uploaded");
    assert.equal(await client.blobExists(repo, blob.digest), true);
    const back = await client.fetchBlob(repo, blob.digest);
    assert.ok(back.equals(Buffer.from(blob.data)));
    assert.equal(await client.pushBlob(repo, blob), "exists");
    assert.deepEqual(
      events.filter((e) => e.type === "blob").map((e) => (e.type === "blob" ? e.result : "")),
      ["uploaded", "exists"],
    );
  });

  it("pushes a large blob in PATCH chunks (small chunkSize) and fetches it back exactly", async () => {
    const chunked = new RegistryClient({
      credentials: noCredentials,
      monolithicThreshold: 1024,
      chunkSize: 64 * 1024,
    });
    try {
      const blob = blobOf(randomBytes(300 * 1024 + 17));
      assert.equal(await chunked.pushBlob(repo, blob), "uploaded");
      const back = await chunked.fetchBlob(repo, blob.digest);
      assert.equal(back.byteLength, blob.size);
      assert.ok(back.equals(Buffer.from(blob.data)));
    } finally {
      chunked.close();
    }
  });

  it("mounts a blob from another repository", async () => {
    const blob = blobOf(randomBytes(2048));
    const other = { registry: lab.registry, repository: "team/other" };
    assert.equal(await client.pushBlob(repo, blob), "uploaded");
    assert.equal(await client.pushBlob(other, blob, { mountFrom: repo.repository }), "mounted");
    assert.equal(await client.blobExists(other, blob.digest), true);
    // mounting from a repository that lacks the blob falls back to an upload
    const fresh = blobOf(randomBytes(512));
    assert.equal(
      await client.pushBlob(other, fresh, { mountFrom: "team/nothing-here" }),
      "uploaded",
    );
  });

  it("refuses a manifest whose blob is missing with MANIFEST_BLOB_UNKNOWN", async () => {
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

  it("lists 60 tags (no Link pagination in 2.8) and [] for a repository that does not exist", async () => {
    const r = { registry: lab.registry, repository: "many/tags" };
    const config = blobOf(Buffer.from('{"many":true}'));
    const layer = blobOf(randomBytes(64));
    await client.pushBlob(r, config);
    await client.pushBlob(r, layer);
    const manifest = manifestFor(config, [layer]);
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) expected.push(`1.0.${i}`);
    for (const tag of expected) await client.pushManifest(r, tag, manifest, OCI_MANIFEST);
    const tags = await client.listTags(r);
    assert.equal(tags.length, 60);
    assert.deepEqual([...tags].sort(), [...expected].sort());
    // with a page size: a registry that paginates sends Link; 2.8 ignores n and sends all
    assert.deepEqual((await client.listTags(r, { pageSize: 7 })).sort(), [...expected].sort());
    assert.deepEqual(
      await client.listTags({ registry: lab.registry, repository: "no/such/repo" }),
      [],
    );
  });

  it("follows Link pagination of the catalog", async () => {
    const config = blobOf(Buffer.from('{"cat":1}'));
    const names = ["cat/a", "cat/b", "cat/c", "cat/d", "cat/e"];
    for (const name of names) {
      const r = { registry: lab.registry, repository: name };
      await client.pushBlob(r, config);
      await client.pushManifest(r, "v1", manifestFor(config, []), OCI_MANIFEST);
    }
    // the registry really paginates when asked: a first page of 2 carries a Link to the next
    const raw = await fetch(`${lab.url}/v2/_catalog?n=2`);
    assert.equal(((await raw.json()) as { repositories: string[] }).repositories.length, 2);
    assert.match(raw.headers.get("link") ?? "", /rel="next"/);
    const all = await client.catalog(lab.registry);
    const paged = await client.catalog(lab.registry, { pageSize: 2 });
    for (const name of names)
      assert.ok(paged.includes(name), `${name} missing from ${paged.join(",")}`);
    assert.deepEqual([...paged].sort(), [...all].sort());
    assert.ok(all.length >= names.length + 2);
  });

  it("deletes by digest; the tag then resolves to undefined and GC frees the blob files", async () => {
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

  it("fetching a blob that does not exist is not-found", async () => {
    const error = await rejectsKsail(client.fetchBlob(repo, sha256Digest(Buffer.from("nope"))));
    assert.equal(error.kind, "not-found");
    assert.equal(error.code, "BLOB_UNKNOWN");
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

describe("RegistryClient: scheme selection", () => {
  it("a loopback registry serving HTTPS (self-signed) is reached after the plain-HTTP try fails", async () => {
    const lab = await startRegistry({ tls: true });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      assert.match(lab.url, /^https:/);
      await client.ping(lab.registry);
      const r = { registry: lab.registry, repository: "tls/app" };
      const blob = blobOf(randomBytes(100));
      assert.equal(await client.pushBlob(r, blob), "uploaded");
      assert.ok((await client.fetchBlob(r, blob.digest)).equals(Buffer.from(blob.data)));
    } finally {
      client.close();
      await lab.stop();
    }
  });

  it("a non-loopback address uses HTTPS only, unless listed in insecureRegistries", async () => {
    // On Linux, connecting to 0.0.0.0 reaches this host, but 0.0.0.0 is not a loopback *name*:
    // it stands in for a remote plain-HTTP registry.
    const lab = await startRegistry();
    const address = lab.registry.replace("127.0.0.1", "0.0.0.0");
    const strict = new RegistryClient({ credentials: noCredentials });
    const lenient = new RegistryClient({
      credentials: noCredentials,
      insecureRegistries: [address],
    });
    try {
      const error = await rejectsKsail(strict.ping(address));
      assert.equal(error.kind, "unreachable");
      assert.match(error.message, /TLS/);
      assert.ok(error.message.includes(address));
      assert.match(error.hint ?? "", /insecure/);
      await lenient.ping(address);
      const r = { registry: address, repository: "insecure/app" };
      assert.equal(await lenient.pushBlob(r, blobOf(randomBytes(10))), "uploaded");
    } finally {
      strict.close();
      lenient.close();
      await lab.stop();
    }
  });
});
