/**
 * The OCI defences as a user meets them through the built CLI (a real process, real exit
 * codes): credentials in the registry URL, a web server at the registry address, a registry
 * that stalls (KSAIL_REQUEST_TIMEOUT).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFaultProxy } from "../../lab/fault-proxy.js";
import { startPlainWebServer } from "../../lab/hostile-server.js";
import { runKsail } from "../../lab/ksail.js";
import { startRegistry } from "../../lab/registry.js";
import type { LabRegistry } from "../../lab/registry.js";

describe("ksail workload against unsafe registry addresses", () => {
  let dir: string;
  let lab: LabRegistry;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-oci-cli-"));
    await writeFile(
      join(dir, "cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n",
    );
    lab = await startRegistry();
  });
  after(async () => {
    await lab?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a password in the registry URL is refused (exit 2), never printed, with a docker login hint", async () => {
    for (const args of [
      ["workload", "push", "--path", "."],
      ["workload", "versions"],
    ]) {
      const run = await runKsail(
        [...args, "--registry", `oci://alice:s3cretPW@${lab.registry}/team/app`],
        { cwd: dir },
      );
      const out = run.stdout + run.stderr;
      assert.equal(run.code, 2, out);
      assert.ok(!out.includes("s3cretPW"), out);
      assert.ok(!out.includes("alice"), out);
      assert.ok(out.includes(`oci://***@${lab.registry}/team/app`), out);
      assert.match(out, /docker login/);
      assert.doesNotMatch(out, /digest/);
    }
  });

  it("a plain web server is 'not an OCI registry' (exit 9), not 'no versions' (exit 0)", async () => {
    const web = await startPlainWebServer();
    try {
      const run = await runKsail(
        ["workload", "versions", "--registry", `oci://${web.registry}/app`],
        {
          cwd: dir,
        },
      );
      assert.equal(run.code, 9, run.stdout + run.stderr);
      assert.match(run.stderr, /is not an OCI registry/);
    } finally {
      await web.stop();
    }
  });

  it("a stalled registry fails after KSAIL_REQUEST_TIMEOUT without data (exit 10), naming both ways to raise it", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, stallAfterResponseBytes: 50 });
    try {
      const run = await runKsail(
        ["workload", "versions", "--registry", `oci://${proxy.registry}/app`],
        { cwd: dir, env: { KSAIL_REQUEST_TIMEOUT: "1s" } },
      );
      assert.equal(run.code, 10, run.stdout + run.stderr);
      assert.match(run.stderr, /no data for 1s/);
      assert.match(run.stderr, /--request-timeout/);
      assert.match(run.stderr, /KSAIL_REQUEST_TIMEOUT/);
    } finally {
      await proxy.stop();
    }
  });

  it("--request-timeout sets the same limit as KSAIL_REQUEST_TIMEOUT, and a bad value is a usage error (exit 2)", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, stallAfterResponseBytes: 50 });
    try {
      const run = await runKsail(
        [
          "workload",
          "versions",
          "--registry",
          `oci://${proxy.registry}/app`,
          "--request-timeout",
          "1s",
        ],
        { cwd: dir, env: { KSAIL_REQUEST_TIMEOUT: "5m" } },
      );
      assert.equal(run.code, 10, run.stdout + run.stderr);
      assert.match(run.stderr, /no data for 1s/);
    } finally {
      await proxy.stop();
    }
    const bad = await runKsail(
      [
        "workload",
        "versions",
        "--registry",
        `oci://${lab.registry}/app`,
        "--request-timeout",
        "soon",
      ],
      { cwd: dir },
    );
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /--request-timeout must be a duration/);
  });
});
