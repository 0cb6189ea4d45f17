/**
 * `ksail registry ...` end to end against a real Docker Engine: the scenarios of
 * registry-cli-scenarios.ts (registry-cli-podman.test.ts runs them against Podman), and no engine.
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { describe, test } from "node:test";
import { startDockerEngine } from "../../lab/docker.js";
import { runKsail } from "../../lab/ksail.js";
import { registryCliScenarios } from "./registry-cli-scenarios.js";

registryCliScenarios("Docker Engine", startDockerEngine);

describe("ksail registry (CLI) without an engine", () => {
  test("no engine: one clear sentence, exit 4, within 5 s", async () => {
    const run = await runKsail(["registry", "status"], {
      cwd: tmpdir(),
      env: { DOCKER_HOST: "unix:///tmp/ksail-nothing-here/d.sock" },
    });
    assert.equal(run.code, 4);
    assert.ok(run.ms < 5000, `${run.ms} ms`);
    assert.match(
      run.stderr,
      /^error: cannot reach the container engine at unix:\/\/\/tmp\/ksail-nothing-here\/d\.sock \(from DOCKER_HOST\): no such socket/m,
    );
    assert.doesNotMatch(run.stderr, /at .*\.js:\d+/, "no stack trace");
  });
});
