/**
 * `ksail workload diff --cluster` (the built CLI, as a process) on the process lab: the local directory against what
 * kustomize-controller applied, through a server-side dry run as `kustomize-controller`:
 * a changed field (drifted, with a unified diff), an added object (created), an object that
 * `prune: true` would delete (from the Kustomization's inventory), nothing for an unchanged
 * tree, and a clear refusal for kustomize features ksail cannot build.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
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
import type { KubeLab } from "../../lab/k8s/lab.js";
import { json, runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";
import { KubeClient } from "../../src/k8s/client.js";
import type { ClusterDiffResult } from "../../src/flux/cluster-diff.js";

const NAME = "differ";
let lab: KubeLab;
let registry: LabRegistry;
let project: string;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });
const source = (file: string) => join(project, "k8s", file);
const configMap = (name: string, greeting: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  greeting: ${JSON.stringify(greeting)}\n`;
const service = `apiVersion: v1
kind: Service
metadata:
  name: ${NAME}-svc
  namespace: default
spec:
  selector:
    app: web
  ports:
    - port: 80
`;
const kustomization = (...resources: string[]) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}\n`).join("")}`;

/** `ksail workload diff --cluster -o json`: its exit code, result and error output. */
async function clusterDiff(): Promise<{
  code: number | null;
  result?: ClusterDiffResult;
  error: string;
}> {
  const run = await ksail("workload", "diff", "--cluster", "-o", "json");
  return {
    code: run.code,
    ...(run.code === 0 || run.code === 1 ? { result: json<ClusterDiffResult>(run) } : {}),
    error: run.stderr,
  };
}

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-diff-"));
  assert.equal((await ksail(...labInitArgs(lab, registry, NAME, "1h"))).code, 0);
  await pointFluxAtLabRegistry(project, registry);
  const manifests = await writeLabInstallManifests(join(project, "install.yaml"), LAB_FLUX_VERSION);
  const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
  assert.equal(install.code, 0, install.stderr);
  assert.equal((await ksail("flux", "sync")).code, 0);
  await writeFile(source("kustomization.yaml"), kustomization("settings.yaml", "old.yaml"));
  await writeFile(source("settings.yaml"), configMap(`${NAME}-settings`, "applied"));
  await writeFile(source("old.yaml"), configMap(`${NAME}-old`, "to be removed"));
  const applied = await ksail("workload", "reconcile", "--push", "--timeout", "90s");
  assert.equal(applied.code, 0, applied.stderr);
});

after(async () => {
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("ksail workload diff --cluster on a real API server and Flux", () => {
  it("reports nothing (exit 0) for the tree Flux applied", async () => {
    const { code, result, error } = await clusterDiff();
    assert.equal(code, 0, error ?? JSON.stringify(result));
    assert.deepEqual(result?.changes, []);
    assert.equal(result?.unchanged, 2);
  });

  it("reports a changed field, an added object and an object prune would delete (exit 1)", async () => {
    await writeFile(source("settings.yaml"), configMap(`${NAME}-settings`, "edited locally"));
    await writeFile(source("svc.yaml"), service);
    await writeFile(source("kustomization.yaml"), kustomization("settings.yaml", "svc.yaml"));
    await unlink(source("old.yaml"));
    const { code, result, error } = await clusterDiff();
    assert.equal(code, 1, error);
    const byAction = Object.fromEntries(result!.changes.map((c) => [c.subject, c]));
    assert.deepEqual(Object.keys(byAction).sort(), [
      `ConfigMap/default/${NAME}-old`,
      `ConfigMap/default/${NAME}-settings`,
      `Service/default/${NAME}-svc`,
    ]);
    assert.equal(byAction[`ConfigMap/default/${NAME}-settings`]!.action, "drifted");
    assert.equal(byAction[`Service/default/${NAME}-svc`]!.action, "created");
    assert.equal(byAction[`ConfigMap/default/${NAME}-old`]!.action, "deleted");
    const patch = byAction[`ConfigMap/default/${NAME}-settings`]!.patch ?? "";
    assert.match(patch, /^-\s+greeting: applied$/m);
    assert.match(patch, /^\+\s+greeting: edited locally$/m);
    const human = await ksail("workload", "diff", "--cluster");
    assert.equal(human.code, 1, human.stderr);
    assert.match(human.stdout, new RegExp(`^► ConfigMap/default/${NAME}-settings drifted$`, "m"));
    assert.match(human.stdout, new RegExp(`^► Service/default/${NAME}-svc created$`, "m"));
    assert.match(human.stdout, new RegExp(`^► ConfigMap/default/${NAME}-old deleted$`, "m"));
    // Server bookkeeping is left out of the diff.
    assert.doesNotMatch(patch, /managedFields|resourceVersion|creationTimestamp|uid:/);
  });

  it("a dry run changes nothing in the cluster", async () => {
    const kube = KubeClient.connect({ kubeconfig: lab.kubeconfigPath, context: "ksail-lab" });
    const live = await kube.getRaw<{ kind: string; data: { greeting: string } }>({
      apiVersion: "v1",
      kind: "ConfigMap",
      name: `${NAME}-settings`,
      namespace: "default",
    });
    assert.equal(live?.data.greeting, "applied");
    const svc = await kube.getRaw({
      apiVersion: "v1",
      kind: "Service",
      name: `${NAME}-svc`,
      namespace: "default",
    });
    assert.equal(svc, undefined);
  });

  it("after the change is applied, the tree is unchanged again", async () => {
    const applied = await ksail("workload", "reconcile", "--push", "--timeout", "90s");
    assert.equal(applied.code, 0, applied.stderr);
    const { code, result, error } = await clusterDiff();
    assert.equal(code, 0, error ?? JSON.stringify(result?.changes));
    assert.equal(result?.unchanged, 2);
  });

  it("refuses (exit 2) a kustomization it cannot build the way kustomize does", async () => {
    await writeFile(
      source("kustomization.yaml"),
      `${kustomization("settings.yaml", "svc.yaml")}namePrefix: dev-\n`,
    );
    const { code, error } = await clusterDiff();
    assert.equal(code, 2, error);
    assert.match(error, /kustomization\.yaml: uses namePrefix/);
    assert.match(error, /flux diff kustomization/);
  });
});
