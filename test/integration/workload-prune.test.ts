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
import type { Progress } from "../../src/progress.js";
import { pruneWorkload } from "../../src/workload/prune.js";
import { pushWorkload } from "../../src/workload/push.js";
import { isUntagMarker, moveTagsAway } from "../../src/workload/untag.js";
import { listVersions } from "../../src/workload/versions.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

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

/** silentProgress, but `before` runs when the step named `label` starts. */
function hookBefore(label: string, before: () => Promise<unknown>): Progress {
  return {
    step: async (name, run) => {
      if (name === label) await before();
      return run();
    },
    info: () => {},
    warn: () => {},
  };
}

describe("workload prune while others write or prune", () => {
  let lab: LabRegistry;
  let work: string;
  const client = new RegistryClient();
  let counter = 0;

  before(async () => {
    lab = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "ksail-prune-race-"));
  });
  after(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A fresh repository with versions 0.0.1..0.0.n of content n=1..n; returns it. */
  async function seed(n: number) {
    counter += 1;
    const repository = { registry: lab.registry, repository: `race${counter}` };
    for (let i = 1; i <= n; i++) await pushContent(repository, i);
    return repository;
  }

  async function pushContent(repository: { registry: string; repository: string }, n: number) {
    await writeFile(
      join(work, "cm.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "${n}"\n`,
    );
    // Reproducible (no creation time): the same content gives the same manifest digest.
    return pushWorkload(
      { client },
      { repository, sourceDir: work, reproducible: true },
      silentProgress,
    );
  }

  it("a version pushed between planning and deleting, with the content of a pruned one, survives with latest", async () => {
    const repository = await seed(5);
    const doomed = await client.resolve(repository, "0.0.1");
    let pushed: Awaited<ReturnType<typeof pushContent>> | undefined;
    // The push lands after prune listed the versions and planned to delete 0.0.1's digest.
    const result = await pruneWorkload(
      { client },
      { repository, keep: 2 },
      hookBefore("Delete versions", async () => {
        pushed = await pushContent(repository, 1);
      }),
    );
    assert.equal(pushed?.version, "0.0.6");
    assert.equal(pushed?.digest, doomed?.digest, "the push reproduces 0.0.1's manifest digest");
    const tags = (await client.listTags(repository)).sort();
    assert.equal((await client.resolve(repository, "latest"))?.digest, pushed?.digest);
    assert.equal((await client.resolve(repository, "0.0.6"))?.digest, pushed?.digest);
    assert.ok((await client.fetchManifest(repository, "0.0.6")).bytes.length > 0);
    // Version 0.0.1 itself loses its tag on every registry (on distribution 2.x, which cannot
    // delete a tag, through a marker manifest); its manifest stays for 0.0.6.
    assert.deepEqual(tags, ["0.0.4", "0.0.5", "0.0.6", "latest"]);
    assert.deepEqual(
      result.deleted.map((v) => v.version),
      ["0.0.1", "0.0.2", "0.0.3"],
    );
    assert.ok(!result.digests.includes(pushed!.digest), "reported 0.0.1's digest as deleted");
  });

  it("versions pushed while a parallel prune deletes (8 at a time) keep their tags and manifests", async () => {
    const repository = await seed(24);
    const doomed = await client.resolve(repository, "0.0.2");
    const pushed: Awaited<ReturnType<typeof pushContent>>[] = [];
    let pushing: Promise<void> | undefined;
    // Six pushes run during the delete phase: three reproduce pruned versions' digests.
    const result = await pruneWorkload(
      { client: new RegistryClient() },
      { repository, keep: 4, concurrency: 8 },
      hookBefore("Delete versions", async () => {
        pushing = (async () => {
          for (const n of [1, 101, 2, 102, 3, 103]) pushed.push(await pushContent(repository, n));
        })();
      }),
    );
    await pushing;
    assert.equal(pushed[2]?.digest, doomed?.digest, "the push reproduces 0.0.2's digest");
    // Six distinct versions above the seeded ones. (A push whose tag went with a digest deleted
    // right after its write sees that on its read-back and takes the next version.)
    const numbers = pushed.map((p) => Number(p.version.split(".")[2]));
    assert.equal(new Set(numbers).size, 6);
    assert.ok(
      numbers.every((n, i) => n > 24 && (i === 0 || n > numbers[i - 1]!)),
      `${numbers}`,
    );
    for (const p of pushed) {
      assert.equal((await client.resolve(repository, p.version))?.digest, p.digest, p.version);
      const manifest = parseFluxManifest((await client.fetchManifest(repository, p.digest)).bytes);
      assert.ok((await client.fetchBlob(repository, manifest.layer.digest)).length > 0);
    }
    assert.equal((await client.resolve(repository, "latest"))?.digest, pushed.at(-1)?.digest);
    const expected = [21, 22, 23, 24, ...numbers].map((n) => `0.0.${n}`);
    assert.deepEqual((await client.listTags(repository)).sort(), [...expected, "latest"].sort());
    // (0.0.2's digest may be reported deleted: a push after its DELETE writes the manifest anew.)
    assert.equal(result.deleted.length, 20);
  });

  it("tags a stopped prune left on its untag marker are no versions, and the next prune removes them", async () => {
    const repository = await seed(4);
    // The marker's DELETE fails, as if the process had died between the PUTs and the DELETE.
    const failing = new RegistryClient();
    failing.deleteManifest = () => Promise.reject(new Error("stopped"));
    await assert.rejects(
      moveTagsAway(failing, repository, ["0.0.1", "0.0.2"], { purpose: "pruned" }),
      /stopped/,
    );
    // Each tag sits on a marker now (tags are spread over up to 8 markers), not on its version.
    const markers = await Promise.all(
      ["0.0.1", "0.0.2"].map(async (tag) => (await client.resolve(repository, tag))!.digest),
    );
    for (const digest of markers) {
      assert.ok(isUntagMarker((await client.fetchManifest(repository, digest)).bytes), digest);
    }
    assert.deepEqual(
      (await listVersions({ client }, { repository })).map((v) => v.version),
      ["0.0.3", "0.0.4"],
    );
    const result = await pruneWorkload({ client }, { repository, keep: 1 }, silentProgress);
    assert.deepEqual(
      result.deleted.map((v) => v.version),
      ["0.0.3"],
    );
    assert.deepEqual((await client.listTags(repository)).sort(), ["0.0.4", "latest"]);
    for (const digest of markers) assert.equal(await client.resolve(repository, digest), undefined);
  });

  it("a digest another (non-version) tag points at is never deleted", async () => {
    const repository = await seed(4);
    const old = await client.fetchManifest(repository, "0.0.1");
    await client.pushManifest(repository, "stable", old.bytes, old.mediaType);
    const result = await pruneWorkload({ client }, { repository, keep: 1 }, silentProgress);
    assert.deepEqual(
      result.deleted.map((v) => v.version),
      ["0.0.2", "0.0.3"],
    );
    assert.deepEqual((await client.listTags(repository)).sort(), [
      "0.0.1",
      "0.0.4",
      "latest",
      "stable",
    ]);
  });

  it("two prunes at once both succeed: a manifest already deleted by the other counts as deleted", async () => {
    const repository = await seed(6);
    let other: Promise<unknown> | undefined;
    // The second prune deletes everything while the first sits between planning and deleting.
    const first = await pruneWorkload(
      { client },
      { repository, keep: 2 },
      hookBefore("Delete versions", async () => {
        other = pruneWorkload(
          { client: new RegistryClient() },
          { repository, keep: 2 },
          silentProgress,
        );
        await other;
      }),
    );
    const second = (await other) as Awaited<ReturnType<typeof pruneWorkload>>;
    for (const result of [first, second]) {
      assert.deepEqual(
        result.deleted.map((v) => v.version),
        ["0.0.1", "0.0.2", "0.0.3", "0.0.4"],
      );
    }
    assert.deepEqual((await client.listTags(repository)).sort(), ["0.0.5", "0.0.6", "latest"]);
  });

  it("two `ksail workload prune` processes at once both exit 0", async () => {
    const repository = await seed(12);
    const args = [
      "workload",
      "prune",
      "--registry",
      `oci://${repository.registry}/${repository.repository}`,
      "--keep",
      "2",
    ];
    const runs = await Promise.all([runKsail(args, { cwd: work }), runKsail(args, { cwd: work })]);
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await client.listTags(repository)).sort(), ["0.0.11", "0.0.12", "latest"]);
  });

  it("reports the freed size counting each blob once and none that a kept version still names", async () => {
    counter += 1;
    const repository = { registry: lab.registry, repository: `race${counter}` };
    // Same content three times under different creation times: three manifests, one layer.
    await writeFile(
      join(work, "cm.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "same"\n`,
    );
    const pushes: Awaited<ReturnType<typeof pushWorkload>>[] = [];
    for (const [i, created] of [
      "2026-01-01T00:00:00Z",
      "2026-01-02T00:00:00Z",
      "2026-01-03T00:00:00Z",
    ].entries())
      pushes.push(
        await pushWorkload(
          { client: client },
          { repository, sourceDir: work, created, version: `0.0.${i + 1}` },
          silentProgress,
        ),
      );
    assert.equal(new Set(pushes.map((p) => p.digest)).size, 3);
    const distinct = await pushContent(repository, 99);
    const plan = await pruneWorkload(
      { client },
      { repository, keep: 1, dryRun: true },
      silentProgress,
    );
    assert.deepEqual(
      plan.deleted.map((v) => v.version),
      ["0.0.1", "0.0.2", "0.0.3"],
    );
    // Freed: the shared layer once, plus the three configs (they differ by creation time);
    // the kept version has its own layer and config. Oracle: the manifests' own descriptors.
    assert.ok(pushes.every((p) => p.layerDigest === pushes[0]!.layerDigest));
    assert.notEqual(distinct.layerDigest, pushes[0]!.layerDigest);
    const blobs = new Map<string, number>();
    for (const version of ["0.0.1", "0.0.2", "0.0.3"]) {
      const manifest = JSON.parse(
        (await client.fetchManifest(repository, version)).bytes.toString("utf8"),
      ) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
      for (const blob of [manifest.config, ...manifest.layers]) blobs.set(blob.digest, blob.size);
    }
    const oneVersion = [...blobs.values()].reduce((a, b) => a + b, 0);
    assert.equal(blobs.size, 4);
    assert.ok(oneVersion < plan.deleted.reduce((sum, v) => sum + v.size, 0));
    assert.equal(plan.bytes, oneVersion);
    const done = await pruneWorkload({ client }, { repository, keep: 1 }, silentProgress);
    assert.equal(done.bytes, oneVersion);
    assert.deepEqual((await client.listTags(repository)).sort(), ["0.0.4", "latest"]);
  });
});
