import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { blobOf, rejectsKsail } from "../../lab/oci-fixtures.js";
import { startRegistry } from "../../lab/registry.js";

const noCredentials = async () => undefined;

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
