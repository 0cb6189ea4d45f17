import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { startFaultProxy } from "../../lab/fault-proxy.js";
import { startBannerServer, startPlainWebServer } from "../../lab/hostile-server.js";
import type { HostileServer } from "../../lab/hostile-server.js";
import { blobOf, rejectsKsail } from "../../lab/oci-fixtures.js";
import { startRegistry } from "../../lab/registry.js";

const noCredentials = async () => undefined;

describe("a plain web server at the registry address", () => {
  let web: HostileServer;
  let client: RegistryClient;
  before(async () => {
    web = await startPlainWebServer();
    client = new RegistryClient({ credentials: noCredentials });
  });
  after(async () => {
    client?.close();
    await web?.stop();
  });

  it("is not 'a repository without versions': listing tags says it is not an OCI registry (exit 9)", async () => {
    const error = await rejectsKsail(
      client.listTags({ registry: web.registry, repository: "team/app" }),
    );
    assert.equal(error.kind, "registry");
    assert.equal(error.code, "NOT_A_REGISTRY");
    assert.match(error.message, /is not an OCI registry/);
    assert.match(error.message, /GET \/v2\/ answered HTTP 404 \(text\/html/);
    assert.ok(error.message.includes(web.registry));
  });

  it("nor a missing tag: resolve says the same instead of 'not found'", async () => {
    const fresh = new RegistryClient({ credentials: noCredentials });
    try {
      const error = await rejectsKsail(
        fresh.resolve({ registry: web.registry, repository: "team/app" }, "latest"),
      );
      assert.equal(error.code, "NOT_A_REGISTRY");
      assert.equal(error.kind, "registry");
    } finally {
      fresh.close();
    }
  });

  it("and a push to it fails the same way (not 'not found')", async () => {
    const fresh = new RegistryClient({ credentials: noCredentials });
    try {
      const error = await rejectsKsail(
        fresh.pushBlob({ registry: web.registry, repository: "team/app" }, blobOf(randomBytes(10))),
      );
      assert.equal(error.code, "NOT_A_REGISTRY");
    } finally {
      fresh.close();
    }
  });
});

describe("a port that answers with non-HTTP bytes", () => {
  it("is named for what it sent, not given a TLS/insecure hint", async () => {
    const banner = await startBannerServer();
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const error = await rejectsKsail(client.ping(banner.registry));
      assert.equal(error.code, "NOT_A_REGISTRY");
      assert.match(error.message, /not an OCI registry/);
      assert.match(error.message, /SSH-2\.0-OpenSSH_9\.6p1/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /insecure/);
    } finally {
      client.close();
      await banner.stop();
    }
  });
});

describe("uploads whose every connection breaks mid-body", () => {
  it("restart from fresh sessions, then end as a network failure (exit 4), not 'not found (BLOB_UPLOAD_INVALID)'", async () => {
    const lab = await startRegistry();
    // Every connection is reset after 100 kB went up: each 200 kB PATCH dies mid-body, and
    // distribution then refuses the half-written session (404 BLOB_UPLOAD_INVALID).
    const proxy = await startFaultProxy({
      target: lab.registry,
      resetEvery: 1,
      resetAfterBytes: 100_000,
    });
    const client = new RegistryClient({
      credentials: noCredentials,
      monolithicThreshold: 1000,
      chunkSize: 200_000,
    });
    const repo = { registry: proxy.registry, repository: "cut/app" };
    try {
      const blob = blobOf(randomBytes(600_000));
      const error = await rejectsKsail(client.pushBlob(repo, blob));
      assert.equal(error.kind, "unreachable");
      assert.equal(error.code, "ECONNRESET");
      assert.doesNotMatch(error.message, /not found/);
      assert.ok(error.message.includes(proxy.registry));
      // distribution 2.8 drops the half-written session (v3 keeps it and resumes in vain)
      if (/BLOB_UPLOAD_INVALID/.test(error.message)) {
        assert.match(error.message, /connection broke \d+ times mid-transfer/);
      }
      // Nothing half-written became a blob.
      const direct = new RegistryClient({ credentials: noCredentials });
      try {
        assert.equal(
          await direct.blobExists({ registry: lab.registry, repository: "cut/app" }, blob.digest),
          false,
        );
      } finally {
        direct.close();
      }
    } finally {
      client.close();
      await proxy.stop();
      await lab.stop();
    }
  });
});

describe("the API check (GET /v2/) before a 404 is believed", () => {
  /** A registry-like server: 200 for GET /v2/, 404 (MANIFEST_UNKNOWN) for everything else. */
  async function countingServer(versionHeaderOn404: boolean) {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      req.resume();
      seen.push(`${req.method} ${req.url}`);
      const api = { "docker-distribution-api-version": "registry/2.0" };
      if (req.url === "/v2/") {
        res.writeHead(200, { ...api, "content-type": "application/json" });
        res.end("{}");
        return;
      }
      res.writeHead(404, {
        ...(versionHeaderOn404 ? api : {}),
        "content-type": "application/json",
      });
      res.end(req.method === "HEAD" ? undefined : '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
    return { registry, seen, stop };
  }

  it("is left out when the registry's own answers name the distribution API", async () => {
    const server = await countingServer(true);
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const repo = { registry: server.registry, repository: "team/app" };
      assert.equal(await client.resolve(repo, "1.0.0"), undefined);
      assert.equal(await client.resolve(repo, "latest"), undefined);
      assert.deepEqual(server.seen, [
        "HEAD /v2/team/app/manifests/1.0.0",
        "HEAD /v2/team/app/manifests/latest",
      ]);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it("is made once when they do not", async () => {
    const server = await countingServer(false);
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const repo = { registry: server.registry, repository: "team/app" };
      assert.equal(await client.resolve(repo, "1.0.0"), undefined);
      assert.equal(await client.resolve(repo, "latest"), undefined);
      assert.deepEqual(server.seen, [
        "HEAD /v2/team/app/manifests/1.0.0",
        "GET /v2/",
        "HEAD /v2/team/app/manifests/latest",
      ]);
    } finally {
      client.close();
      await server.stop();
    }
  });
});
