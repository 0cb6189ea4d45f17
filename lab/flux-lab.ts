/**
 * The process lab with a registry, and a ksail project pointed at it: what the Flux e2e tests,
 * `npm run demo` and the reconcile benchmark share.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { startKubeLab, type KubeLab } from "./k8s/lab.js";
import { startRegistry, type LabRegistry } from "./registry.js";

/** The Flux version label of the lab's install manifests (see flux-install-manifests.ts). */
export const LAB_FLUX_VERSION = "v2.9.0";

/** Starts both; when one fails, stops the other before throwing. */
export async function startFluxLab(): Promise<{ lab: KubeLab; registry: LabRegistry }> {
  const [lab, registry] = await Promise.allSettled([startKubeLab(), startRegistry()]);
  if (lab.status === "rejected" || registry.status === "rejected") {
    if (lab.status === "fulfilled") await lab.value.stop();
    if (registry.status === "fulfilled") await registry.value.stop();
    throw lab.status === "rejected" ? lab.reason : (registry as PromiseRejectedResult).reason;
  }
  return { lab: lab.value, registry: registry.value };
}

/** `ksail init` arguments for a Flux project on the lab's registry and API server. */
export function labInitArgs(
  lab: KubeLab,
  registry: LabRegistry,
  name: string,
  interval: string,
): string[] {
  return [
    "init",
    "--name",
    name,
    "--gitops-engine",
    "Flux",
    "--registry-port",
    registry.registry.split(":")[1]!,
    "--flux-interval",
    interval,
    "--kubeconfig",
    lab.kubeconfigPath,
    "--context",
    "ksail-lab",
  ];
}

/**
 * In the lab the controllers run on this host, so they reach the registry at 127.0.0.1, not by
 * a container name: set spec.options.localRegistry.clusterAddress in the project's ksail.yaml.
 */
export async function pointFluxAtLabRegistry(
  project: string,
  registry: LabRegistry,
): Promise<void> {
  const path = join(project, "ksail.yaml");
  const doc = parseDocument(await readFile(path, "utf8"));
  doc.setIn(["spec", "options", "localRegistry", "clusterAddress"], registry.registry);
  await writeFile(path, doc.toString());
}
