import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { OCI_MANIFEST, blobOf, manifestFor } from "../../lab/oci-fixtures.js";
import { registrySuite } from "../../lab/oci-suite.js";

describe("tags and catalog (src/oci/tags.ts, src/oci/catalog.ts) against the real distribution registry", () => {
  const suite = registrySuite();

  it("pings the registry", async () => {
    const { lab, client } = suite;
    await client.ping(lab.registry);
  });

  it("lists 60 tags (no Link pagination in 2.8) and [] for a repository that does not exist", async () => {
    const { lab, client } = suite;
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
    const { lab, client } = suite;
    const config = blobOf(Buffer.from('{"cat":1}'));
    const names = ["cat/a", "cat/b", "cat/c", "cat/d", "cat/e"];
    // two more repositories outside cat/: the catalog lists every repository, not one prefix
    for (const name of [...names, "dog/a", "dog/b"]) {
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
    assert.ok(all.includes("dog/a") && all.includes("dog/b"));
    assert.ok(all.length >= names.length + 2);
  });
});
