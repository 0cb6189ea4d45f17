/**
 * `ksail workload watch --no-reconcile` (the built CLI, as a process) without a cluster, against a
 * real distribution registry:
 * successive saves become successive versions, an invalid save pushes nothing and the loop goes
 * on, ignored and editor temp files start no cycle, a registry outage is reported once and
 * retried until the registry is back, --prune-keep keeps the newest versions, and stopping
 * leaves every tag on a complete artifact.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseFluxManifest } from "../../src/artifact/manifest.js";
import { RegistryClient } from "../../src/oci/client.js";
import { semverTags } from "../../src/workload/versions.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { startWatch } from "../../lab/watch.js";

const configMap = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  greeting: "${value}"\n`;

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
        /^settings\.yaml:3:\d+: missing metadata\.name/m,
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
    assert.match(
      watch.describe(),
      /Stopped after 5 cycle\(s\); 3 version\(s\) pushed, newest 0\.0\.3/,
    );
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
});
