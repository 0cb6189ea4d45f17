/**
 * The GitOps loop end to end (issue 4), every part real: the built ksail CLI as a process, a
 * distribution registry, etcd + kube-apiserver + kube-controller-manager built from
 * k8s.io/kubernetes, and Flux's source-controller + kustomize-controller built from their Go
 * modules (lab/k8s). What the lab cannot do: run pods (no kubelet) — so the Flux
 * Deployments ksail installs have replicas 0 (the controllers already run as processes) and
 * the test workload's Deployment has replicas 0; kube-controller-manager reports them Available.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
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
import { eventually as pollUntil } from "../../lab/eventually.js";
import { json, runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";

const NAME = "loop";
const NS = "flux-system";

let lab: KubeLab;
let registry: LabRegistry;
let project: string;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });

/** The fields these tests read from API objects. */
interface ApiObject {
  metadata: {
    labels: Record<string, string>;
    managedFields: { manager: string; operation: string }[];
  };
  spec: { ref?: unknown; insecure?: boolean; interval?: string; prune?: boolean };
  status: { conditions: { type: string; status: string }[] };
  data?: Record<string, string>;
}

interface CrdObject {
  spec: {
    versions: {
      name: string;
      schema: {
        openAPIV3Schema: {
          properties: { spec: { properties: Record<string, { default?: unknown }> } };
        };
      };
    }[];
  };
}

async function get(path: string): Promise<{ status: number; object: ApiObject }> {
  const response = await kubeRequest(lab, "GET", path);
  return { status: response.status, object: response.json as ApiObject };
}
const configMapPath = `/api/v1/namespaces/default/configmaps/${NAME}-settings`;
const deploymentPath = `/apis/apps/v1/namespaces/default/deployments/${NAME}-web`;
const kustomizationPath = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${NS}/kustomizations/${NAME}`;

const configMap = (greeting: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${NAME}-settings
  namespace: default
data:
  greeting: ${JSON.stringify(greeting)}
`;
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
const kustomization = (...resources: string[]) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${resources.map((r) => `  - ${r}\n`).join("")}`;

async function writeSource(files: Record<string, string | undefined>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const path = join(project, "k8s", name);
    if (content === undefined) await unlink(path).catch(() => {});
    else await writeFile(path, content);
  }
}

/** Polls the API server every 250 ms and shows kustomize-controller's log on a timeout. */
const eventually = (what: string, check: () => Promise<boolean>, timeoutMs: number) =>
  pollUntil(what, check, {
    timeoutMs,
    intervalMs: 250,
    diagnose: () => `--- kustomize-controller ---\n${lab.logs("kustomize-controller", 15)}`,
  });

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-"));
});

after(async () => {
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("ksail + Flux on a real API server", () => {
  it("init writes a project that points at the lab", async () => {
    const run = await ksail(...labInitArgs(lab, registry, NAME, "10s"));
    assert.equal(run.code, 0, run.stderr);
    await pointFluxAtLabRegistry(project, registry);
  });

  it("flux install applies the CRDs and controllers and waits for them; a second install is a no-op", async () => {
    const manifests = await writeLabInstallManifests(
      join(project, "install.yaml"),
      LAB_FLUX_VERSION,
    );
    const first = await ksail(
      "flux",
      "install",
      "--manifests",
      manifests,
      "--timeout",
      "2m",
      "-o",
      "json",
    );
    assert.equal(first.code, 0, first.stderr);
    assert.equal(json(first).action, "installed");
    assert.match(first.stderr, /✓ Controllers ready \(source-controller, kustomize-controller\)/);
    const crd = await get(
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ocirepositories.source.toolkit.fluxcd.io",
    );
    assert.equal(crd.object.metadata.labels["app.kubernetes.io/version"], LAB_FLUX_VERSION);
    // Applied exactly as written: schema defaults survive (client-node's typed serializer once
    // dropped them, and source-controller then crashed on a nil spec.timeout).
    const v1 = (crd.object as unknown as CrdObject).spec.versions.find((v) => v.name === "v1");
    assert.equal(v1?.schema.openAPIV3Schema.properties.spec.properties.timeout?.default, "60s");
    const sc = await get(`/apis/apps/v1/namespaces/${NS}/deployments/source-controller`);
    assert.equal(sc.status, 200);
    assert.equal(sc.object.status.conditions.find((c) => c.type === "Available")?.status, "True");

    const second = await ksail("flux", "install", "--manifests", manifests, "-o", "json");
    assert.equal(second.code, 0, second.stderr);
    assert.equal(json(second).action, "unchanged");
    assert.match(second.stderr, /already installed; nothing to do/);

    const older = await writeLabInstallManifests(join(project, "older.yaml"), "v2.8.0");
    const kept = await ksail("flux", "install", "--manifests", older, "-o", "json");
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(json(kept).action, "kept-newer");
    assert.equal(
      (
        await get(
          "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ocirepositories.source.toolkit.fluxcd.io",
        )
      ).object.metadata.labels["app.kubernetes.io/version"],
      LAB_FLUX_VERSION,
    );

    const status = await ksail("flux", "status", "-o", "json");
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(
      json<{ version: string; controllers: { name: string; ready: boolean }[] }>(
        status,
      ).controllers.map((c) => [c.name, c.ready]),
      [
        ["kustomize-controller", true],
        ["source-controller", true],
      ],
    );
  });

  it("the Flux step of `ksail up` (bootstrapFlux) keeps the installed Flux and applies the sync objects", async () => {
    const { loadConfig } = await import("../../src/config/load.js");
    const { KubeClient } = await import("../../src/k8s/client.js");
    const { bootstrapFlux } = await import("../../src/flux/bootstrap.js");
    const { silentProgress } = await import("../../src/progress.js");
    const { config } = await loadConfig({ cwd: project, env: {}, required: true });
    const kube = KubeClient.connect({ kubeconfig: lab.kubeconfigPath, context: "ksail-lab" });
    const result = await bootstrapFlux(
      { kube },
      {
        config,
        manifests: join(project, "install.yaml"),
        cacheDir: join(project, "cache"),
        timeoutMs: 60_000,
      },
      silentProgress,
    );
    assert.equal(result.action, "unchanged");
    assert.equal((await get(kustomizationPath)).status, 200);
  });

  it("flux sync applies the OCIRepository and Kustomization that gen prints", async () => {
    const gen = await ksail("workload", "gen", "flux");
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, new RegExp(`url: oci://${registry.registry}/${NAME}`));
    const sync = await ksail("flux", "sync");
    assert.equal(sync.code, 0, sync.stderr);
    const oci = await get(
      `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/ocirepositories/${NAME}`,
    );
    assert.equal(oci.status, 200);
    assert.deepEqual(oci.object.spec.ref, { semver: ">=0.0.0" });
    assert.equal(oci.object.spec.insecure, true);
    assert.equal(oci.object.spec.interval, "10s");
    const ks = await get(kustomizationPath);
    assert.equal(ks.object.spec.prune, true);
    assert.equal(
      ks.object.metadata.managedFields.find((f) => f.manager === "ksail")?.operation,
      "Apply",
    );
  });

  it("push version 1 → reconcile applies the ConfigMap and the Deployment", async () => {
    await writeSource({
      "kustomization.yaml": kustomization("settings.yaml", "web.yaml"),
      "settings.yaml": configMap("v1"),
      "web.yaml": deployment(),
    });
    const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s", "-o", "json");
    assert.equal(run.code, 0, `${run.stderr}\n${lab.logs("kustomize-controller", 20)}`);
    const result = json<{
      pushed: { version: string; digest: string };
      steps: { kind: string; revision: string }[];
    }>(run);
    assert.equal(result.pushed.version, "0.0.1");
    assert.equal(result.steps[0]!.revision, `0.0.1@${result.pushed.digest}`);
    assert.equal(result.steps[1]!.revision, `0.0.1@${result.pushed.digest}`);
    assert.match(run.stderr, /✓ Kustomization flux-system\/loop applied 0\.0\.1@sha256:/);
    assert.equal((await get(configMapPath)).object.data?.greeting, "v1");
    assert.equal((await get(deploymentPath)).status, 200);
  });

  it("push version 2 → reconcile updates the ConfigMap and prunes the removed Deployment", async () => {
    // Five ~1 MB documents (not resources) make the layer larger than one gzip segment, so
    // Flux's Go gzip readers (source-controller and kustomize-controller) read a multi-member layer.
    await mkdir(join(project, "k8s", "docs"), { recursive: true });
    for (let i = 0; i < 5; i++) {
      const lines = Array.from(
        { length: 55_000 },
        (_, n) => `note ${i}-${n} ${(n * 7919) % 10007}`,
      );
      await writeFile(join(project, "k8s", "docs", `notes-${i}.txt`), `${lines.join("\n")}\n`);
    }
    await writeSource({
      "kustomization.yaml": kustomization("settings.yaml"),
      "settings.yaml": configMap("v2"),
      "web.yaml": undefined,
    });
    const push = await ksail("workload", "push", "-o", "json");
    assert.equal(push.code, 0, push.stderr);
    assert.equal(json(push).version, "0.0.2");
    const { GZIP_SEGMENT } = await import("../../src/artifact/layer.js");
    const docs = await readdir(join(project, "k8s", "docs"));
    const docBytes = (
      await Promise.all(docs.map((d) => stat(join(project, "k8s", "docs", d))))
    ).reduce((sum, st) => sum + st.size, 0);
    assert.ok(docBytes > GZIP_SEGMENT, `only ${docBytes} bytes: the layer would be one member`);
    const run = await ksail("workload", "reconcile", "--timeout", "90s");
    assert.equal(run.code, 0, `${run.stderr}\n${lab.logs("kustomize-controller", 20)}`);
    assert.match(run.stdout, /applied\s+0\.0\.2@sha256:/);
    assert.equal((await get(configMapPath)).object.data?.greeting, "v2");
    await eventually(
      "the Deployment being pruned",
      async () => (await get(deploymentPath)).status === 404,
      30_000,
    );
  });

  it("a hand edit in the cluster is drift: reconcile lets Flux restore the pushed content", async () => {
    const edit = await kubeRequest(
      lab,
      "PATCH",
      configMapPath,
      { data: { greeting: "edited by hand" } },
      "application/merge-patch+json",
    );
    assert.equal(edit.status, 200, edit.body);
    assert.equal((await get(configMapPath)).object.data?.greeting, "edited by hand");
    const run = await ksail("workload", "reconcile", "--timeout", "60s");
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await get(configMapPath)).object.data?.greeting, "v2");
  });

  it("flux sync again keeps what others added to the objects (server-side apply)", async () => {
    const ociPath = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/ocirepositories/${NAME}`;
    const label = await kubeRequest(
      lab,
      "PATCH",
      `${ociPath}?fieldManager=platform-team`,
      { metadata: { labels: { team: "payments" } } },
      "application/merge-patch+json",
    );
    assert.equal(label.status, 200, label.body);
    const sync = await ksail("flux", "sync");
    assert.equal(sync.code, 0, sync.stderr);
    const oci = await get(ociPath);
    assert.equal(oci.object.metadata.labels.team, "payments");
    assert.equal(oci.object.metadata.labels["app.kubernetes.io/managed-by"], "ksail");
  });

  it("a new version is applied without the command within the interval (US5)", async () => {
    await writeSource({ "settings.yaml": configMap("v3") });
    assert.equal((await ksail("workload", "push")).code, 0);
    // interval 10s: the OCIRepository polls the registry, then the Kustomization applies.
    const ms = await eventually(
      "automatic reconciliation of 0.0.3",
      async () => (await get(configMapPath)).object.data?.greeting === "v3",
      60_000,
    );
    assert.ok(ms >= 0);
  });

  it("an invalid object makes reconcile fail with the Kustomization's own message (FR-013)", async () => {
    await writeSource({
      "kustomization.yaml": kustomization("settings.yaml", "web.yaml"),
      "web.yaml": deployment(false),
    });
    const run = await ksail("workload", "reconcile", "--push", "--timeout", "60s");
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /Kustomization\/loop in namespace flux-system is not ready \(\w+\): .*selector/i,
    );
    assert.match(run.stderr, /hint: kubectl describe kustomization -n flux-system loop/);
    // `status` is a snapshot: while kustomize-controller retries (Ready Unknown, Progressing)
    // it says so; once that run has failed again it shows Flux's message.
    type Status = {
      items: { kind: string; ready: boolean; readyStatus: string; message?: string }[];
    };
    let status: Awaited<ReturnType<typeof ksail>> | undefined;
    await eventually(
      "the Kustomization's retry to finish",
      async () => {
        status = await ksail("workload", "status", "-o", "json");
        return json<Status>(status).items[1]?.readyStatus !== "Unknown";
      },
      30_000,
    );
    assert.equal(status?.code, 1);
    const [oci, ks] = json<Status>(status!).items;
    assert.equal(oci!.ready, true);
    assert.equal(oci!.readyStatus, "True");
    assert.equal(ks!.ready, false);
    assert.equal(ks!.readyStatus, "False");
    assert.match(ks!.message ?? "", /selector/i);
  });

  it("a suspended Kustomization is a clear error, not a wait", async () => {
    await writeSource({ "web.yaml": deployment(true) });
    assert.equal((await ksail("workload", "push")).code, 0);
    const patch = await kubeRequest(
      lab,
      "PATCH",
      kustomizationPath,
      { spec: { suspend: true } },
      "application/merge-patch+json",
    );
    assert.equal(patch.status, 200, patch.body);
    const run = await ksail("workload", "reconcile", "--timeout", "60s");
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /Kustomization\/loop in namespace flux-system is suspended/);
    assert.ok(run.ms < 15_000, "a suspended object must fail at once, not after the timeout");
    await kubeRequest(
      lab,
      "PATCH",
      kustomizationPath,
      { spec: { suspend: false } },
      "application/merge-patch+json",
    );
    const resumed = await ksail("workload", "reconcile", "--timeout", "90s");
    assert.equal(resumed.code, 0, resumed.stderr);
  });

  it("with the registry stopped, reconcile fails with the OCIRepository's message", async () => {
    await registry.stop();
    const run = await ksail("workload", "reconcile", "--timeout", "60s");
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /OCIRepository\/loop in namespace flux-system is not ready/);
    assert.ok(run.stderr.includes(registry.registry), run.stderr);
  });
});
