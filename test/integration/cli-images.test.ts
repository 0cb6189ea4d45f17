/**
 * `ksail workload build`, and `workload push` with spec.images, as a user runs them: the built
 * CLI as a process, a real dockerd (DOCKER_HOST) and the distribution registry as the project's
 * local registry. Exit codes: 0, 1 (failing Dockerfile: last lines, nothing pushed), 6 (no
 * engine), 8 (no spec.images); Ctrl-C ends the build by the signal with no tag pushed.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { KsailError } from "../../src/errors.js";
import { appDeployment, writeAppContext } from "../../lab/app-image.js";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

interface BuildItem {
  name: string;
  image: string;
  repository: string;
  tag: string;
  digest: string;
  built: boolean;
  layersPushed?: number;
}

describe("ksail workload build / push with spec.images", { timeout: 600_000 }, () => {
  let lab: TestEngine;
  let registry: LabRegistry;
  let client: RegistryClient;
  let port: string;

  before(async () => {
    [lab, registry] = await Promise.all([startDockerEngine(), startRegistry()]);
    client = new RegistryClient();
    port = registry.registry.split(":")[1]!;
  });
  after(async () => {
    client?.close();
    await Promise.allSettled([lab?.stop(), registry?.stop()]);
  });

  /** A project on the lab registry whose spec.images are `images` (name → Dockerfile). */
  let projects = 0;
  async function project(images: Record<string, string | undefined>): Promise<string> {
    const name = `app${++projects}`;
    const dir = await mkdtemp(join(tmpdir(), "ksail-cli-images-"));
    mkdirSync(join(dir, "k8s"));
    writeFileSync(join(dir, "k8s", "deploy.yaml"), appDeployment());
    const entries = Object.entries(images).map(([name, dockerfile]) => {
      writeAppContext(
        `${name} content`,
        dockerfile ? { Dockerfile: dockerfile } : {},
        join(dir, name),
      );
      return `    - name: ${name}\n      context: ./${name}\n`;
    });
    writeFileSync(
      join(dir, "ksail.yaml"),
      `apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: ${name}\nspec:\n  localRegistry: Enabled\n  options:\n    localRegistry:\n      hostPort: ${port}\n${entries.length > 0 ? `  images:\n${entries.join("")}` : ""}`,
    );
    return dir;
  }

  const ksail = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    runKsail(args, { cwd, env: { DOCKER_HOST: lab.dockerHost, ...env } });

  async function tags(repository: string): Promise<string[]> {
    try {
      return await client.listTags({ registry: registry.registry, repository });
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return [];
      throw error;
    }
  }

  test("build streams the build under its step, pushes, and is a cache hit the second time; push pins the digest", async () => {
    const dir = await project({ web: undefined });
    const first = await ksail(dir, ["workload", "build"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /Step 1\/\d+ : FROM scratch/);
    assert.match(first.stdout, /^NAME +IMAGE +TAG +RESULT +TIME/m);
    assert.match(
      first.stdout,
      new RegExp(`^web +localhost:${port}/web@sha256:[0-9a-f]{12}… +[0-9a-f]{16} +built`, "m"),
    );

    const second = await ksail(dir, ["workload", "build", "-q", "-o", "json"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, "");
    const [item] = json<{ items: BuildItem[] }>(second).items as [BuildItem];
    assert.equal(item.built, false);
    assert.equal(item.image, `localhost:${port}/web@${item.digest}`);
    assert.deepEqual(await tags("web"), [item.tag]);

    const pushed = await ksail(dir, ["workload", "push", "-o", "json"]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.deepEqual(json<{ images: Record<string, string> }>(pushed).images, { web: item.image });
    const versions = await ksail(dir, ["workload", "versions"]);
    assert.equal(versions.code, 0, versions.stderr);
    assert.match(versions.stdout, /IMAGES/);
    assert.match(versions.stdout, new RegExp(`web@${item.digest.slice(0, 19)}`));
  });

  test("a failing Dockerfile: exit 1 with the last build lines; no image and no version pushed", async () => {
    const dir = await project({
      broken:
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo the build breaks here >&2; exit 7"]\n',
    });
    for (const args of [
      ["workload", "build", "-q"],
      ["workload", "push"],
    ]) {
      const run = await ksail(dir, args);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /the image build failed/);
      assert.match(run.stderr, /the build breaks here/);
    }
    assert.deepEqual(await tags("broken"), []);
    assert.deepEqual(await tags(`app${projects}`), []);
  });

  test("no engine: exit 6 naming what is needed; no spec.images: exit 8", async () => {
    const dir = await project({ lonely: undefined });
    const run = await ksail(dir, ["workload", "build"], {
      DOCKER_HOST: "unix:///tmp/ksail-no-such-dir/d.sock",
    });
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /building images \(spec\.images\) needs Docker or Podman/);
    const none = await ksail(await project({}), ["workload", "build"]);
    assert.equal(none.code, 8, none.stderr);
    assert.match(none.stderr, /no spec\.images to build/);
  });

  test("Ctrl-C during the build: the process ends by SIGINT, nothing is tagged or pushed", async () => {
    const dir = await project({
      slow: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo sleeping now; sleep 120"]\n',
    });
    const run = await runKsail(["workload", "push"], {
      cwd: dir,
      env: { DOCKER_HOST: lab.dockerHost },
      onSpawn: (child) => {
        let seen = "";
        child.stderr?.on("data", (chunk: Buffer) => {
          seen += chunk.toString();
          if (seen.includes("sleeping now")) child.kill("SIGINT");
        });
      },
    });
    // Ended by the signal, or exit 130 (128 + SIGINT) as the shell reports it.
    assert.ok(run.signal === "SIGINT" || run.code === 130, `exit ${run.code}: ${run.stderr}`);
    assert.match(run.stderr, /Stopping \(SIGINT\): cancelling the build/);
    assert.deepEqual(await tags("slow"), []);
    assert.deepEqual(await tags(`app${projects}`), []);
    const named = (await lab.docker.listImages()).flatMap((i) => i.RepoTags ?? []);
    assert.deepEqual(
      named.filter((t) => t.includes("/slow:")),
      [],
    );
  });
});
