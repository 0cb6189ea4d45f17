/**
 * Smoke test of the Kubernetes + Flux lab (lab/k8s): the built CLI pushes a Flux artifact
 * to a real distribution registry, and the real source-controller and kustomize-controller
 * (against a real kube-apiserver) pull and apply it. Needs `npm run build` and
 * `bash lab/k8s/build.sh`.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { runKsail } from "../../lab/ksail.js";
import { kubeApply, kubeRequest } from "../../lab/k8s/lab.js";
import { startFluxLab } from "../../lab/flux-lab.js";
import type { KubeLab } from "../../lab/k8s/lab.js";
import type { LabRegistry } from "../../lab/registry.js";

type Registry = LabRegistry;
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface FluxObject {
  status?: { conditions?: Condition[] };
}

let lab: KubeLab | undefined;
let registry: Registry | undefined;
let project: string | undefined;

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-lab-smoke-"));
});

after(async () => {
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

const manifests = {
  "kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - configmap.yaml
  - deployment.yaml
`,
  "configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: smoke
  namespace: default
data:
  greeting: hello from the lab
`,
  // replicas: 0 — there is no kubelet; kube-controller-manager still makes it Available.
  "deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke
  namespace: default
spec:
  replicas: 0
  selector:
    matchLabels:
      app: smoke
  template:
    metadata:
      labels:
        app: smoke
    spec:
      containers:
        - name: app
          image: registry.invalid/smoke:1.0.0
`,
};

function ready(object: unknown): Condition | undefined {
  return (object as FluxObject | undefined)?.status?.conditions?.find((c) => c.type === "Ready");
}

it("Flux's controllers in the lab apply an artifact pushed by ksail", async () => {
  assert.ok(lab && registry && project);
  const dir = join(project, "k8s");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  for (const [name, text] of Object.entries(manifests)) await writeFile(join(dir, name), text);

  const url = `oci://${registry.registry}/smoke`;
  const push = await runKsail(
    ["workload", "push", "--registry", url, "--path", dir, "--version", "1.0.0"],
    { cwd: project },
  );
  assert.equal(push.code, 0, `push failed:\n${push.stdout}\n${push.stderr}`);

  await kubeApply(
    lab,
    {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "OCIRepository",
      metadata: { name: "smoke", namespace: "flux-system" },
      spec: { url, ref: { semver: ">=0.0.0" }, interval: "10s", insecure: true },
    },
    "ocirepositories",
  );
  await kubeApply(
    lab,
    {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "smoke", namespace: "flux-system" },
      spec: {
        sourceRef: { kind: "OCIRepository", name: "smoke" },
        path: "./",
        prune: true,
        wait: true,
        timeout: "1m",
        interval: "10s",
      },
    },
    "kustomizations",
  );

  const paths = {
    OCIRepository: "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/ocirepositories/smoke",
    Kustomization:
      "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/smoke",
  };
  const deadline = Date.now() + 90_000;
  let last: Record<string, Condition | undefined>;
  for (;;) {
    const [source, kustomization] = await Promise.all([
      kubeRequest(lab, "GET", paths.OCIRepository),
      kubeRequest(lab, "GET", paths.Kustomization),
    ]);
    last = { OCIRepository: ready(source.json), Kustomization: ready(kustomization.json) };
    if (last.OCIRepository?.status === "True" && last.Kustomization?.status === "True") break;
    if (Date.now() > deadline) {
      assert.fail(
        `not Ready within 90 s: ${JSON.stringify(last, null, 2)}\n` +
          `--- source-controller:\n${lab.logs("source-controller", 15)}\n` +
          `--- kustomize-controller:\n${lab.logs("kustomize-controller", 15)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(last.OCIRepository?.message ?? "", /1\.0\.0/);

  const configMap = await kubeRequest(lab, "GET", "/api/v1/namespaces/default/configmaps/smoke");
  assert.equal(configMap.status, 200, configMap.body);
  assert.deepEqual((configMap.json as { data?: unknown }).data, {
    greeting: "hello from the lab",
  });

  // kustomize-controller's health check passed because kube-controller-manager gave the
  // Deployment its status (no pod ever runs).
  const deployment = await kubeRequest(
    lab,
    "GET",
    "/apis/apps/v1/namespaces/default/deployments/smoke",
  );
  const status = (
    deployment.json as {
      metadata: { generation: number };
      status?: { observedGeneration?: number; conditions?: Condition[] };
    }
  ).status;
  assert.equal(
    status?.observedGeneration,
    (deployment.json as { metadata: { generation: number } }).metadata.generation,
  );
  assert.equal(status?.conditions?.find((c) => c.type === "Available")?.status, "True");
});
