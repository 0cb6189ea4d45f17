/**
 * Push data safety (issue 10 items 1, 2, 6): `latest` after a killed push, writers on different
 * machines racing for one version, the creation time. The built CLI as a process against the
 * real distribution registry (lab/registry.ts); "different machines" are CLI processes with
 * separate caches, i.e. separate lock files, so only the registry is shared between them.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ANNOTATION_CREATED } from "../../src/artifact/media-types.js";
import { parseFluxManifest } from "../../src/artifact/manifest.js";
import { RegistryClient } from "../../src/oci/client.js";
import type { RepositoryRef } from "../../src/oci/reference.js";
import { silentProgress } from "../../src/progress.js";
import { pushWorkload } from "../../src/workload/push.js";
import { LATEST_TAG, semverTags } from "../../src/workload/versions.js";
import { seededRandom, startFaultProxy } from "../../lab/fault-proxy.js";
import { json, runKsail, type KsailRun } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

/** A source directory of `files` ConfigMaps carrying `seed`, plus `noise` bytes that do not compress. */
async function source(seed: string, options: { files?: number; noise?: number } = {}) {
  const dir = await tempDir("ksail-src-");
  const files = options.files ?? 2;
  const random = seededRandom([...seed].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
  const perFile = Math.ceil((options.noise ?? 0) / files);
  for (let i = 0; i < files; i++) {
    const noise = Buffer.alloc(perFile);
    for (let b = 0; b < perFile; b++) noise[b] = Math.floor(random() * 256);
    await writeFile(
      join(dir, `cm-${i}.yaml`),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  seed: "${seed}"\n` +
        (perFile > 0 ? `  noise: "${noise.toString("base64")}"\n` : ""),
    );
  }
  return dir;
}

/** `ksail workload push` of `dir` with its own cache (own lock dir): another machine. */
async function push(
  dir: string,
  target: string,
  args: string[] = [],
  onSpawn?: Parameters<typeof runKsail>[1]["onSpawn"],
): Promise<KsailRun> {
  const cache = await tempDir("ksail-cache-");
  return runKsail(
    ["workload", "push", "--registry", `oci://${target}`, "--path", ".", "-o", "json", ...args],
    { cwd: dir, env: { XDG_CACHE_HOME: cache }, ...(onSpawn ? { onSpawn } : {}) },
  );
}

interface Pushed {
  version: string;
  digest: string;
  unchanged: boolean;
  created?: string;
}

/** The highest version and the digests of it and of `latest`. */
async function latestState(client: RegistryClient, repository: RepositoryRef) {
  const highest = semverTags(await client.listTags(repository)).at(-1);
  const [head, latest] = await Promise.all([
    highest === undefined ? undefined : client.resolve(repository, highest),
    client.resolve(repository, LATEST_TAG),
  ]);
  return { highest, highestDigest: head?.digest, latestDigest: latest?.digest };
}

/** Tags whose manifest is missing or names a blob the registry does not have (HEAD each). */
async function brokenTags(client: RegistryClient, repository: RepositoryRef): Promise<string[]> {
  const broken: string[] = [];
  for (const tag of await client.listTags(repository)) {
    try {
      const manifest = parseFluxManifest((await client.fetchManifest(repository, tag)).bytes);
      for (const blob of [manifest.configDigest, manifest.layer.digest]) {
        if (!(await client.blobExists(repository, blob))) broken.push(`${tag}: ${blob} missing`);
      }
    } catch (error) {
      broken.push(`${tag}: ${(error as Error).message}`);
    }
  }
  return broken;
}

describe("push data safety against a real registry", () => {
  let lab: LabRegistry;
  const client = new RegistryClient();

  before(async () => {
    lab = await startRegistry();
  });
  after(async () => {
    client.close();
    await lab?.stop();
  });

  it("any push, an unchanged one included, moves latest to the highest version (item 1)", async () => {
    const repository = { registry: lab.registry, repository: "behind" };
    const target = `${lab.registry}/behind`;
    const one = await source("one");
    const two = await source("two");
    const first = json<Pushed>(await push(one, target));
    const second = json<Pushed>(await push(two, target));
    assert.deepEqual([first.version, second.version], ["0.0.1", "0.0.2"]);
    // What a push killed between its version tag and `latest` leaves: latest on the older version.
    const old = await client.fetchManifest(repository, "0.0.1");
    await client.pushManifest(repository, LATEST_TAG, old.bytes, old.mediaType);

    const again = await push(two, target);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(json<Pushed>(again).unchanged, true);
    assert.equal(json<Pushed>(again).version, "0.0.2");
    assert.equal((await client.resolve(repository, LATEST_TAG))?.digest, second.digest);

    // The same after an explicit-version push that finds its content already there.
    await client.pushManifest(repository, LATEST_TAG, old.bytes, old.mediaType);
    const explicit = await push(one, target, ["--version", "0.0.1"]);
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.equal(json<Pushed>(explicit).unchanged, true);
    assert.equal((await client.resolve(repository, LATEST_TAG))?.digest, second.digest);

    // A hotfix to an older line never moves latest back; --no-latest leaves it alone.
    const hotfix = await push(await source("hotfix"), target, ["--version", "0.0.1-1"]);
    assert.equal(hotfix.code, 0, hotfix.stderr);
    assert.equal((await client.resolve(repository, LATEST_TAG))?.digest, second.digest);
    await client.pushManifest(repository, LATEST_TAG, old.bytes, old.mediaType);
    const untouched = await push(two, target, ["--no-latest"]);
    assert.equal(untouched.code, 0, untouched.stderr);
    assert.equal((await client.resolve(repository, LATEST_TAG))?.digest, first.digest);
  });

  it("records the creation time by default; an unchanged push still adds no version (item 6)", async () => {
    const repository = { registry: lab.registry, repository: "created" };
    const target = `${lab.registry}/created`;
    const dir = await source("created");
    const before = Date.now();
    const run = await push(dir, target);
    assert.equal(run.code, 0, run.stderr);
    const pushed = json<Pushed>(run);
    const manifest = parseFluxManifest((await client.fetchManifest(repository, "0.0.1")).bytes);
    const created = manifest.annotations[ANNOTATION_CREATED];
    assert.ok(created, "no org.opencontainers.image.created annotation");
    assert.equal(pushed.created, created);
    // Outside git: the push time, to the second.
    assert.match(created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Date.parse(created) >= Math.floor(before / 1000) * 1000, created);

    const table = await runKsail(
      ["workload", "versions", "--registry", `oci://${target}`, "-o", "wide"],
      { cwd: dir },
    );
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      new RegExp(`^0\\.0\\.1 \\(latest\\)\\s+sha256:\\S+.*\\s${created}\\s`, "m"),
    );

    // A second later the manifest would differ (created), the content does not: no new version.
    await new Promise((r) => setTimeout(r, 1100));
    const again = await push(dir, target);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(json<Pushed>(again).unchanged, true);
    assert.deepEqual((await client.listTags(repository)).sort(), ["0.0.1", LATEST_TAG]);

    // prune --older-than now sees the age of every version instead of keeping them all.
    const newer = await push(await source("created-2"), target);
    assert.equal(newer.code, 0, newer.stderr);
    await new Promise((r) => setTimeout(r, 1100));
    const prune = await runKsail(
      [
        "workload",
        "prune",
        "--registry",
        `oci://${target}`,
        "--keep",
        "1",
        "--older-than",
        "1s",
        "--dry-run",
        "-o",
        "json",
      ],
      { cwd: dir },
    );
    assert.equal(prune.code, 0, prune.stderr);
    const plan = json<{ deleted: { version: string }[]; kept: { reason: string }[] }>(prune);
    assert.deepEqual(
      plan.deleted.map((d) => d.version),
      ["0.0.1"],
    );
  });

  it("reproducible: true gives byte-identical manifests without a creation time (item 6)", async () => {
    const dir = await source("reproducible");
    const results = [];
    for (const name of ["repro-a", "repro-b"]) {
      results.push(
        await pushWorkload(
          { client },
          {
            repository: { registry: lab.registry, repository: name },
            sourceDir: dir,
            reproducible: true,
          },
          silentProgress,
        ),
      );
    }
    assert.equal(results[0]!.digest, results[1]!.digest);
    assert.equal(results[0]!.created, undefined);
    const manifest = parseFluxManifest(
      (await client.fetchManifest({ registry: lab.registry, repository: "repro-a" }, "0.0.1"))
        .bytes,
    );
    assert.equal(manifest.annotations[ANNOTATION_CREATED], undefined);
    // Without the opt-out the layer is the same, only the manifest carries the time.
    const stamped = await pushWorkload(
      { client },
      { repository: { registry: lab.registry, repository: "repro-c" }, sourceDir: dir },
      silentProgress,
    );
    assert.equal(stamped.layerDigest, results[0]!.layerDigest);
    assert.notEqual(stamped.digest, results[0]!.digest);
    assert.ok(stamped.created);
  });

  it("latest follows a higher version that appears after this push claimed its own (item 1)", async () => {
    // moveLatest first reads the version it expects to be the highest (its own) along with the
    // tag list: when the list names a higher one, that one is read, confirmed and pointed at.
    const repository = { registry: lab.registry, repository: "overtaken" };
    await pushWorkload({ client }, { repository, sourceDir: await source("o-1") }, silentProgress);
    const racer = await source("o-racer");
    let lists = 0;
    let racerDigest: string | undefined;
    const overtaken = new (class extends RegistryClient {
      override async listTags(repo: RepositoryRef, options?: { pageSize?: number }) {
        // The 1st listing picks our version; the 2nd is for moveLatest, after our claim.
        if (++lists === 2) {
          const pushed = await pushWorkload(
            { client },
            { repository, sourceDir: racer, version: "0.0.3", tagLatest: false },
            silentProgress,
          );
          racerDigest = pushed.digest;
        }
        return super.listTags(repo, options);
      }
    })();
    try {
      const ours = await pushWorkload(
        { client: overtaken },
        { repository, sourceDir: await source("o-2") },
        silentProgress,
      );
      assert.equal(ours.version, "0.0.2");
      assert.ok(racerDigest);
      assert.equal((await client.resolve(repository, LATEST_TAG))?.digest, racerDigest);
    } finally {
      overtaken.close();
    }
  });

  it("latest moved back by another push right after this one's write is moved again (item 1)", async () => {
    const repository = { registry: lab.registry, repository: "moved-back" };
    const first = await pushWorkload(
      { client },
      { repository, sourceDir: await source("b-1") },
      silentProgress,
    );
    const old = await client.fetchManifest(repository, first.version);
    let writes = 0;
    const movedBack = new (class extends RegistryClient {
      override async pushManifest(
        repo: RepositoryRef,
        reference: string,
        manifest: Uint8Array,
        mediaType: string,
      ) {
        const digest = await super.pushManifest(repo, reference, manifest, mediaType);
        // A push that saw 0.0.1 as the highest moves latest there just after our write.
        if (reference === LATEST_TAG && ++writes === 1) {
          await client.pushManifest(repo, LATEST_TAG, old.bytes, old.mediaType);
        }
        return digest;
      }
    })();
    try {
      const ours = await pushWorkload(
        { client: movedBack },
        { repository, sourceDir: await source("b-2") },
        silentProgress,
      );
      assert.equal(writes, 2, "latest was not checked and written again");
      assert.equal((await client.resolve(repository, LATEST_TAG))?.digest, ours.digest);
    } finally {
      movedBack.close();
    }
  });

  it("6 pushes at once from separate machines keep all 6 versions, 5 rounds (item 2)", async () => {
    const problems: string[] = [];
    let lost = 0;
    for (let round = 1; round <= 5; round++) {
      // One repository per round: each round starts from nothing, like the first CI runs.
      const repository = { registry: lab.registry, repository: `race-${round}` };
      const dirs = await Promise.all(
        Array.from({ length: 6 }, (_, w) => source(`race-${round}-${w}`)),
      );
      const runs = await Promise.all(dirs.map((dir) => push(dir, `${lab.registry}/race-${round}`)));
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      const results = runs.map((run) => json<Pushed>(run));
      const versions = new Set(results.map((r) => r.version));
      if (versions.size < 6)
        problems.push(`round ${round}: ${6 - versions.size} versions reported twice`);
      for (const result of results) {
        const held = (await client.resolve(repository, result.version))?.digest;
        if (held !== result.digest) {
          lost++;
          problems.push(
            `round ${round}: ${result.version} holds ${held}, its writer was told ${result.digest}`,
          );
        }
      }
      const tagged = semverTags(await client.listTags(repository));
      if (tagged.length !== 6)
        problems.push(`round ${round}: ${tagged.length} versions tagged, not 6`);
      const state = await latestState(client, repository);
      if (state.latestDigest !== state.highestDigest) {
        const onSome = await Promise.all(tagged.map((v) => client.resolve(repository, v)));
        problems.push(
          `round ${round}: latest is not on ${state.highest}` +
            (onSome.some((d) => d?.digest === state.latestDigest) ? "" : " (nor on any version)"),
        );
      }
    }
    console.log(
      `# 5 rounds × 6 concurrent writers: ${lost} reported versions lost, ${problems.length} problems`,
    );
    assert.deepEqual(problems, []);
  });

  it("an explicit version pushed from several machines at once goes to one; the rest exit 7 (item 2)", async () => {
    const repository = { registry: lab.registry, repository: "race-explicit" };
    const target = `${lab.registry}/race-explicit`;
    for (let round = 1; round <= 3; round++) {
      const version = `2.0.${round}`;
      const dirs = await Promise.all(
        Array.from({ length: 4 }, (_, w) => source(`explicit-${round}-${w}`)),
      );
      const runs = await Promise.all(dirs.map((dir) => push(dir, target, ["--version", version])));
      const winners = runs.filter((run) => run.code === 0);
      assert.equal(
        winners.length,
        1,
        `round ${round}: ${winners.length} pushes say they own ${version}\n` +
          runs
            .map((r) => `exit ${r.code}: ${r.stderr.split("\n").slice(-3).join(" | ")}`)
            .join("\n"),
      );
      for (const run of runs.filter((r) => r.code !== 0)) {
        assert.equal(run.code, 7, run.stderr);
        assert.match(run.stderr, new RegExp(`version ${version.replace(/\./g, "\\.")} of`));
      }
      assert.equal(
        (await client.resolve(repository, version))?.digest,
        json<Pushed>(winners[0]!).digest,
      );
    }
  });

  it("a push slower than the settle time between checking and writing the tag warns (item 2)", async () => {
    // 300 ms per forwarded chunk: the HEAD and the PUT of the tag take well over 500 ms together.
    const proxy = await startFaultProxy({ target: lab.registry, latencyMs: 300 });
    try {
      const run = await push(await source("slow"), `${proxy.registry}/slow`, [
        "--version",
        "1.0.0",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stderr,
        // The proxy listens on 127.0.0.1: a loopback registry, whose writers settle for 4× their
        // own check-and-tag time; a remote one says "longer than the 500 ms other pushes wait".
        /checking and tagging 1\.0\.0 took \d+ ms \(a stall: other pushes to this machine's registry wait 4× .* this push may have replaced it/,
      );
    } finally {
      await proxy.stop();
    }
  });

  it("kill -9 at 40+ random points leaves no broken tag; the next push puts latest on the highest version", async () => {
    const repository = { registry: lab.registry, repository: "killed" };
    const proxyTarget = () => `${proxy.registry}/killed`;
    // ~600 KB that gzip cannot shrink, through a proxy that delays every chunk: a slow upload.
    const proxy = await startFaultProxy({ target: lab.registry, latencyMs: 15 });
    const random = seededRandom(20261202);
    let kills = 0;
    let runs = 0;
    let latestBehind = 0;
    let killedAfterTag = 0;
    const timing = { full: 0 };
    const broken: string[] = [];
    try {
      // One push to measure how long a whole push takes through the proxy.
      const calibration = await push(
        await source("kill-calibrate", { noise: 600_000 }),
        proxyTarget(),
      );
      assert.equal(calibration.code, 0, calibration.stderr);
      timing.full = calibration.ms;
      while (kills < 40 && runs < 80) {
        runs++;
        const dir = await source(`kill-${runs}`, { noise: 600_000 });
        const delay = Math.round(random() * timing.full * 1.05);
        const tagsBefore = semverTags(await client.listTags(repository)).length;
        const run = await push(dir, proxyTarget(), [], (child) => {
          setTimeout(() => child.kill("SIGKILL"), delay);
        });
        if (run.signal !== "SIGKILL") {
          assert.equal(run.code, 0, run.stderr);
          continue;
        }
        kills++;
        if (semverTags(await client.listTags(repository)).length > tagsBefore) killedAfterTag++;
        const state = await latestState(client, repository);
        if (state.latestDigest !== state.highestDigest) latestBehind++;
        broken.push(...(await brokenTags(client, repository)));
        // The next push (same directory, straight to the registry) repairs latest.
        const next = await push(dir, `${lab.registry}/killed`);
        assert.equal(next.code, 0, next.stderr);
        const repaired = await latestState(client, repository);
        assert.equal(
          repaired.latestDigest,
          repaired.highestDigest,
          `after kill ${kills} (at ${delay} ms) and the next push, latest is not on ${repaired.highest}`,
        );
      }
    } finally {
      await proxy.stop();
    }
    broken.push(...(await brokenTags(client, repository)));
    console.log(
      `# kill -9: ${kills} kills in ${runs} pushes (a whole push takes ${Math.round(timing.full)} ms), ` +
        `${killedAfterTag} after the version tag, latest behind the highest version ${latestBehind}× ` +
        `before the next push (0× after it), ${broken.length} broken tags`,
    );
    assert.ok(kills >= 40, `only ${kills} of ${runs} pushes were killed`);
    assert.ok(killedAfterTag > 0, "no kill landed after the version tag: the test proved little");
    assert.deepEqual(broken, []);
  });
});
