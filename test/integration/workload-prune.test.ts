/**
 * `ksail workload prune` (FR-018) against a real distribution registry: exactly the newest N
 * versions stay, latest's target is never deleted, and after garbage collection the deleted
 * versions' blob files are gone from the registry's storage directory.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseFluxManifest } from "../../src/artifact/manifest.js";
import { RegistryClient } from "../../src/oci/client.js";
import { silentProgress } from "../../src/progress.js";
import { pruneWorkload } from "../../src/workload/prune.js";
import { pushWorkload } from "../../src/workload/push.js";
import { json, runKsail } from "../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../lab/registry.js";

describe("workload prune", () => {
  let lab: LabRegistry;
  let work: string;
  const client = new RegistryClient();
  const repository = () => ({ registry: lab.registry, repository: "pruned" });
  const blobFile = (digest: string) =>
    join(
      lab.storageDir,
      "docker/registry/v2/blobs/sha256",
      digest.slice(7, 9),
      digest.slice(7),
      "data",
    );

  before(async () => {
    lab = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "ksail-prune-"));
    for (let i = 1; i <= 5; i++) {
      await writeFile(
        join(work, "cm.yaml"),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "${i}"\n`,
      );
      await pushWorkload({ client }, { repository: repository(), sourceDir: work }, silentProgress);
    }
  });
  after(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function layers(): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    for (const tag of await client.listTags(repository())) {
      result.set(
        tag,
        parseFluxManifest((await client.fetchManifest(repository(), tag)).bytes).layer.digest,
      );
    }
    return result;
  }

  it("--dry-run lists what would go and deletes nothing", async () => {
    const run = await runKsail(
      [
        "workload",
        "prune",
        "--registry",
        `oci://${lab.registry}/pruned`,
        "--keep",
        "2",
        "--dry-run",
        "-o",
        "json",
      ],
      { cwd: work },
    );
    assert.equal(run.code, 0, run.stderr);
    const plan = json<{ deleted: { version: string }[]; dryRun: boolean }>(run);
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.deleted.map((v) => v.version),
      ["0.0.1", "0.0.2", "0.0.3"],
    );
    assert.equal((await client.listTags(repository())).length, 6);
  });

  it("keeps exactly the newest N and latest; garbage collection removes the deleted blobs' files", async () => {
    const before = await layers();
    for (const digest of before.values())
      assert.ok(existsSync(blobFile(digest)), `missing ${blobFile(digest)}`);
    const result = await pruneWorkload(
      { client, garbageCollect: () => lab.garbageCollect({ deleteUntagged: true }) },
      { repository: repository(), keep: 2 },
      silentProgress,
    );
    assert.equal(result.garbageCollection, "ran");
    assert.deepEqual((await client.listTags(repository())).sort(), ["0.0.4", "0.0.5", "latest"]);
    for (const version of ["0.0.1", "0.0.2", "0.0.3"]) {
      assert.equal(
        existsSync(blobFile(before.get(version)!)),
        false,
        `${version}'s layer is still on disk`,
      );
    }
    for (const version of ["0.0.4", "0.0.5"]) {
      assert.ok(existsSync(blobFile(before.get(version)!)), `${version}'s layer was removed`);
      assert.ok(await client.blobExists(repository(), before.get(version)!));
    }
  });

  it("on a registry that is not the project's local one, says its own GC reclaims the space", async () => {
    const run = await runKsail(
      ["workload", "prune", "--registry", `oci://${lab.registry}/pruned`, "--keep", "1"],
      {
        cwd: work,
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /deleted 0\.0\.4/);
    assert.match(run.stdout, /kept {4}0\.0\.5 \(newest\)/);
    assert.match(
      run.stdout,
      /is not ksail's local registry: its own garbage collection reclaims the space/,
    );
    assert.deepEqual((await client.listTags(repository())).sort(), ["0.0.5", "latest"]);
  });
});
