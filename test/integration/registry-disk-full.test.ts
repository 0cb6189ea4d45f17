/**
 * A registry whose disk is full: the push fails with the registry's answer and an actionable
 * sentence, and no tag is left pointing at anything. The storage is a 256 KiB tmpfs (needs root,
 * as CI runs; elsewhere the test fails saying so).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { RegistryClient } from "../../src/oci/client.js";
import { runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const run = promisify(execFile);

describe("registry disk full", () => {
  let work: string;
  let mountPoint: string;
  let lab: LabRegistry | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "ksail-diskfull-"));
    mountPoint = join(work, "storage");
    await mkdir(mountPoint);
    try {
      await run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint]);
    } catch (error) {
      throw new Error(
        `mounting a small tmpfs failed (this test needs root, as CI has): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    lab = await startRegistry({ storageDir: mountPoint });
  });
  after(async () => {
    await lab?.stop();
    await run("umount", [mountPoint]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  it("fails the push with the registry's error and leaves no tag", async () => {
    const src = join(work, "src");
    await mkdir(src);
    // ~900 KB of random hex: gzip shrinks it only to ~490 KB, more than the tmpfs holds.
    for (let i = 0; i < 3; i++) {
      const data = randomBytes(150_000).toString("hex");
      await writeFile(
        join(src, `cm-${i}.yaml`),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  blob: "${data}"\n`,
      );
    }
    const push = await runKsail(
      [
        "workload",
        "push",
        "--registry",
        `oci://${lab!.registry}/full`,
        "--path",
        src,
        "--version",
        "1.0.0",
      ],
      { cwd: work },
    );
    assert.notEqual(push.code, 0, push.stderr);
    assert.equal(push.code, 9, push.stderr);
    assert.ok(push.stderr.includes(lab!.registry), push.stderr);
    assert.match(push.stderr, /storage|space|disk/i);
    assert.deepEqual(
      await new RegistryClient().listTags({ registry: lab!.registry, repository: "full" }),
      [],
    );
  });
});
