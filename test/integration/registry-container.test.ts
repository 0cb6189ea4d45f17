/**
 * The local registry container against a real Docker Engine (our own dockerd unless
 * KSAIL_TEST_DOCKER_HOST is set): the scenarios of registry-container-scenarios.ts, which
 * registry-container-podman.test.ts runs against Podman; and an engine that is not running.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connectEngine } from "../../src/engine/docker.js";
import { KsailError } from "../../src/errors.js";
import { garbageCollectContainer } from "../../src/registry/garbage-collect.js";
import { resolveRuntime } from "../../src/config/load.js";
import { freeTcpPort, startDockerEngine } from "../../lab/docker.js";
import { registryContainerScenarios } from "./registry-container-scenarios.js";

/** ksail's cache directory as the CLI resolves it here (the registry maintenance lock lives there). */
const { cacheDir } = resolveRuntime(process.env);

registryContainerScenarios("Docker Engine", startDockerEngine);

async function rejectsWith(promise: Promise<unknown>, kind: string, pattern: RegExp) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KsailError, `expected KsailError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail("expected a rejection");
}

describe("no container engine", () => {
  test("an engine that is not running is a clear error within 5 s", async () => {
    for (const host of [
      "unix:///tmp/ksail-no-such-dir/d.sock",
      `tcp://127.0.0.1:${await freeTcpPort()}`,
    ]) {
      const started = Date.now();
      const error = await rejectsWith(
        connectEngine({ DOCKER_HOST: host }),
        "unreachable",
        /cannot reach the container engine/,
      );
      assert.ok(Date.now() - started < 5000);
      assert.match(error.message, new RegExp(host.replace(/[/.]/g, "\\$&")));
      await rejectsWith(
        garbageCollectContainer("ksail-registry", { DOCKER_HOST: host }, cacheDir),
        "unreachable",
        /is Docker or Podman running/,
      );
    }
  });
});
