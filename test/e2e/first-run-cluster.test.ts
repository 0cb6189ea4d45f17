/**
 * A first-time user's cluster mistakes (issue 11): `workload reconcile --push` against a cluster
 * that is not there or has no Flux, and `flux sync` before `flux install`. A real kube-apiserver
 * without Flux's CRDs (lab/k8s, `bash lab/k8s/build.sh`), a real registry, the built CLI.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../lab/free-port.js";
import { startKubeLab, type KubeLab } from "../../lab/k8s/lab.js";
import { runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { RegistryClient } from "../../src/oci/client.js";

const temps: string[] = [];
let lab: KubeLab | undefined;
let registry: LabRegistry | undefined;

before(async () => {
  [lab, registry] = await Promise.all([
    startKubeLab({ controllers: false, fluxCrds: false }),
    startRegistry(),
  ]);
});
after(async () => {
  await Promise.all([lab?.stop(), registry?.stop()]);
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

/** A Flux project on the lab registry with one ConfigMap, talking to `kubeconfig`. */
async function project(name: string, kubeconfig: string, context: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-first-run-cluster-"));
  temps.push(dir);
  const init = await runKsail(
    [
      "init",
      "--name",
      name,
      "--registry-port",
      registry!.registry.split(":")[1]!,
      "--kubeconfig",
      kubeconfig,
      "--context",
      context,
    ],
    { cwd: dir },
  );
  assert.equal(init.code, 0, init.stderr);
  await writeFile(
    join(dir, "k8s", "kustomization.yaml"),
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n",
  );
  await writeFile(
    join(dir, "k8s", "cm.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  a: b\n",
  );
  return dir;
}

async function tagsOf(repository: string): Promise<string[]> {
  return new RegistryClient()
    .listTags({ registry: registry!.registry, repository })
    .catch((error: unknown) => {
      if ((error as { kind?: string }).kind === "not-found") return [];
      throw error;
    });
}

describe("reconcile --push checks the cluster before pushing", () => {
  it("an API server that is not there: exit 4, nothing pushed", async () => {
    // A kubeconfig for a port nothing listens on.
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "ksail-kubeconfig-"));
    temps.push(dir);
    const kubeconfig = join(dir, "config");
    await writeFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{ name: gone, cluster: { server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]
users: [{ name: gone, user: { token: x } }]
contexts: [{ name: gone, context: { cluster: gone, user: gone } }]
current-context: gone
`,
    );
    const cwd = await project("gone", kubeconfig, "gone");
    const run = await runKsail(["workload", "reconcile", "--push"], { cwd });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.deepEqual(await tagsOf("gone"), []);
  });

  it("a cluster without Flux: says Flux's CRDs are missing, suggests flux install, nothing pushed", async () => {
    const cwd = await project("no-flux", lab!.kubeconfigPath, "ksail-lab");
    const run = await runKsail(["workload", "reconcile", "--push"], { cwd });
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /Flux's CRDs are missing/);
    assert.match(run.stderr, /ksail flux install/);
    assert.deepEqual(await tagsOf("no-flux"), []);
  });
});

describe("flux sync before flux install", () => {
  it("says Flux's CRDs are missing and suggests `ksail flux install` (exit 6)", async () => {
    const cwd = await project("sync-no-flux", lab!.kubeconfigPath, "ksail-lab");
    const run = await runKsail(["flux", "sync"], { cwd });
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /Flux's CRDs are missing: .*OCIRepository/);
    assert.match(run.stderr, /ksail flux install/);
    assert.doesNotMatch(run.stderr, /could not find the requested resource/);
  });
});
