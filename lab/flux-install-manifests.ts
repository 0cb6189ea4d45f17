/**
 * Flux install manifests for the process lab, assembled from the real controllers' Go modules
 * (the same versions the lab runs): their CRDs, ServiceAccounts, Deployments and RBAC, labelled
 * as Flux's install.yaml labels them. One lab-only change: the Deployments have `replicas: 0`,
 * because the controllers already run as host processes and the lab has no kubelet to run pods;
 * the real kube-controller-manager then reports them Available, so waiting is exercised for real.
 *
 * With `{ inCluster: true }` (the Kind system test) the controllers run as pods instead: the
 * Deployments keep their replicas (1) and each controller's `config/manager/service.yaml` is
 * added — source-controller's Service is the address it advertises for its artifacts
 * (`--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.`), which
 * kustomize-controller downloads from; kustomize-controller's module has no Service.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";

const run = promisify(execFile);

export const LAB_CONTROLLERS = [
  { name: "source-controller", module: "github.com/fluxcd/source-controller", version: "v1.9.1" },
  {
    name: "kustomize-controller",
    module: "github.com/fluxcd/kustomize-controller",
    version: "v1.9.4",
  },
] as const;

type Manifest = {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

async function moduleDir(module: string, version: string): Promise<string> {
  try {
    const { stdout } = await run("go", ["mod", "download", "-json", `${module}@${version}`], {
      env: { ...process.env, GOFLAGS: "-mod=mod" },
    });
    return (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (error) {
    throw new Error(
      `cannot find the Go module ${module}@${version} (run \`bash lab/k8s/build.sh\`, which downloads it): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function docs(text: string): Manifest[] {
  return text
    .split(/^---$/m)
    .map((d) => parse(d) as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

export interface LabInstallOptions {
  /**
   * For a real cluster (kubelet runs the controllers' pods): keep the Deployments' replicas and
   * add the controllers' Services. Default false: the process lab's `replicas: 0`, no Services.
   */
  inCluster?: boolean;
}

/** Writes install.yaml for Flux `fluxVersion` (the label ksail's detection reads) and returns its path. */
export async function writeLabInstallManifests(
  path: string,
  fluxVersion: string,
  options: LabInstallOptions = {},
): Promise<string> {
  const labels = {
    "app.kubernetes.io/part-of": "flux",
    "app.kubernetes.io/instance": "flux-system",
    "app.kubernetes.io/version": fluxVersion,
  };
  const label = (object: Manifest): Manifest => ({
    ...object,
    metadata: { ...object.metadata, labels: { ...object.metadata.labels, ...labels } },
  });
  const objects: Manifest[] = [
    label({ apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } }),
  ];
  for (const controller of LAB_CONTROLLERS) {
    const dir = await moduleDir(controller.module, controller.version);
    const crdDir = join(dir, "config", "crd", "bases");
    for (const file of (await readdir(crdDir)).sort()) {
      objects.push(...docs(await readFile(join(crdDir, file), "utf8")).map(label));
    }
    const [deployment] = docs(
      await readFile(join(dir, "config", "manager", "deployment.yaml"), "utf8"),
    );
    const spec = deployment!.spec as {
      replicas: number;
      template: { spec: { serviceAccountName?: string; containers: { image: string }[] } };
    };
    if (!options.inCluster) spec.replicas = 0;
    spec.template.spec.serviceAccountName = controller.name;
    spec.template.spec.containers[0]!.image = `ghcr.io/fluxcd/${controller.name}:${controller.version}`;
    objects.push(
      label({
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: controller.name, namespace: "flux-system" },
      }),
      label({ ...deployment!, metadata: { ...deployment!.metadata, namespace: "flux-system" } }),
    );
    const servicePath = join(dir, "config", "manager", "service.yaml");
    if (options.inCluster && existsSync(servicePath)) {
      for (const service of docs(await readFile(servicePath, "utf8"))) {
        objects.push(
          label({ ...service, metadata: { ...service.metadata, namespace: "flux-system" } }),
        );
      }
    }
  }
  objects.push(
    label({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "cluster-reconciler-flux-system" },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "cluster-admin",
      },
      subjects: LAB_CONTROLLERS.map((c) => ({
        kind: "ServiceAccount",
        name: c.name,
        namespace: "flux-system",
      })),
    }),
  );
  await writeFile(path, objects.map((o) => `---\n${stringify(o)}`).join(""));
  return path;
}
