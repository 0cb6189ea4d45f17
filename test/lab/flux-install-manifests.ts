/**
 * Flux install manifests for the process lab, assembled from the real controllers' Go modules
 * (the same versions the lab runs): their CRDs, ServiceAccounts, Deployments and RBAC, labelled
 * as Flux's install.yaml labels them. One lab-only change: the Deployments have `replicas: 0`,
 * because the controllers already run as host processes and the lab has no kubelet to run pods;
 * the real kube-controller-manager then reports them Available, so waiting is exercised for real.
 */
import { execFile } from "node:child_process";
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
      `cannot find the Go module ${module}@${version} (run \`bash test/lab/k8s/build.sh\`, which downloads it): ${(error as Error).message}`,
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

/** Writes install.yaml for Flux `fluxVersion` (the label ksail's detection reads) and returns its path. */
export async function writeLabInstallManifests(path: string, fluxVersion: string): Promise<string> {
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
    spec.replicas = 0;
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
