import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import type { RegistryEvent } from "../../src/oci/client.js";
import { blobOf } from "../../lab/oci-fixtures.js";
import { registrySuite } from "../../lab/oci-suite.js";

const noCredentials = async () => undefined;

describe("blob upload (src/oci/upload.ts) against the real distribution registry", () => {
  const events: RegistryEvent[] = [];
  const suite = registrySuite({ onEvent: (e) => events.push(e) });

  it("pushes a small blob monolithically, fetches it byte for byte, then reports it exists", async () => {
    const { client, repo } = suite;
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
    const { repo } = suite;
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
    const { lab, client, repo } = suite;
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
});
