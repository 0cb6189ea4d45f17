import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256Digest } from "../../src/oci/digest.js";
import { rejectsKsail } from "../../lab/oci-fixtures.js";
import { registrySuite } from "../../lab/oci-suite.js";

describe("blob reads (src/oci/blobs.ts) against the real distribution registry", () => {
  const suite = registrySuite();

  it("fetching a blob that does not exist is not-found", async () => {
    const { client, repo } = suite;
    const error = await rejectsKsail(client.fetchBlob(repo, sha256Digest(Buffer.from("nope"))));
    assert.equal(error.kind, "not-found");
    assert.equal(error.code, "BLOB_UNKNOWN");
  });
});
