/**
 * ksail's cache directory is a setting like the others (settings.ts cacheHome, resolved by
 * load.ts resolveRuntime): the services that keep files there (the registry maintenance lock,
 * the push session's cache, locks and temporary files) take it as a value and never read
 * process.env themselves, which eslint.config.js enforces for all of src/.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ESLint } from "eslint";
import { resolveRuntime } from "../../src/config/load.js";
import { makeTemporaryDirectory } from "../../src/artifact/temporary.js";
import { silentProgress } from "../../src/progress.js";
import { withMaintenanceLock } from "../../src/registry/maintenance.js";
import { openPushSession } from "../../src/workload/push-session.js";

describe("ksail's cache directory", () => {
  let root: string;
  let savedXdg: string | undefined;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "ksail-cache-dir-test-"));
    // A decoy: a service that still read $XDG_CACHE_HOME would put its files here.
    savedXdg = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(root, "decoy");
  });
  after(async () => {
    if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedXdg;
    await rm(root, { recursive: true, force: true });
  });

  it("resolves from $XDG_CACHE_HOME, else ~/.cache, as <dir>/ksail", () => {
    assert.equal(
      resolveRuntime({ XDG_CACHE_HOME: "/var/cache/me" }).cacheDir,
      "/var/cache/me/ksail",
    );
    assert.equal(resolveRuntime({}).cacheDir, join(homedir(), ".cache", "ksail"));
    assert.equal(
      resolveRuntime({ XDG_CACHE_HOME: "" }).cacheDir,
      join(homedir(), ".cache", "ksail"),
    );
  });

  it("holds the registry maintenance lock in the given directory, not in $XDG_CACHE_HOME's", async () => {
    const cacheDir = join(root, "given");
    const lock = join(cacheDir, "locks", "registry-maintenance-ksail-registry.lock");
    const seen = await withMaintenanceLock("ksail-registry", async () => existsSync(lock), {
      cacheDir,
    });
    assert.equal(seen, true, `the lock file ${lock} exists while the lock is held`);
    assert.equal(existsSync(join(root, "decoy")), false, "nothing under $XDG_CACHE_HOME");
  });

  it("opens the push session's cache and temporary files in the given directory", async () => {
    const cacheDir = join(root, "session");
    const session = await openPushSession(cacheDir, silentProgress);
    assert.equal(session.temporaryDirectory, join(cacheDir, "tmp"));
    await session.exclusive("127.0.0.1:5000/app", async () => {
      assert.equal((await readdir(join(cacheDir, "locks"))).length, 1);
    });
    assert.equal(existsSync(join(root, "decoy")), false, "nothing under $XDG_CACHE_HOME");
  });

  it("puts a temporary directory made outside a push session in the system's one", async () => {
    const { dir, remove } = await makeTemporaryDirectory("ksail-layer-");
    try {
      assert.equal(join(dir, ".."), tmpdir());
    } finally {
      await remove();
    }
    assert.equal(existsSync(dir), false);
  });
});

describe("eslint keeps process.env out of the services", () => {
  const eslint = new ESLint();
  const restricted = async (file: string): Promise<boolean> => {
    const config = (await eslint.calculateConfigForFile(file)) as {
      rules?: Record<string, unknown>;
    };
    const rule = config.rules?.["no-restricted-properties"];
    return (
      Array.isArray(rule) &&
      rule.slice(1).some((entry: { object?: string; property?: string }) => {
        return entry.object === "process" && entry.property === "env";
      })
    );
  };

  it("forbids it in every service and handler", async () => {
    for (const file of [
      "src/util/bounded-read.ts",
      "src/artifact/temporary.ts",
      "src/registry/maintenance.ts",
      "src/workload/push-session.ts",
      "src/cli/handlers/registry/gc.ts",
      "src/a-new-folder/service.ts",
    ]) {
      assert.equal(await restricted(file), true, `${file} may not read process.env`);
    }
  });

  it("allows it only where the CLI takes the environment", async () => {
    for (const file of [
      "src/cli/main.ts",
      "src/config/load.ts",
      "src/artifact/source-metadata.ts",
    ]) {
      assert.equal(await restricted(file), false, `${file} may read process.env`);
    }
  });
});
