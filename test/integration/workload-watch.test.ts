/**
 * `ksail workload watch --no-reconcile` (the built CLI, as a process) without a cluster, against a
 * real distribution registry:
 * successive saves become successive versions, an invalid save pushes nothing and the loop goes
 * on, ignored and editor temp files start no cycle, a registry outage is reported once and
 * retried until the registry is back, --prune-keep keeps the newest versions, and stopping
 * leaves every tag on a complete artifact. Every way of saving a file (in place, sed -i, rename,
 * delete + create, git checkout / stash, directory moves, 100 saves a second) starts exactly one
 * cycle; the watched directory going away, a symlink loop and a small inotify budget are told.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseFluxManifest } from "../../src/artifact/manifest.js";
import { RegistryClient } from "../../src/oci/client.js";
import { semverTags } from "../../src/workload/versions.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { git, gitInit, SAVE_STYLES, startWatch } from "../../lab/watch.js";
import { readLayerFiles } from "../../src/artifact/extract.js";

const configMap = (value: string, name = "settings") =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  greeting: "${value}"\n`;

/** A TCP forwarder that can go down (connection refused) and come back on the same port. */
async function switchableForwarder(target: string) {
  const [host, port] = [target.split(":")[0]!, Number(target.split(":")[1])];
  const sockets = new Set<Socket>();
  const make = () =>
    createServer((client) => {
      const upstream = createConnection({ host, port });
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
  let server: Server = make();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    registry: `127.0.0.1:${address.port}`,
    async down() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      server = make();
      await new Promise<void>((resolve) => server.listen(address.port, "127.0.0.1", resolve));
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `ksail workload watch --no-reconcile` (the built CLI) on a directory and a repository. */
function watchCli(work: string, dir: string, repository: string, ...args: string[]) {
  return startWatch({
    project: work,
    args: [
      "--no-reconcile",
      "--registry",
      `oci://${repository}`,
      "--path",
      dir,
      "--debounce",
      "50ms",
      ...args,
    ],
  });
}

/** The text of `file` in the artifact tagged `version`. */
async function fileIn(
  client: RegistryClient,
  registry: string,
  repository: string,
  version: string,
  file: string,
) {
  const repo = { registry, repository };
  const manifest = parseFluxManifest((await client.fetchManifest(repo, version)).bytes);
  const files = await readLayerFiles(await client.fetchBlob(repo, manifest.layer.digest));
  return (
    files.get(file)?.toString() ?? `(no ${file} in ${version}: ${[...files.keys()].join(", ")})`
  );
}

/** Runs `sh -c script` under a private inotify budget of `watches` (a user namespace of its own). */
const inotifyBudget = (watches: number) => [
  "unshare",
  "--user",
  "--map-root-user",
  "sh",
  "-c",
  `echo ${watches} > /proc/sys/user/max_inotify_watches && exec "$@"`,
  "sh",
];

/** Every semver tag resolves to a manifest whose config and layer blobs are in the registry. */
async function assertCompleteTags(client: RegistryClient, registry: string, repository: string) {
  const repo = { registry, repository };
  for (const tag of await client.listTags(repo)) {
    const manifest = parseFluxManifest((await client.fetchManifest(repo, tag)).bytes);
    assert.equal(await client.blobExists(repo, manifest.layer.digest), true, `${tag}: layer`);
    assert.equal(await client.blobExists(repo, manifest.configDigest), true, `${tag}: config blob`);
  }
}

describe("workload watch, push only (no cluster)", () => {
  let registry: LabRegistry;
  let work: string;
  const client = new RegistryClient();

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "ksail-watch-"));
  });
  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("pushes each save as the next version, skips invalid saves and ignored files, and stops cleanly", async () => {
    const dir = join(work, "loop");
    await rm(dir, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, "settings.yaml"), configMap("one"));
    await writeFile(join(dir, ".sourceignore"), "drafts/\n");
    const watch = watchCli(work, dir, `${registry.registry}/loop`);
    try {
      const start = await watch.cycle(1);
      assert.equal(start.trigger, "start");
      assert.equal(start.outcome, "pushed");
      assert.equal(start.version, "0.0.1");

      await writeFile(join(dir, "settings.yaml"), configMap("two"));
      const second = await watch.cycle(2);
      assert.equal(second.outcome, "pushed", JSON.stringify(second));
      assert.deepEqual(second.changed, ["settings.yaml"]);
      assert.equal(second.version, "0.0.2");
      assert.ok(second.timings.savedToPushedMs !== undefined);

      // Invalid: nothing pushed, the problem named with file and line; the loop goes on.
      await writeFile(
        join(dir, "settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: default\n",
      );
      const invalid = await watch.cycle(3);
      assert.equal(invalid.outcome, "invalid", JSON.stringify(invalid));
      assert.match(
        invalid.problems?.join("\n") ?? "",
        // Relative to where ksail runs (here `work`), as push prints them: clickable in a terminal.
        /^loop\/settings\.yaml:3:\d+: missing metadata\.name/m,
      );
      assert.deepEqual(
        semverTags(await client.listTags({ registry: registry.registry, repository: "loop" })),
        ["0.0.1", "0.0.2"],
      );

      // Ignored (by .sourceignore) and editor temp files start no cycle: the next cycle is the
      // real edit below, and it names only that file.
      await import("node:fs/promises").then((fs) => fs.mkdir(join(dir, "drafts")));
      await writeFile(join(dir, "drafts", "idea.yaml"), configMap("draft"));
      await writeFile(join(dir, "4913"), "");
      await writeFile(join(dir, "settings.yaml.tmp"), "x");
      await new Promise((resolve) => setTimeout(resolve, 400));
      await writeFile(join(dir, "settings.yaml"), configMap("three"));
      const third = await watch.cycle(4);
      assert.equal(third.outcome, "pushed", JSON.stringify(third));
      assert.deepEqual(third.changed, ["settings.yaml"]);
      assert.equal(third.version, "0.0.3");
      assert.equal(watch.reports.length, 4);
      // The temp files are not in the artifact either.
      const repo = { registry: registry.registry, repository: "loop" };
      const { readLayerFiles } = await import("../../src/artifact/extract.js");
      const manifest = parseFluxManifest((await client.fetchManifest(repo, "0.0.3")).bytes);
      const files = await readLayerFiles(await client.fetchBlob(repo, manifest.layer.digest));
      assert.deepEqual([...files.keys()], ["settings.yaml"]);

      // The same content saved again: a cycle, but no new version.
      await writeFile(join(dir, "settings.yaml"), configMap("three"));
      const same = await watch.cycle(5);
      assert.equal(same.outcome, "unchanged");
      assert.equal(same.version, "0.0.3");
    } finally {
      // SIGTERM ends it like Ctrl-C: exit 0.
      const stopped = await watch.stop("SIGTERM");
      assert.equal(stopped.exitCode, 0, watch.describe());
    }
    assert.match(watch.describe(), /Stopped after 5 cycles; 3 versions pushed, newest 0\.0\.3/);
    await assertCompleteTags(client, registry.registry, "loop");
  });

  it("reports a registry outage once, retries with backoff, and pushes the edits once it is back", async () => {
    const dir = join(work, "outage");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
    await writeFile(join(dir, "settings.yaml"), configMap("one"));
    const forwarder = await switchableForwarder(registry.registry);
    const watch = watchCli(work, dir, `${forwarder.registry}/outage`);
    try {
      assert.equal((await watch.cycle(1)).version, "0.0.1");
      await forwarder.down();
      await writeFile(join(dir, "settings.yaml"), configMap("two"));
      const down = await watch.cycle(2);
      assert.equal(down.outcome, "unreachable", JSON.stringify(down));
      assert.match(down.message ?? "", /127\.0\.0\.1:\d+/);
      // While it stays down, more edits and retries add no further reports.
      await writeFile(join(dir, "settings.yaml"), configMap("three"));
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(watch.reports.length, 2, watch.describe());
      await forwarder.up();
      const back = await watch.cycle(3);
      assert.equal(back.outcome, "pushed", JSON.stringify(back));
      assert.equal(back.trigger, "retry");
      assert.equal(back.version, "0.0.2");
      assert.match(watch.describe(), /Reachable again after/);
      assert.equal(watch.describe().match(/Retrying with backoff/g)?.length, 1, watch.describe());
      const repo = { registry: registry.registry, repository: "outage" };
      const manifest = parseFluxManifest((await client.fetchManifest(repo, "0.0.2")).bytes);
      const { readLayerFiles } = await import("../../src/artifact/extract.js");
      const files = await readLayerFiles(await client.fetchBlob(repo, manifest.layer.digest));
      assert.match(files.get("settings.yaml")?.toString() ?? "", /three/);
    } finally {
      await watch.stop();
      await forwarder.stop();
    }
  });

  it("--prune-keep deletes all but the newest versions after each push", async () => {
    const dir = join(work, "prune");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
    await writeFile(join(dir, "settings.yaml"), configMap("0"));
    const watch = watchCli(work, dir, `${registry.registry}/pruned`, "--prune-keep", "2");
    try {
      await watch.cycle(1);
      for (let i = 1; i <= 3; i++) {
        await writeFile(join(dir, "settings.yaml"), configMap(String(i)));
        const report = await watch.cycle(i + 1);
        assert.equal(report.outcome, "pushed", JSON.stringify(report));
      }
      assert.deepEqual(watch.reports.at(-1)?.pruned, ["0.0.2"]);
    } finally {
      assert.equal((await watch.stop()).exitCode, 0, watch.describe());
    }
    const repo = { registry: registry.registry, repository: "pruned" };
    assert.deepEqual(semverTags(await client.listTags(repo)), ["0.0.3", "0.0.4"]);
    await assertCompleteTags(client, registry.registry, "pruned");
  });

  it("every way of saving starts exactly one cycle, and each saved state is pushed", async () => {
    const project = join(work, "styles");
    const dir = join(project, "k8s");
    await mkdir(dir, { recursive: true });
    const scratch = await mkdtemp(join(tmpdir(), "ksail-watch-scratch-"));
    await writeFile(join(dir, "settings.yaml"), configMap("v0"));
    const watch = watchCli(work, dir, `${registry.registry}/styles`);
    let n = 1;
    /** The next cycle is a push whose `file` says `value`; any other cycle is a miss or a double. */
    const pushed = async (what: string, value: string, file = "settings.yaml") => {
      n++;
      const report = await watch.cycle(n, 30_000);
      assert.equal(
        report.outcome,
        "pushed",
        `${what}: ${JSON.stringify(report)}\n${watch.describe()}`,
      );
      const text = await fileIn(client, registry.registry, "styles", report.version!, file);
      assert.match(text, new RegExp(`"${value}"`), `${what}: ${report.version}`);
      return report;
    };
    try {
      assert.equal((await watch.cycle(1)).outcome, "pushed", watch.describe());
      for (const [i, style] of SAVE_STYLES.entries()) {
        await style.save({ dir, file: "settings.yaml", scratch }, configMap(`style-${i}`));
        await pushed(style.name, `style-${i}`);
      }
      const base = `style-${SAVE_STYLES.length - 1}`;

      await gitInit(project);
      await writeFile(join(dir, "settings.yaml"), configMap("git-1"));
      await pushed("edit in a git work tree", "git-1");
      await git(project, "checkout", "--", "k8s/settings.yaml");
      await pushed("git checkout -- file", base);
      await writeFile(join(dir, "settings.yaml"), configMap("git-2"));
      await pushed("edit after git checkout", "git-2");
      await git(project, "stash", "-q");
      await pushed("git stash", base);
      await git(project, "stash", "pop", "-q");
      await pushed("git stash pop", "git-2");

      await mkdir(join(dir, "apps"));
      await writeFile(join(dir, "apps", "extra.yaml"), configMap("extra-1", "extra"));
      await pushed("a new folder with a file", "extra-1", "apps/extra.yaml");
      await rename(join(dir, "apps"), join(dir, "moved"));
      const moved = await pushed("folder renamed", "extra-1", "moved/extra.yaml");
      assert.deepEqual(moved.changed, ["apps/extra.yaml", "moved/extra.yaml"]);
      await writeFile(join(dir, "moved", "extra.yaml"), configMap("extra-2", "extra"));
      await pushed("edit in the renamed folder", "extra-2", "moved/extra.yaml");
      await rm(join(dir, "moved"), { recursive: true });
      await pushed("folder removed", "git-2");
      await mkdir(join(dir, "moved"));
      await writeFile(join(dir, "moved", "extra.yaml"), configMap("extra-3", "extra"));
      await pushed("folder made again", "extra-3", "moved/extra.yaml");
      await writeFile(join(dir, "moved", "extra.yaml"), configMap("extra-4", "extra"));
      await pushed("edit in the folder made again", "extra-4", "moved/extra.yaml");

      // 100 saves in one second, by turns in place and by rename: the last one is pushed, the
      // ones before may share cycles, and nothing is pushed twice.
      for (let i = 1; i <= 100; i++) {
        await SAVE_STYLES[i % 2 === 0 ? 0 : 4]!.save(
          { dir, file: "settings.yaml", scratch },
          configMap(`burst-${i}`),
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (;;) {
        n++;
        const report = await watch.cycle(n, 30_000);
        assert.equal(
          report.outcome,
          "pushed",
          `burst: ${JSON.stringify(report)}\n${watch.describe()}`,
        );
        const text = await fileIn(
          client,
          registry.registry,
          "styles",
          report.version!,
          "settings.yaml",
        );
        if (text.includes('"burst-100"')) break;
      }
      // Quiet now: no further cycle comes (a doubled one would be `unchanged`).
      await writeFile(join(dir, "settings.yaml"), configMap("after-burst"));
      await pushed("the save after the burst", "after-burst");
    } finally {
      assert.equal((await watch.stop()).exitCode, 0, watch.describe());
      await rm(scratch, { recursive: true, force: true });
    }
    assert.equal(watch.reports.filter((r) => r.outcome !== "pushed").length, 0, watch.describe());
  });

  it("a symlink loop in the tree is skipped, as push skips it", async () => {
    const dir = join(work, "loop-links");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "settings.yaml"), configMap("one"));
    await symlink("c", join(dir, "b"));
    await symlink("b", join(dir, "c"));
    const watch = watchCli(work, dir, `${registry.registry}/links`);
    try {
      assert.equal((await watch.cycle(1)).outcome, "pushed", watch.describe());
      await writeFile(join(dir, "settings.yaml"), configMap("two"));
      const second = await watch.cycle(2, 30_000);
      assert.equal(second.outcome, "pushed", watch.describe());
      assert.match(
        await fileIn(client, registry.registry, "links", "0.0.2", "settings.yaml"),
        /two/,
      );
    } finally {
      assert.equal((await watch.stop()).exitCode, 0, watch.describe());
    }
  });

  it("the watched directory removed or renamed: says so, waits for it, and goes on when it is back", async () => {
    const dir = join(work, "vanishing");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "settings.yaml"), configMap("one"));
    const watch = watchCli(work, dir, `${registry.registry}/vanishing`);
    try {
      assert.equal((await watch.cycle(1)).outcome, "pushed", watch.describe());
      await rm(dir, { recursive: true });
      await watch.output(/vanishing was removed or renamed; waiting for it to come back/, 30_000);
      await mkdir(dir);
      await writeFile(join(dir, "settings.yaml"), configMap("two"));
      const back = await watch.cycle(2, 30_000);
      assert.equal(back.outcome, "pushed", watch.describe());
      assert.match(
        await fileIn(client, registry.registry, "vanishing", back.version!, "settings.yaml"),
        /two/,
      );

      await rename(dir, `${dir}.moved`);
      await watch.output(/(removed or renamed[^]*){2}/, 30_000);
      await rename(`${dir}.moved`, dir);
      await watch.cycle(3, 30_000);
      await writeFile(join(dir, "settings.yaml"), configMap("three"));
      const edited = await watch.cycle(4, 30_000);
      assert.equal(edited.outcome, "pushed", watch.describe());
      assert.match(
        await fileIn(client, registry.registry, "vanishing", edited.version!, "settings.yaml"),
        /three/,
      );
    } finally {
      assert.equal((await watch.stop()).exitCode, 0, watch.describe());
    }
  });

  it("an inotify budget smaller than the tree is told with the sysctl to raise, not watched in part", async () => {
    const dir = join(work, "budget");
    for (let i = 0; i < 12; i++) await mkdir(join(dir, `app-${i}`), { recursive: true });
    await writeFile(join(dir, "settings.yaml"), configMap("one"));
    const watch = startWatch({
      project: work,
      wrap: inotifyBudget(6),
      args: ["--no-reconcile", "--registry", `oci://${registry.registry}/budget`, "--path", dir],
    });
    const { exitCode } = await watch.exited(60_000);
    assert.equal(exitCode, 1, watch.describe());
    assert.match(watch.describe(), /inotify watch limit/);
    assert.match(watch.describe(), /sysctl fs\.inotify\.max_user_watches=/);
    assert.equal(watch.reports.length, 0, watch.describe());
  });

  it("a folder made when the inotify budget is spent is told too", async () => {
    const dir = join(work, "budget-later");
    for (let i = 0; i < 3; i++) await mkdir(join(dir, `app-${i}`), { recursive: true });
    await writeFile(join(dir, "settings.yaml"), configMap("one"));
    const watch = startWatch({
      project: work,
      wrap: inotifyBudget(4),
      args: [
        "--no-reconcile",
        "--registry",
        `oci://${registry.registry}/budget-later`,
        "--path",
        dir,
      ],
    });
    try {
      assert.equal((await watch.cycle(1)).outcome, "pushed", watch.describe());
      await mkdir(join(dir, "app-new"));
      await writeFile(join(dir, "app-new", "more.yaml"), configMap("two"));
      const { exitCode } = await watch.exited(60_000);
      assert.equal(exitCode, 1, watch.describe());
      assert.match(watch.describe(), /app-new/);
      assert.match(watch.describe(), /sysctl fs\.inotify\.max_user_watches=/);
    } finally {
      await watch.stop();
    }
  });
});
