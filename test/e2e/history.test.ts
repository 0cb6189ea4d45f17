/**
 * Artifact history end to end on the process lab (real kube-apiserver, source-controller and
 * kustomize-controller, real registry; lab/flux-lab.ts): push three versions → rollback to the
 * first (the ConfigMap holds the first value, status says pinned) → push a fourth (a warning,
 * the cluster unchanged) → resume (the fourth applied) → a rollback to a pruned version exits 6 →
 * a Kustomization whose spec.path points at the wrong folder (Ready, but none of the version's
 * objects applied: devantler-tech/ksail#6284) exits 1 naming the missing objects.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeLabInstallManifests } from "../../lab/flux-install-manifests.js";
import { kubeRequest, type KubeLab } from "../../lab/k8s/lab.js";
import {
  LAB_FLUX_VERSION,
  labInitArgs,
  pointFluxAtLabRegistry,
  startFluxLab,
} from "../../lab/flux-lab.js";
import { json, runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";

const NAME = "hist";
const NS = "flux-system";

let lab: KubeLab;
let registry: LabRegistry;
let project: string;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });

const configMapPath = `/api/v1/namespaces/default/configmaps/${NAME}-settings`;
const kustomizationPath = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${NS}/kustomizations/${NAME}`;
const ociRepositoryPath = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/ocirepositories/${NAME}`;

async function greeting(): Promise<string | undefined> {
  const response = await kubeRequest(lab, "GET", configMapPath);
  return (response.json as { data?: Record<string, string> }).data?.greeting;
}

async function writeVersion(value: string): Promise<void> {
  await writeFile(
    join(project, "k8s", "settings.yaml"),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}-settings\n  namespace: default\ndata:\n  greeting: ${JSON.stringify(value)}\n`,
  );
}

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-history-"));
});

after(async () => {
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("history: rollback, resume and the inventory check on a real API server", () => {
  it("sets up the project, Flux and the sync objects", async () => {
    const init = await ksail(...labInitArgs(lab, registry, NAME, "1h"));
    assert.equal(init.code, 0, init.stderr);
    await pointFluxAtLabRegistry(project, registry);
    const manifests = await writeLabInstallManifests(
      join(project, "install.yaml"),
      LAB_FLUX_VERSION,
    );
    const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
    assert.equal(install.code, 0, install.stderr);
    const sync = await ksail("flux", "sync");
    assert.equal(sync.code, 0, sync.stderr);
    await mkdir(join(project, "k8s"), { recursive: true });
    await writeFile(
      join(project, "k8s", "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - settings.yaml\n",
    );
  });

  it("pushes three versions; each reconcile proves its inventory", async () => {
    for (const value of ["first", "second", "third"]) {
      await writeVersion(value);
      const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s");
      assert.equal(run.code, 0, `${run.stderr}\n${lab.logs("kustomize-controller", 20)}`);
      assert.match(run.stdout, /inventory 1 objects of 0\.0\.\d, none missing, none unexpected/);
      assert.equal(await greeting(), value);
    }
  });

  it("rollback 0.0.1 pins the OCIRepository by digest and applies the first value", async () => {
    const run = await ksail("workload", "rollback", "0.0.1", "--timeout", "90s", "-o", "json");
    assert.equal(run.code, 0, `${run.stderr}\n${lab.logs("source-controller", 20)}`);
    const result = json<{ from: string; version: string; digest: string; latest: string }>(run);
    assert.deepEqual([result.from, result.version, result.latest], ["0.0.3", "0.0.1", "0.0.3"]);
    assert.equal(await greeting(), "first");
    const oci = (await kubeRequest(lab, "GET", ociRepositoryPath)).json as {
      spec: { ref: { digest?: string; semver?: string } };
    };
    assert.equal(oci.spec.ref.digest, result.digest);
    const status = await ksail("workload", "status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /version: 0\.0\.1 since \S+, pinned to 0\.0\.1 \(latest is 0\.0\.3\)/,
    );
  });

  it("a push while pinned warns and leaves the cluster on the pinned version", async () => {
    await writeVersion("fourth");
    const push = await ksail("workload", "push");
    assert.equal(push.code, 0, push.stderr);
    assert.match(
      push.stderr,
      /warning: the cluster is pinned to 0\.0\.1 .*0\.0\.4 is pushed but Flux will not apply it.*ksail workload rollback --resume/,
    );
    const reconcile = await ksail("workload", "reconcile", "--timeout", "90s");
    assert.equal(reconcile.code, 0, reconcile.stderr);
    assert.match(reconcile.stderr, /warning: the cluster is pinned to 0\.0\.1/);
    assert.equal(await greeting(), "first");
  });

  it("rollback --resume follows the newest version again: the fourth is applied", async () => {
    const run = await ksail("workload", "rollback", "--resume", "--timeout", "90s");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /resumed: no longer pinned to 0\.0\.1/);
    assert.match(run.stdout, /applied {2}0\.0\.4@sha256:/);
    assert.equal(await greeting(), "fourth");
    const status = await ksail("workload", "status", "-o", "json");
    const oci = json<{ items: { running?: { version?: string; pinned?: unknown } }[] }>(status)
      .items[0]!;
    assert.equal(oci.running?.version, "0.0.4");
    assert.equal(oci.running?.pinned, undefined);
  });

  it("with a public key, rollback verifies the version first: unsigned → exit 1, nothing pinned; signed → pinned", async () => {
    const env = { COSIGN_PASSWORD: "history-e2e" };
    const keygen = await runKsail(["workload", "keygen"], { cwd: project, env });
    assert.equal(keygen.code, 0, keygen.stderr);
    const unsigned = await ksail("workload", "rollback", "0.0.3", "--key", "cosign.pub");
    assert.equal(unsigned.code, 1, unsigned.stderr);
    assert.match(unsigned.stderr, /0\.0\.3 does not verify: .*is not signed/);
    const oci = (await kubeRequest(lab, "GET", ociRepositoryPath)).json as {
      spec: { ref: { digest?: string } };
    };
    assert.equal(oci.spec.ref.digest, undefined);
    // An unchanged push signs the version it finds (0.0.4).
    const sign = await runKsail(["workload", "push", "--sign-key", "cosign.key"], {
      cwd: project,
      env,
    });
    assert.equal(sign.code, 0, sign.stderr);
    const signed = await ksail("workload", "rollback", "0.0.4", "--key", "cosign.pub");
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(
      signed.stdout,
      /rolled back 0\.0\.4 → 0\.0\.4 .*signature verified with .*cosign\.pub/,
    );
    const resume = await ksail("workload", "rollback", "--resume", "--timeout", "90s");
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal(await greeting(), "fourth");
  });

  it("rollback to a pruned version exits 6 naming the nearest versions; the cluster stays", async () => {
    const prune = await ksail("workload", "prune", "--keep", "2");
    assert.equal(prune.code, 0, prune.stderr);
    const run = await ksail("workload", "rollback", "0.0.1");
    assert.equal(run.code, 6, run.stderr);
    assert.match(
      run.stderr,
      /version 0\.0\.1 not found in .*; newest: 0\.0\.4 \(latest\); nearest: 0\.0\.3, 0\.0\.4/,
    );
    assert.equal(await greeting(), "fourth");
  });

  it("a Kustomization whose path points at the wrong folder is Ready but fails the inventory check", async () => {
    await mkdir(join(project, "k8s", "other"), { recursive: true });
    await writeFile(
      join(project, "k8s", "other", "decoy.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}-decoy\n  namespace: default\ndata: {}\n`,
    );
    const patched = await kubeRequest(
      lab,
      "PATCH",
      kustomizationPath,
      { spec: { path: "./other" } },
      "application/merge-patch+json",
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s");
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /Kustomization flux-system\/hist reports 0\.0\.5 applied, but its inventory lacks 1 object of 0\.0\.5: ConfigMap default\/hist-settings; and holds 1 object not in 0\.0\.5: ConfigMap default\/hist-decoy/,
    );
  });
});
