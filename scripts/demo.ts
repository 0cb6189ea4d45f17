// `npm run demo`: the whole GitOps loop on a machine without Docker or kind. Starts the real
// components as local processes — a distribution registry, etcd, kube-apiserver,
// kube-controller-manager, Flux's source-controller and kustomize-controller (built from Go
// modules by lab/k8s/build.sh, cached in ~/.cache/ksail-lab) — then runs ksail as a user
// would: init, flux install, push, reconcile, change, push + reconcile, and tears it all down.
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeLabInstallManifests } from "../lab/flux-install-manifests.js";
import { kubeRequest, type KubeLab } from "../lab/k8s/lab.js";
import {
  LAB_FLUX_VERSION,
  labInitArgs,
  pointFluxAtLabRegistry,
  startFluxLab,
} from "../lab/flux-lab.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin", "ksail.js");
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text: string) => process.stdout.write(`\n${bold(`# ${text}`)}\n`);

function ksail(project: string, ...args: string[]): number {
  process.stdout.write(`${bold(`$ ksail ${args.join(" ")}`)}\n`);
  return (
    spawnSync(process.execPath, [bin, ...args], { cwd: project, stdio: "inherit" }).status ?? 1
  );
}

function expect(code: number, expected: number, what: string): void {
  if (code !== expected) throw new Error(`${what}: expected exit ${expected}, got ${code}`);
}

async function showConfigMap(lab: KubeLab, name: string): Promise<void> {
  const response = await kubeRequest(lab, "GET", `/api/v1/namespaces/default/configmaps/${name}`);
  const object = response.json as { data?: Record<string, string> } | undefined;
  process.stdout.write(
    response.status === 200
      ? `configmap/${name} in the cluster: ${JSON.stringify(object?.data)}\n`
      : `configmap/${name}: HTTP ${response.status}\n`,
  );
}

/** Polls the API server until the ConfigMap has `message` (the demo's own check, not ksail's). */
async function waitForMessage(lab: KubeLab, name: string, message: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await kubeRequest(lab, "GET", `/api/v1/namespaces/default/configmaps/${name}`);
    const object = response.json as { data?: Record<string, string> } | undefined;
    if (object?.data?.message === message) return;
    if (Date.now() > deadline) throw new Error(`configmap/${name} never got message "${message}"`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

say(
  "Building (or reusing) the lab's Kubernetes and Flux binaries — a cold build takes ~15 minutes",
);
const build = spawnSync("bash", [join(root, "lab/k8s/build.sh")], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

say(
  "Starting etcd, kube-apiserver, kube-controller-manager, source-controller, kustomize-controller and a registry on 127.0.0.1",
);
const { lab, registry } = await startFluxLab();
const project = await mkdtemp(join(tmpdir(), "ksail-demo-"));
let failed = false;
try {
  console.log(`registry ${registry.registry}, API server ${lab.server}, project ${project}`);

  say("A new project");
  expect(ksail(project, ...labInitArgs(lab, registry, "demo", "10s")), 0, "init");
  await pointFluxAtLabRegistry(project, registry);

  say(
    "Install Flux (manifests assembled from the controllers' Go modules, offline) and connect it to the artifact",
  );
  const manifests = await writeLabInstallManifests(
    join(project, "flux-install.yaml"),
    LAB_FLUX_VERSION,
  );
  expect(ksail(project, "flux", "install", "--manifests", manifests), 0, "flux install");
  expect(ksail(project, "flux", "sync"), 0, "flux sync");

  say("Version 1: a ConfigMap, pushed as an OCI artifact and reconciled now");
  const greeting = (text: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: default\ndata:\n  message: "${text}"\n`;
  await writeFile(join(project, "k8s", "greeting.yaml"), greeting("hello"));
  const kustomization = (...files: string[]) =>
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${files.map((f) => `  - ${f}\n`).join("")}`;
  await writeFile(join(project, "k8s", "kustomization.yaml"), kustomization("greeting.yaml"));
  expect(ksail(project, "workload", "push"), 0, "push");
  expect(ksail(project, "workload", "reconcile"), 0, "reconcile");
  await showConfigMap(lab, "greeting");

  say("Version 2: change the manifest, see the diff, push and reconcile in one step");
  await writeFile(join(project, "k8s", "greeting.yaml"), greeting("hello, world"));
  expect(ksail(project, "workload", "diff"), 1, "diff");
  expect(ksail(project, "workload", "reconcile", "--push"), 0, "reconcile --push");
  await showConfigMap(lab, "greeting");

  say("What is in the registry and what Flux says");
  expect(ksail(project, "workload", "versions"), 0, "versions");
  expect(ksail(project, "workload", "status"), 0, "status");

  say("An invalid manifest never reaches the registry");
  await writeFile(join(project, "k8s", "broken.yaml"), "kind: ConfigMap\nmetadata: {}\n");
  await writeFile(
    join(project, "k8s", "kustomization.yaml"),
    kustomization("greeting.yaml", "broken.yaml"),
  );
  expect(ksail(project, "workload", "push"), 3, "invalid push");
  await writeFile(join(project, "k8s", "kustomization.yaml"), kustomization("greeting.yaml"));
  await unlink(join(project, "k8s", "broken.yaml"));

  say(
    "Before pushing: what would Flux change in the cluster? (a server-side dry run as kustomize-controller)",
  );
  await writeFile(join(project, "k8s", "greeting.yaml"), greeting("hello, cluster"));
  expect(ksail(project, "workload", "diff", "--cluster"), 1, "diff --cluster");

  say(
    "The inner loop: `ksail workload watch` validates, pushes and applies every save until Ctrl-C",
  );
  process.stdout.write(`${bold("$ ksail workload watch")}\n`);
  const watch = spawn(process.execPath, [bin, "workload", "watch"], {
    cwd: project,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => watch.on("close", resolve));
  try {
    await waitForMessage(lab, "greeting", "hello, cluster");
    for (const text of ["saved once", "saved twice"]) {
      await writeFile(join(project, "k8s", "greeting.yaml"), greeting(text));
      await waitForMessage(lab, "greeting", text);
    }
    await showConfigMap(lab, "greeting");
  } finally {
    watch.kill("SIGINT");
  }
  expect((await exited) ?? 1, 0, "watch after Ctrl-C");
} catch (error) {
  failed = true;
  console.error(`\ndemo failed: ${(error as Error).message}`);
} finally {
  await Promise.all([lab.stop(), registry.stop()]);
  await rm(project, { recursive: true, force: true });
}
console.log(failed ? "" : "\ndemo finished: every process stopped, the temporary project removed");
process.exitCode = failed ? 1 : 0;
