import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { startHostileRegistry } from "../../lab/hostile-server.js";
import type { HostileRegistryOptions } from "../../lab/hostile-server.js";
import { rejectsKsail } from "../../lab/oci-fixtures.js";

const MiB = 1024 * 1024;
/** Enough that reading it all would show: the bound under test is 100 MiB of RSS. */
const OVERSIZED = 512 * MiB;

/** Runs `op` while sampling RSS; returns its outcome and the peak RSS growth in MiB. */
async function peakRssGrowth<T>(op: () => Promise<T>): Promise<{ result: T; growthMiB: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const result = await op();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growthMiB: (peak - base) / MiB };
  } finally {
    clearInterval(timer);
  }
}

async function against(
  options: HostileRegistryOptions,
  op: (client: RegistryClient, registry: string) => Promise<unknown>,
) {
  const server = await startHostileRegistry({ bytes: OVERSIZED, ...options });
  const client = new RegistryClient({ credentials: async () => undefined });
  try {
    const { result: error, growthMiB } = await peakRssGrowth(() =>
      rejectsKsail(op(client, server.registry)),
    );
    return { error, growthMiB, sent: server.stats.bodyBytes, registry: server.registry };
  } finally {
    client.close();
    await server.stop();
  }
}

const repo = (registry: string) => ({ registry, repository: "evil/app" });

describe("bounded reads from a hostile registry (exit 9, memory stays flat)", () => {
  it("a manifest streaming without end is cut off at 4 MiB", async () => {
    const { error, growthMiB, registry } = await against({ oversized: "manifest" }, (c, r) =>
      c.fetchManifest(repo(r), "1.0.0"),
    );
    assert.equal(error.kind, "registry");
    assert.equal(error.code, "SIZE_EXCEEDED");
    assert.ok(error.message.includes(registry) && error.message.includes("evil/app"));
    assert.match(error.message, /manifest 1\.0\.0/);
    assert.match(error.message, /4 MiB/);
    assert.ok(growthMiB < 100, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
  });

  it("a manifest announced as 512 MiB is refused before its body is read", async () => {
    const { error, growthMiB } = await against(
      { oversized: "manifest", declareLength: true },
      (c, r) => c.fetchManifest(repo(r), "1.0.0"),
    );
    assert.equal(error.code, "SIZE_EXCEEDED");
    assert.match(error.message, /512\.0 MiB \(announced\)/);
    assert.ok(growthMiB < 100, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
  });

  it("a blob longer than the size its descriptor declares is cut off at that size", async () => {
    const digest = sha256Digest(Buffer.from("the real 1000-byte blob"));
    const { error, growthMiB } = await against({ oversized: "blob" }, (c, r) =>
      c.fetchBlob(repo(r), digest, { size: 1000 }),
    );
    assert.equal(error.kind, "registry");
    assert.equal(error.code, "SIZE_EXCEEDED");
    assert.ok(error.message.includes(digest));
    assert.match(error.message, /declares blob .* as 1000 bytes/);
    assert.ok(growthMiB < 100, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
  });

  it("a tag list without end is refused (page bounded)", async () => {
    const { error, growthMiB } = await against({ oversized: "tags" }, (c, r) =>
      c.listTags(repo(r)),
    );
    assert.equal(error.kind, "registry");
    assert.equal(error.code, "SIZE_EXCEEDED");
    assert.match(error.message, /list tags in repository evil\/app/);
    assert.ok(growthMiB < 100, `RSS grew by ${growthMiB.toFixed(0)} MiB`);
  });
});
