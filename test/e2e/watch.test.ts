/**
 * `ksail workload watch` (the built CLI, as a process) on the process lab (real kube-apiserver, source-controller,
 * kustomize-controller, distribution registry): saves become versions that Flux applies, an
 * invalid save pushes nothing, Flux's failure is shown and the loop goes on, ignored and editor
 * temp files start no cycle, every way of saving a file (in place, sed -i, rename, delete +
 * create, git checkout / stash, folder moves, 100 saves a second) is applied with one cycle each,
 * and stopping leaves no tag on missing content.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseFluxManifest } from "../../src/artifact/manifest.js";
import { RegistryClient } from "../../src/oci/client.js";
import { semverTags } from "../../src/workload/versions.js";
import { writeLabInstallManifests } from "../../lab/flux-install-manifests.js";
import {
  LAB_FLUX_VERSION,
  labInitArgs,
  pointFluxAtLabRegistry,
  startFluxLab,
} from "../../lab/flux-lab.js";
import { kubeRequest, type KubeLab } from "../../lab/k8s/lab.js";
import { runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";
import { git, gitInit, SAVE_STYLES, startWatch, type WatchRun } from "../../lab/watch.js";

const NAME = "watched";
let lab: KubeLab;
let registry: LabRegistry;
let project: string;
let watch: WatchRun;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });
const source = (file: string) => join(project, "k8s", file);
const configMap = (greeting: string, name = `${NAME}-settings`) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  greeting: ${JSON.stringify(greeting)}\n`;
const deployment = (withSelector = true) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${NAME}-web
  namespace: default
spec:
  replicas: 0
${withSelector ? "  selector:\n    matchLabels:\n      app: web\n" : ""}  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: localhost:5000/web:1
`;

async function greeting(name = `${NAME}-settings`): Promise<string | undefined> {
  const response = await kubeRequest(lab, "GET", `/api/v1/namespaces/default/configmaps/${name}`);
  return (response.json as { data?: { greeting?: string } } | undefined)?.data?.greeting;
}

const registryClient = new RegistryClient();
const repo = () => ({ registry: registry.registry, repository: NAME });

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-watch-"));
  // A project as `ksail init` + `flux install` + `flux sync` make it, on the lab.
  assert.equal((await ksail(...labInitArgs(lab, registry, NAME, "1h"))).code, 0);
  await pointFluxAtLabRegistry(project, registry);
  const manifests = await writeLabInstallManifests(join(project, "install.yaml"), LAB_FLUX_VERSION);
  const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
  assert.equal(install.code, 0, install.stderr);
  const sync = await ksail("flux", "sync");
  assert.equal(sync.code, 0, sync.stderr);
  await writeFile(
    source("kustomization.yaml"),
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - settings.yaml\n  - web.yaml\n",
  );
  await writeFile(source("settings.yaml"), configMap("v0"));
  await writeFile(source("web.yaml"), deployment());
  await writeFile(source(".sourceignore"), "drafts/\n");
});

after(async () => {
  await watch?.stop().catch(() => undefined);
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("ksail workload watch on a real API server and Flux", () => {
  it("starts by pushing and applying the directory as it is", async () => {
    watch = startWatch({ project, args: ["--timeout", "60s"] });
    const start = await watch.cycle(1);
    assert.equal(start.outcome, "applied", watch.describe());
    assert.equal(start.version, "0.0.1");
    assert.equal(await greeting(), "v0");
  });

  it("applies three successive edits, one version each", async () => {
    for (const [i, value] of ["v1", "v2", "v3"].entries()) {
      await writeFile(source("settings.yaml"), configMap(value));
      const report = await watch.cycle(2 + i);
      assert.equal(report.outcome, "applied", watch.describe());
      assert.deepEqual(report.changed, ["settings.yaml"]);
      assert.equal(report.version, `0.0.${2 + i}`);
      assert.ok(report.timings.fetchMs !== undefined && report.timings.applyMs !== undefined);
      // Applied means in the API server when the cycle reports it.
      assert.equal(await greeting(), value);
    }
  });

  it("an invalid save pushes nothing and names file and line; the next valid save is applied", async () => {
    await writeFile(
      source("settings.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: default\ndata: {}\n",
    );
    const invalid = await watch.cycle(5);
    assert.equal(invalid.outcome, "invalid", watch.describe());
    assert.match(
      invalid.problems?.join("\n") ?? "",
      /settings\.yaml:3:\d+: missing metadata\.name/,
    );
    assert.equal(semverTags(await registryClient.listTags(repo())).at(-1), "0.0.4");
    assert.equal(await greeting(), "v3");

    await writeFile(source("settings.yaml"), configMap("v4"));
    const fixed = await watch.cycle(6);
    assert.equal(fixed.outcome, "applied", watch.describe());
    assert.equal(fixed.version, "0.0.5");
    assert.equal(await greeting(), "v4");
  });

  it("a Deployment Flux cannot apply shows Flux's message, and the loop goes on", async () => {
    await writeFile(source("web.yaml"), deployment(false));
    const broken = await watch.cycle(7);
    assert.equal(broken.outcome, "flux-failed", watch.describe());
    assert.equal(broken.version, "0.0.6");
    assert.match(
      broken.message ?? "",
      /Kustomization\/watched in namespace flux-system .*selector/i,
    );

    await writeFile(source("web.yaml"), deployment(true));
    await writeFile(source("settings.yaml"), configMap("v5"));
    const repaired = await watch.cycle(8);
    assert.equal(repaired.outcome, "applied", watch.describe());
    assert.equal(await greeting(), "v5");
  });

  it("ignored and editor temp files start no cycle", async () => {
    await mkdir(source("drafts"), { recursive: true });
    await writeFile(source("drafts/next.yaml"), configMap("draft"));
    await writeFile(source("4913"), "");
    await writeFile(source("settings.yaml.swp"), "swap");
    await writeFile(source("settings.yaml~"), "backup");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await writeFile(source("settings.yaml"), configMap("v6"));
    const next = await watch.cycle(9);
    assert.deepEqual(next.changed, ["settings.yaml"], watch.describe());
    assert.equal(watch.reports.length, 9, watch.describe());
    assert.equal(next.outcome, "applied");
  });

  it("every way of saving is applied, one cycle each: sed -i, rename, git, folder moves, 100 saves a second", async () => {
    const dir = join(project, "k8s");
    const scratch = await mkdtemp(join(tmpdir(), "ksail-e2e-watch-scratch-"));
    let n = watch.reports.length;
    /** The next cycle applies, and then the API server has `value`; any other cycle fails. */
    const applied = async (what: string, value: string, name?: string) => {
      n++;
      const report = await watch.cycle(n, 60_000);
      assert.equal(
        report.outcome,
        "applied",
        `${what}: ${JSON.stringify(report)}\n${watch.describe()}`,
      );
      assert.equal(await greeting(name), value, what);
    };
    try {
      for (const [i, style] of SAVE_STYLES.entries()) {
        await style.save({ dir, file: "settings.yaml", scratch }, configMap(`style-${i}`));
        await applied(style.name, `style-${i}`);
      }
      const base = `style-${SAVE_STYLES.length - 1}`;

      await gitInit(project);
      await writeFile(source("settings.yaml"), configMap("git-1"));
      await applied("edit in a git work tree", "git-1");
      await git(project, "checkout", "--", "k8s/settings.yaml");
      await applied("git checkout -- file", base);
      await writeFile(source("settings.yaml"), configMap("git-2"));
      await applied("edit after git checkout", "git-2");
      await git(project, "stash", "-q");
      await applied("git stash", base);
      await git(project, "stash", "pop", "-q");
      await applied("git stash pop", "git-2");

      // Folders: Flux generates the kustomization (all manifests under the path) from here on.
      await rm(source("kustomization.yaml"));
      await applied("kustomization.yaml removed", "git-2");
      const extra = `${NAME}-extra`;
      await mkdir(source("apps"));
      await writeFile(source("apps/extra.yaml"), configMap("extra-1", extra));
      await applied("a new folder with a file", "extra-1", extra);
      await rename(source("apps"), source("moved"));
      await applied("folder renamed", "extra-1", extra);
      await writeFile(source("moved/extra.yaml"), configMap("extra-2", extra));
      await applied("edit in the renamed folder", "extra-2", extra);

      // 100 saves in one second, by turns in place and by rename: the last one is applied, the
      // ones before may share cycles, none fails and nothing is applied twice.
      for (let i = 1; i <= 100; i++) {
        await SAVE_STYLES[i % 2 === 0 ? 0 : 4]!.save(
          { dir, file: "settings.yaml", scratch },
          configMap(`burst-${i}`),
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (;;) {
        n++;
        const report = await watch.cycle(n, 60_000);
        assert.equal(
          report.outcome,
          "applied",
          `burst: ${JSON.stringify(report)}\n${watch.describe()}`,
        );
        if ((await greeting()) === "burst-100") break;
      }
      await writeFile(source("settings.yaml"), configMap("after-burst"));
      await applied("the save after the burst (no doubled cycle before it)", "after-burst");
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("Ctrl-C in the middle of a cycle exits 0 and leaves every tag on a complete artifact", async () => {
    await writeFile(source("settings.yaml"), configMap("v7"));
    await new Promise((resolve) => setTimeout(resolve, 120));
    const stopped = await watch.stop("SIGINT");
    assert.equal(stopped.exitCode, 0, watch.describe());
    assert.match(watch.describe(), /Stopped after \d+ cycle/);
    for (const tag of await registryClient.listTags(repo())) {
      const manifest = parseFluxManifest((await registryClient.fetchManifest(repo(), tag)).bytes);
      assert.ok(await registryClient.blobExists(repo(), manifest.layer.digest), tag);
      assert.ok(await registryClient.blobExists(repo(), manifest.configDigest), tag);
    }
  });
});
