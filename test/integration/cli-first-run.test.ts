/**
 * A first-time user's path (issue 11): a fresh clone, `ksail init`, the README's loop, and the
 * mistakes people make on the way. The built CLI as a process; real registries where one is
 * involved.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";

const temps: string[] = [];
async function tempDir(prefix = "ksail-first-run-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

describe("getting started", () => {
  it("bin/ksail.js before a build says to run `npm run build`, without a stack", async () => {
    // A fresh clone: bin/ without dist/ next to it.
    const clone = await tempDir();
    await mkdir(join(clone, "bin"));
    await copyFile(
      fileURLToPath(new URL("../../bin/ksail.js", import.meta.url)),
      join(clone, "bin", "ksail.js"),
    );
    const run = spawnSync(process.execPath, [join(clone, "bin", "ksail.js"), "--help"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /npm run build/);
    assert.doesNotMatch(run.stderr, /ERR_MODULE_NOT_FOUND|at .*\(.*:\d+:\d+\)|node:internal/);
    assert.equal(run.stdout, "");
  });
});
