import { resolveRequestTimeout } from "../../src/config/load.js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { KsailError } from "../../src/errors.js";
import { RegistryClient } from "../../src/oci/client.js";
import type { RegistryEvent } from "../../src/oci/client.js";
import { startFaultProxy } from "../../lab/fault-proxy.js";
import { blobOf, rejectsKsail } from "../../lab/oci-fixtures.js";
import { startRegistry } from "../../lab/registry.js";
import type { LabRegistry } from "../../lab/registry.js";

const noCredentials = async () => undefined;

describe("a stalled registry answer (headers sent, then the body stops)", () => {
  let lab: LabRegistry;
  const blob = blobOf(randomBytes(50_000));
  const repo = { repository: "stall/app" };
  before(async () => {
    lab = await startRegistry();
    const client = new RegistryClient({ credentials: noCredentials });
    await client.pushBlob({ registry: lab.registry, ...repo }, blob);
    client.close();
  });
  after(async () => {
    await lab?.stop();
  });

  it("is re-sent on a fresh connection, even when the wait outlasts the retry budget", async () => {
    // The first connection gets the headers and 2 kB of the blob, then silence.
    const proxy = await startFaultProxy({
      target: lab.registry,
      stallAfterResponseBytes: 2000,
      stallFirst: 1,
    });
    const events: RegistryEvent[] = [];
    const client = new RegistryClient({
      credentials: noCredentials,
      requestTimeoutMs: 1000,
      retry: { totalTimeoutMs: 500 },
      onEvent: (e) => events.push(e),
    });
    try {
      const back = await client.fetchBlob({ registry: proxy.registry, ...repo }, blob.digest);
      assert.ok(back.equals(Buffer.from(blob.data)));
      assert.equal(proxy.stats.stalls, 1);
      assert.ok(events.some((e) => e.type === "retry" && e.reason === "ETIMEDOUT"));
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("that never recovers fails as a timeout (exit 10) naming the limit, --request-timeout and KSAIL_REQUEST_TIMEOUT", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, stallAfterResponseBytes: 2000 });
    // The limit comes from the environment, as the CLI's users set it (resolved by config/load.ts).
    const client = new RegistryClient({
      credentials: noCredentials,
      requestTimeoutMs: resolveRequestTimeout({ KSAIL_REQUEST_TIMEOUT: "1s" }, undefined),
    });
    try {
      const error = await rejectsKsail(
        client.fetchBlob({ registry: proxy.registry, ...repo }, blob.digest),
      );
      assert.equal(error.kind, "timeout");
      assert.match(error.message, /no data for 1s/);
      assert.match(error.message, /after 2 attempts/);
      assert.ok(error.message.includes(proxy.registry));
      assert.match(error.hint ?? "", /--request-timeout/);
      assert.match(error.hint ?? "", /KSAIL_REQUEST_TIMEOUT/);
      assert.equal(proxy.stats.stalls, 2, "one stalled attempt and one re-send");
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it("KSAIL_REQUEST_TIMEOUT that is not a duration is a config error (exit 8)", () => {
    assert.throws(
      () => resolveRequestTimeout({ KSAIL_REQUEST_TIMEOUT: "soon" }, undefined),
      (error: unknown) =>
        error instanceof KsailError &&
        error.kind === "config" &&
        /KSAIL_REQUEST_TIMEOUT="soon"/.test(error.message),
    );
  });
});
