import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import type { RegistryEvent } from "../../src/oci/client.js";
import { startFaultProxy, startHttpFaultProxy } from "../../lab/fault-proxy.js";
import { freePort } from "../../lab/free-port.js";
import { OCI_MANIFEST, blobOf, manifestFor, rejectsKsail } from "../../lab/oci-fixtures.js";
import { startRegistry } from "../../lab/registry.js";
import type { LabRegistry } from "../../lab/registry.js";

const noCredentials = async () => undefined;

/** Push config + layer + manifest, the way the artifact pipeline does. */
async function pushArtifact(
  client: RegistryClient,
  registry: string,
  repository: string,
  tag: string,
  layerSize: number,
) {
  const repo = { registry, repository };
  const config = blobOf(Buffer.from(JSON.stringify({ tag })));
  const layer = blobOf(randomBytes(layerSize));
  await client.pushBlob(repo, config);
  await client.pushBlob(repo, layer);
  const manifest = manifestFor(config, [layer]);
  const digest = await client.pushManifest(repo, tag, manifest, OCI_MANIFEST);
  return { repo, layer, digest };
}

describe("RegistryClient behind a fault-injecting proxy", () => {
  let lab: LabRegistry;
  before(async () => {
    lab = await startRegistry();
  });
  after(async () => {
    await lab?.stop();
  });

  it("pushes through resets of the first connections and of every 3rd connection", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, resetFirst: 2, resetEvery: 3 });
    const events: RegistryEvent[] = [];
    const client = new RegistryClient({
      credentials: noCredentials,
      onEvent: (e) => events.push(e),
    });
    try {
      const { repo, layer, digest } = await pushArtifact(
        client,
        proxy.registry,
        "flaky/app",
        "1.0.0",
        10_000,
      );
      assert.ok(proxy.stats.resets >= 2, `expected resets, saw ${proxy.stats.resets}`);
      assert.ok(
        events.some((e) => e.type === "retry"),
        "retries should have been reported",
      );
      const back = await client.fetchBlob(
        { registry: lab.registry, repository: repo.repository },
        layer.digest,
      );
      assert.ok(back.equals(Buffer.from(layer.data)));
      assert.equal(
        (await client.resolve({ ...repo, registry: lab.registry }, "1.0.0"))?.digest,
        digest,
      );
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("resumes chunked uploads when every connection is reset after 100 kB", async () => {
    const proxy = await startFaultProxy({
      target: lab.registry,
      resetEvery: 1,
      resetAfterBytes: 100_000,
    });
    const events: RegistryEvent[] = [];
    const client = new RegistryClient({
      credentials: noCredentials,
      monolithicThreshold: 16 * 1024,
      chunkSize: 32 * 1024,
      onEvent: (e) => events.push(e),
    });
    try {
      const repo = { registry: proxy.registry, repository: "flaky/chunks" };
      const layer = blobOf(randomBytes(300_000));
      assert.equal(await client.pushBlob(repo, layer), "uploaded");
      assert.ok(proxy.stats.resets >= 2, `expected resets, saw ${proxy.stats.resets}`);
      assert.ok(events.some((e) => e.type === "retry" && /resuming/.test(e.reason)));
      // resumed, not restarted from zero: little more than the blob went through the proxy
      assert.ok(
        proxy.stats.forwardedBytes < layer.size * 1.5,
        `${proxy.stats.forwardedBytes} bytes sent`,
      );
      const back = await client.fetchBlob({ ...repo, registry: lab.registry }, layer.digest);
      assert.ok(back.equals(Buffer.from(layer.data)), "blob content must survive resumed uploads");
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("pushes whole artifacts under seeded random resets (at accept and mid-stream)", async () => {
    const proxy = await startFaultProxy({
      target: lab.registry,
      resetProbability: 0.5,
      resetAfterBytes: 3_000,
      seed: 7,
    });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      for (let i = 0; i < 5; i++) {
        const { repo, layer, digest } = await pushArtifact(
          client,
          proxy.registry,
          "flaky/random",
          `1.0.${i}`,
          8_000,
        );
        const direct = { ...repo, registry: lab.registry };
        assert.equal((await client.resolve(direct, `1.0.${i}`))?.digest, digest);
        assert.ok((await client.fetchBlob(direct, layer.digest)).equals(Buffer.from(layer.data)));
        client.close(); // drop pooled connections so the next round opens (and risks) new ones
      }
      assert.ok(proxy.stats.resets >= 1, `expected some resets, saw ${proxy.stats.resets}`);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("fails in < 5 s with an 'unreachable' error naming the address during a total outage", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, outage: true });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const started = Date.now();
      const error = await rejectsKsail(
        pushArtifact(client, proxy.registry, "outage/app", "1.0.0", 1000),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 5000, `took ${elapsed} ms`);
      assert.equal(error.kind, "unreachable");
      assert.ok(error.message.includes(proxy.registry), error.message);
      assert.match(error.message, /is the registry running\?/);
      assert.ok(proxy.stats.connections >= 2, "it should have retried");
      assert.equal(
        await client.resolve({ registry: lab.registry, repository: "outage/app" }, "1.0.0"),
        undefined,
      );
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("a hanging registry ends with a timeout error (short requestTimeoutMs)", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, hang: true });
    const client = new RegistryClient({
      credentials: noCredentials,
      requestTimeoutMs: 300,
      retry: { maxAttempts: 2, totalTimeoutMs: 2000 },
    });
    try {
      const started = Date.now();
      const error = await rejectsKsail(client.ping(proxy.registry));
      assert.equal(error.kind, "timeout");
      assert.ok(error.message.includes(proxy.registry));
      assert.ok(Date.now() - started < 3000);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("latency alone does not break a push", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, latencyMs: 20 });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const { repo, digest } = await pushArtifact(
        client,
        proxy.registry,
        "slow/app",
        "1.0.0",
        5000,
      );
      assert.equal((await client.resolve(repo, "1.0.0"))?.digest, digest);
    } finally {
      client.close();
      await proxy.stop();
    }
  });
});

describe("RegistryClient with no registry at all", () => {
  it("a stopped registry fails in < 5 s as 'unreachable', naming host:port", async () => {
    const lab = await startRegistry();
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      await client.ping(lab.registry);
      await lab.stop();
      const started = Date.now();
      const error = await rejectsKsail(
        pushArtifact(client, lab.registry, "gone/app", "1.0.0", 100),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 5000, `took ${elapsed} ms`);
      assert.equal(error.kind, "unreachable");
      assert.equal(error.code, "ECONNREFUSED");
      assert.ok(error.message.includes(lab.registry), error.message);
      assert.match(error.message, /is the registry running\?/);
    } finally {
      client.close();
    }
  });

  it("a port where nothing ever listened fails the same way", async () => {
    const port = await freePort();
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const started = Date.now();
      const error = await rejectsKsail(client.ping(`127.0.0.1:${port}`));
      assert.ok(Date.now() - started < 5000);
      assert.equal(error.kind, "unreachable");
      assert.ok(error.message.includes(`127.0.0.1:${port}`));
    } finally {
      client.close();
    }
  });

  it("an unknown host name is 'unreachable' with a DNS explanation and no retries", async () => {
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const started = Date.now();
      const error = await rejectsKsail(client.ping("no-such-host.invalid:5000"));
      assert.equal(error.kind, "unreachable");
      assert.ok(["ENOTFOUND", "EAI_AGAIN"].includes(error.code ?? ""), error.code);
      assert.match(error.message, /no-such-host\.invalid:5000/);
      assert.ok(Date.now() - started < 5000);
    } finally {
      client.close();
    }
  });
});

describe("RegistryClient and HTTP-level faults (5xx, 429 + Retry-After)", () => {
  let lab: LabRegistry;
  before(async () => {
    lab = await startRegistry();
  });
  after(async () => {
    await lab?.stop();
  });

  it("retries 503 answers and still pushes", async () => {
    const proxy = await startHttpFaultProxy({ target: lab.registry, failFirst: 3, status: 503 });
    const events: RegistryEvent[] = [];
    const client = new RegistryClient({
      credentials: noCredentials,
      onEvent: (e) => events.push(e),
    });
    try {
      const { repo, digest } = await pushArtifact(
        client,
        proxy.registry,
        "http/503",
        "1.0.0",
        1000,
      );
      assert.equal(
        (await client.resolve({ ...repo, registry: lab.registry }, "1.0.0"))?.digest,
        digest,
      );
      assert.equal(proxy.log.filter((l) => l.endsWith(" 503")).length, 3);
      assert.equal(events.filter((e) => e.type === "retry" && e.reason === "HTTP 503").length, 3);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("honours Retry-After seconds on 429", async () => {
    const proxy = await startHttpFaultProxy({
      target: lab.registry,
      failFirst: 1,
      status: 429,
      retryAfter: "1",
    });
    const events: RegistryEvent[] = [];
    const client = new RegistryClient({
      credentials: noCredentials,
      onEvent: (e) => events.push(e),
    });
    try {
      const started = Date.now();
      await client.ping(proxy.registry);
      assert.ok(Date.now() - started >= 950, "it must wait the second the registry asked for");
      const retry = events.find((e) => e.type === "retry");
      assert.equal(retry?.type === "retry" ? retry.delayMs : -1, 1000);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("a Retry-After beyond the retry budget fails at once with TOOMANYREQUESTS", async () => {
    const proxy = await startHttpFaultProxy({
      target: lab.registry,
      failFirst: 100,
      status: 429,
      retryAfter: "60",
    });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const started = Date.now();
      const error = await rejectsKsail(client.ping(proxy.registry));
      assert.ok(Date.now() - started < 1000);
      assert.equal(error.code, "TOOMANYREQUESTS");
      assert.match(error.message, /wait 60 s/);
      assert.ok(error.message.includes(proxy.registry));
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("persistent 500s end as a 'registry' error after the attempts, inside the time budget", async () => {
    const proxy = await startHttpFaultProxy({ target: lab.registry, failFirst: 100, status: 500 });
    const client = new RegistryClient({ credentials: noCredentials });
    try {
      const started = Date.now();
      const error = await rejectsKsail(client.ping(proxy.registry));
      assert.ok(Date.now() - started < 5000);
      assert.equal(error.kind, "registry");
      assert.match(error.message, /HTTP 500/);
      assert.match(error.message, /after 5 attempts/);
      assert.equal(proxy.log.length, 5);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("chunked upload sends ceil(size / chunkSize) PATCHes (the registry checks each Content-Range), then one PUT", async () => {
    const proxy = await startHttpFaultProxy({ target: lab.registry });
    const client = new RegistryClient({
      credentials: noCredentials,
      monolithicThreshold: 1000,
      chunkSize: 10_000,
    });
    try {
      const repo = { registry: proxy.registry, repository: "http/chunks" };
      const blob = blobOf(randomBytes(45_000));
      assert.equal(await client.pushBlob(repo, blob), "uploaded");
      const methods = proxy.log.map((l) => l.split(" ")[0]);
      assert.deepEqual(methods, [
        "HEAD",
        "POST",
        "PATCH",
        "PATCH",
        "PATCH",
        "PATCH",
        "PATCH",
        "PUT",
      ]);
      assert.ok(proxy.log.at(-1)!.includes(`digest=${encodeURIComponent(blob.digest)}`));
      // a small blob goes up as POST + PUT only
      proxy.log.length = 0;
      const small = blobOf(randomBytes(500));
      await client.pushBlob(repo, small);
      assert.deepEqual(
        proxy.log.map((l) => l.split(" ")[0]),
        ["HEAD", "POST", "PUT"],
      );
    } finally {
      client.close();
      await proxy.stop();
    }
  });
});
