/**
 * `ksail workload watch` and the artifact history on the process lab (real kube-apiserver,
 * source-controller, kustomize-controller, distribution registry): while the cluster is pinned by
 * `workload rollback`, every cycle warns (with how to resume) and reports its version pushed,
 * not applied, and the ConfigMap keeps the pinned value; after `rollback --resume` saves are
 * applied again and each cycle proves the Kustomization's inventory (generated ConfigMaps, with
 * kustomize's name hash, included); a Kustomization whose spec.path points at the wrong folder
 * (Ready, but none of the version's objects applied: devantler-tech/ksail#6284) fails the cycle,
 * naming the missing and unexpected objects, and the watch goes on.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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
import { startWatch, type WatchRun } from "../../lab/watch.js";
import { nameHash } from "../../src/flux/name-hash.js";

const NAME = "pinwatch";
const NS = "flux-system";
let lab: KubeLab;
let registry: LabRegistry;
let project: string;
let watch: WatchRun;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });
const source = (file: string) => join(project, "k8s", file);
const kustomizationPath = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${NS}/kustomizations/${NAME}`;
const KUSTOMIZATION =
  "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - settings.yaml\n";

async function writeVersion(value: string): Promise<void> {
  await writeFile(
    source("settings.yaml"),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}-settings\n  namespace: default\ndata:\n  greeting: ${JSON.stringify(value)}\n`,
  );
}

async function greeting(): Promise<string | undefined> {
  const response = await kubeRequest(
    lab,
    "GET",
    `/api/v1/namespaces/default/configmaps/${NAME}-settings`,
  );
  return (response.json as { data?: { greeting?: string } } | undefined)?.data?.greeting;
}

const pinnedWarnings = () =>
  watch
    .describe()
    .split("\n")
    .filter((line) =>
      /warning: the cluster is pinned to 0\.0\.1 .*; 0\.0\.\d is pushed but Flux will not apply it — resume following the newest version with `ksail workload rollback --resume`/.test(
        line,
      ),
    ).length;

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-watch-history-"));
  assert.equal((await ksail(...labInitArgs(lab, registry, NAME, "1h"))).code, 0);
  await pointFluxAtLabRegistry(project, registry);
  const manifests = await writeLabInstallManifests(join(project, "install.yaml"), LAB_FLUX_VERSION);
  const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
  assert.equal(install.code, 0, install.stderr);
  const sync = await ksail("flux", "sync");
  assert.equal(sync.code, 0, sync.stderr);
  await mkdir(join(project, "k8s"), { recursive: true });
  await writeFile(source("kustomization.yaml"), KUSTOMIZATION);
  // In the artifact, not in the kustomization: what a wrong spec.path applies instead.
  await mkdir(source("other"), { recursive: true });
  await writeFile(
    source("other/decoy.yaml"),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}-decoy\n  namespace: default\ndata: {}\n`,
  );
});

after(async () => {
  await watch?.stop().catch(() => undefined);
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("workload watch with rollback and the inventory check", () => {
  it("two versions applied, then rolled back to the first", async () => {
    for (const value of ["first", "second"]) {
      await writeVersion(value);
      const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s");
      assert.equal(run.code, 0, run.stderr);
    }
    const rollback = await ksail("workload", "rollback", "0.0.1", "--timeout", "90s");
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.equal(await greeting(), "first");
  });

  it("while pinned, every cycle warns how to resume and says its version is not applied", async () => {
    await writeVersion("third");
    watch = startWatch({ project, args: ["--timeout", "60s"] });
    const start = await watch.cycle(1);
    assert.equal(start.outcome, "pinned", watch.describe());
    assert.equal(start.version, "0.0.3");
    assert.equal(start.pinnedTo, "0.0.1");
    assert.equal(pinnedWarnings(), 1, watch.describe());
    assert.equal(await greeting(), "first");

    await writeVersion("fourth");
    const save = await watch.cycle(2);
    assert.equal(save.outcome, "pinned", watch.describe());
    assert.equal(save.version, "0.0.4");
    assert.equal(pinnedWarnings(), 2, watch.describe());
    assert.equal(await greeting(), "first");
  });

  it("after rollback --resume, a save is applied and its inventory proven", async () => {
    const resume = await ksail("workload", "rollback", "--resume", "--timeout", "90s");
    assert.equal(resume.code, 0, resume.stderr);
    await writeVersion("fifth");
    const save = await watch.cycle(3);
    assert.equal(save.outcome, "applied", watch.describe());
    assert.equal(save.version, "0.0.5");
    assert.deepEqual(save.inventory, { expected: 1 });
    assert.equal(await greeting(), "fifth");
  });

  it("a generated ConfigMap (name-<hash>) is matched in the inventory", async () => {
    await writeFile(
      source("kustomization.yaml"),
      `${KUSTOMIZATION}configMapGenerator:\n  - name: ${NAME}-generated\n    namespace: default\n    literals:\n      - colour=blue\n`,
    );
    const save = await watch.cycle(4);
    assert.equal(save.outcome, "applied", watch.describe());
    assert.deepEqual(save.inventory, { expected: 2 }, watch.describe());
    assert.doesNotMatch(watch.describe(), /inventory not checked/);
    // ksail's computed hash is the one kustomize-controller applied.
    const hash = nameHash("ConfigMap", { data: new Map([["colour", "blue"]]) });
    const applied = await kubeRequest(
      lab,
      "GET",
      `/api/v1/namespaces/default/configmaps/${NAME}-generated-${hash}`,
    );
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
  });

  it("a Kustomization whose path points at the wrong folder fails the cycle, naming the objects; the watch goes on", async () => {
    await writeFile(source("kustomization.yaml"), KUSTOMIZATION);
    const cleaned = await watch.cycle(5);
    assert.equal(cleaned.outcome, "applied", watch.describe());
    const patched = await kubeRequest(
      lab,
      "PATCH",
      kustomizationPath,
      { spec: { path: "./other" } },
      "application/merge-patch+json",
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    await writeVersion("sixth");
    const wrong = await watch.cycle(6);
    assert.equal(wrong.outcome, "failed", watch.describe());
    assert.equal(wrong.version, "0.0.8");
    assert.match(
      wrong.message ?? "",
      /Kustomization flux-system\/pinwatch reports 0\.0\.8 applied, but its inventory lacks 1 object of 0\.0\.8: ConfigMap default\/pinwatch-settings; and holds 1 object not in 0\.0\.8: ConfigMap default\/pinwatch-decoy/,
    );
    assert.match(wrong.hint ?? "", /spec\.path/);

    const fixed = await kubeRequest(
      lab,
      "PATCH",
      kustomizationPath,
      { spec: { path: "./" } },
      "application/merge-patch+json",
    );
    assert.equal(fixed.status, 200, JSON.stringify(fixed.json));
    await writeVersion("seventh");
    const again = await watch.cycle(7);
    assert.equal(again.outcome, "applied", watch.describe());
    assert.equal(await greeting(), "seventh");
  });
});
