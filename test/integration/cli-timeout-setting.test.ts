/**
 * The `timeout` setting (config/settings.ts: `--timeout`, `KSAIL_TIMEOUT`,
 * spec.connection.timeout, 5m), with the built CLI as a process: `flux install` and `up` take it
 * as their wait for Flux, and the flag wins over the environment, which wins over ksail.yaml.
 * Which source was read shows in what fails: a bad value is reported naming where it came from
 * (flag: exit 2; KSAIL_TIMEOUT or ksail.yaml: exit 8); one that a higher source overrides is
 * never looked at, and the command goes on to the cluster — here a closed port (exit 4).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { freePort } from "../../lab/free-port.js";
import { runKsail } from "../../lab/ksail.js";

describe("--timeout / KSAIL_TIMEOUT / spec.connection.timeout", () => {
  let dir: string;
  const ksail = (args: string[], env: NodeJS.ProcessEnv = {}) => runKsail(args, { cwd: dir, env });
  const install = ["flux", "install", "--kubeconfig", "kubeconfig", "--manifests", "flux.yaml"];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-timeout-"));
    // A cluster that is not there: nothing listens on this port.
    const server = `https://127.0.0.1:${await freePort()}`;
    await writeFile(
      join(dir, "kubeconfig"),
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "gone", cluster: { server } }],
        contexts: [{ name: "gone", context: { cluster: "gone", user: "gone" } }],
        users: [{ name: "gone", user: { token: "t" } }],
        "current-context": "gone",
      }),
    );
    await writeFile(
      join(dir, "flux.yaml"),
      stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } }),
    );
    await writeFile(
      join(dir, "ksail.yaml"),
      stringify({
        apiVersion: "ksail.dev/v1alpha1",
        kind: "Cluster",
        metadata: { name: "timeout" },
        spec: { connection: { timeout: "soon" } },
      }),
    );
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a bad ksail.yaml value is a config error naming its line", async () => {
    const run = await ksail(install);
    assert.equal(run.code, 8, run.stderr);
    assert.match(run.stderr, /ksail\.yaml:\d+:\d+: spec\.connection\.timeout: must be a duration/);
  });

  it("KSAIL_TIMEOUT wins over ksail.yaml", async () => {
    const run = await ksail(install, { KSAIL_TIMEOUT: "1m" });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /cannot reach the Kubernetes API server/);
  });

  it("a bad KSAIL_TIMEOUT is a config error naming the variable", async () => {
    for (const args of [install, ["up"]]) {
      const run = await ksail(args, { KSAIL_TIMEOUT: "bad" });
      assert.equal(run.code, 8, `${args.join(" ")}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /environment variable KSAIL_TIMEOUT \(spec\.connection\.timeout\): must be a duration/,
      );
    }
  });

  it("--timeout wins over KSAIL_TIMEOUT", async () => {
    const run = await ksail([...install, "--timeout", "1m"], { KSAIL_TIMEOUT: "bad" });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /cannot reach the Kubernetes API server/);
  });

  it("a bad --timeout is a usage error naming the flag", async () => {
    for (const args of [install, ["up"]]) {
      const run = await ksail([...args, "--timeout", "never"], { KSAIL_TIMEOUT: "1m" });
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /flag --timeout \(spec\.connection\.timeout\): must be a duration/);
    }
  });
});
