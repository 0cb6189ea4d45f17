/**
 * Installing Flux (FR-001, FR-002, FR-016): the install manifests of a pinned Flux release,
 * applied with server-side apply (CRDs and namespaces first), then waited on. An existing
 * installation is detected by Flux's own labels and never duplicated.
 */
import { mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import coerce from "semver/functions/coerce.js";
import compare from "semver/functions/compare.js";
import { parseAllDocuments } from "yaml";
import { KsailError } from "../errors.js";
import { PINNED_FLUX_VERSION } from "../pins.js";
import { readBoundedFile } from "../util/bounded-read.js";
import type { KubeClient, KubernetesObject, ObjectRef } from "../k8s/client.js";
import { describeRef, refOf } from "../k8s/client.js";
import type { Progress } from "../progress.js";
import { mapLimit } from "../util/map-limit.js";
import { condition, type FluxObject } from "./readiness.js";

/** The Flux release this ksail is pinned to (source-controller and kustomize-controller v1.9.x). */
export const DEFAULT_FLUX_VERSION = PINNED_FLUX_VERSION;
export const PART_OF_LABEL = "app.kubernetes.io/part-of";
export const VERSION_LABEL = "app.kubernetes.io/version";
const PROBE_CRD = "ocirepositories.source.toolkit.fluxcd.io";
const CRD_API = "apiextensions.k8s.io/v1";

export interface InstallManifests {
  objects: KubernetesObject[];
  /** Flux version the manifests carry (their app.kubernetes.io/version label). */
  version: string;
  /** Where they came from: a path, a URL, or the cache file. */
  origin: string;
}

export function releaseManifestUrl(version: string): string {
  return `https://github.com/fluxcd/flux2/releases/download/${version}/install.yaml`;
}

/**
 * Reads install manifests from a file or directory, an http(s) URL, or — with no source —
 * the release's published install.yaml, cached under the XDG cache dir after the first download.
 */
export async function loadInstallManifests(options: {
  source?: string;
  version?: string;
  /** ksail's cache directory (Runtime.cacheDir, config/load.ts resolveRuntime). */
  cacheDir: string;
}): Promise<InstallManifests> {
  const version = options.version ?? DEFAULT_FLUX_VERSION;
  let text: string;
  let origin: string;
  if (options.source && !/^https?:\/\//.test(options.source)) {
    origin = options.source;
    text = await readManifestPath(options.source);
  } else {
    const url = options.source ?? releaseManifestUrl(version);
    const cacheFile = options.source
      ? undefined
      : join(options.cacheDir, "flux", version, "install.yaml");
    const cached = cacheFile ? await readFile(cacheFile, "utf8").catch(() => undefined) : undefined;
    if (cached !== undefined && cacheFile) {
      text = cached;
      origin = cacheFile;
    } else {
      text = await download(url);
      origin = url;
      if (cacheFile) {
        await mkdir(join(cacheFile, ".."), { recursive: true });
        await writeFile(cacheFile, text);
      }
    }
  }
  const objects = parseManifests(text, origin);
  const labelled = objects
    .map((o) => o.metadata?.labels?.[VERSION_LABEL])
    .find((v) => v !== undefined);
  return { objects, version: labelled ?? version, origin };
}

/** A --manifests file: Flux's install.yaml is a few MB. */
const MAX_MANIFEST_FILE_SIZE = 64 * 1024 * 1024;

async function readManifestPath(path: string): Promise<string> {
  const read = async (file: string) =>
    (
      await readBoundedFile(file, {
        maxBytes: MAX_MANIFEST_FILE_SIZE,
        what: "Flux install manifest",
        hint: "--manifests names Flux's install.yaml (or a directory of such files), or a URL.",
      })
    ).toString("utf8");
  try {
    if ((await stat(path)).isDirectory()) {
      const files = (await readdir(path)).filter((f) => /\.ya?ml$/.test(f)).sort();
      return (await Promise.all(files.map((f) => read(join(path, f))))).join("\n---\n");
    }
    return await read(path);
  } catch (error) {
    if (error instanceof KsailError) throw error;
    throw new KsailError(
      "not-found",
      `cannot read Flux install manifests at ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

async function download(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new KsailError("unreachable", `cannot download the Flux install manifests from ${url}`, {
      hint: "Offline or air-gapped? Pass --manifests PATH with a saved install.yaml.",
      cause: error,
    });
  }
  if (!response.ok) {
    throw new KsailError(
      response.status === 404 ? "not-found" : "failed",
      `downloading ${url} failed: HTTP ${response.status}`,
      {
        hint: "Check --flux-version (e.g. v2.9.5), or pass --manifests PATH.",
      },
    );
  }
  return response.text();
}

export function parseManifests(text: string, origin: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if ("errors" in document && document.errors.length > 0) {
      throw new KsailError(
        "validation",
        `${origin}: ${document.errors[0]!.message.split("\n")[0]}`,
      );
    }
    const value = document.toJS() as KubernetesObject | null;
    if (value === null) continue;
    if (!value.apiVersion || !value.kind || !value.metadata?.name) {
      throw new KsailError(
        "validation",
        `${origin}: a document lacks apiVersion, kind or metadata.name`,
      );
    }
    objects.push(value);
  }
  if (objects.length === 0)
    throw new KsailError("validation", `${origin} holds no Kubernetes objects`);
  return objects;
}

export interface FluxInstallation {
  installed: boolean;
  /** app.kubernetes.io/version of the installed CRDs, when labelled. */
  version?: string;
}

/** Finds Flux by its OCIRepository CRD and Flux's part-of/version labels (FR-016). */
export async function detectFlux(kube: KubeClient): Promise<FluxInstallation> {
  const crd = await kube.get({
    apiVersion: CRD_API,
    kind: "CustomResourceDefinition",
    name: PROBE_CRD,
  });
  if (!crd) return { installed: false };
  const labels = crd.metadata?.labels ?? {};
  return labels[PART_OF_LABEL] === "flux" && labels[VERSION_LABEL]
    ? { installed: true, version: labels[VERSION_LABEL] }
    : { installed: true };
}

export type InstallAction = "installed" | "upgraded" | "unchanged" | "kept-newer";

export interface InstallResult {
  action: InstallAction;
  version: string;
  previousVersion?: string;
  applied: number;
  origin: string;
}

function compareVersions(a: string, b: string): number {
  const va = coerce(a);
  const vb = coerce(b);
  return va && vb ? compare(va, vb) : 0;
}

export async function installFlux(
  kube: KubeClient,
  manifests: InstallManifests,
  options: { wait: boolean; timeoutMs: number },
  progress: Progress,
): Promise<InstallResult> {
  const existing = await progress.step(
    "Detect Flux",
    () => detectFlux(kube),
    (e) =>
      e.installed ? `Found Flux ${e.version ?? "(version not labelled)"}` : "No Flux installed yet",
  );
  const base = {
    version: manifests.version,
    origin: manifests.origin,
    ...(existing.version ? { previousVersion: existing.version } : {}),
  };
  if (existing.version !== undefined) {
    const order = compareVersions(existing.version, manifests.version);
    if (order > 0) {
      progress.info(
        `Flux ${existing.version} is newer than ${manifests.version}; leaving it as it is.`,
      );
      return { ...base, action: "kept-newer", applied: 0 };
    }
    if (order === 0 && (await deploymentsPresent(kube, manifests.objects))) {
      progress.info(`Flux ${existing.version} is already installed; nothing to do.`);
      if (options.wait) await waitForFlux(kube, manifests.objects, options.timeoutMs, progress);
      return { ...base, action: "unchanged", applied: 0 };
    }
  }
  const first = manifests.objects.filter(
    (o) => o.kind === "CustomResourceDefinition" || o.kind === "Namespace",
  );
  const rest = manifests.objects.filter((o) => !first.includes(o));
  await progress.step(
    "Apply CRDs and namespaces",
    // Independent objects: applied side by side (kubectl apply sends them one after the other).
    () => mapLimit(first, APPLY_CONCURRENCY, (object) => kube.apply(object)),
    () => `Applied ${first.length} CRDs and namespaces`,
  );
  await progress.step("Wait for CRDs to be established", () =>
    Promise.all(
      first
        .filter((o) => o.kind === "CustomResourceDefinition")
        .map((crd) =>
          kube.waitFor<FluxObject, true>(
            refOf(crd),
            (o) => (condition(o, "Established")?.status === "True" ? true : undefined),
            {
              timeoutMs: options.timeoutMs,
              describeTimeout: () => `CRD ${crd.metadata?.name} was not established in time`,
            },
          ),
        ),
    ),
  );
  await progress.step(
    "Apply controllers",
    () => mapLimit(rest, APPLY_CONCURRENCY, (object) => kube.apply(object)),
    () => `Applied ${rest.length} objects`,
  );
  if (options.wait) await waitForFlux(kube, manifests.objects, options.timeoutMs, progress);
  return {
    ...base,
    action:
      existing.version !== undefined && compareVersions(existing.version, manifests.version) < 0
        ? "upgraded"
        : "installed",
    applied: manifests.objects.length,
  };
}

/** Applies in flight at once while installing (the API server takes them in parallel). */
const APPLY_CONCURRENCY = 8;

function deployments(objects: KubernetesObject[]): ObjectRef[] {
  return objects.filter((o) => o.kind === "Deployment").map(refOf);
}

async function deploymentsPresent(kube: KubeClient, objects: KubernetesObject[]): Promise<boolean> {
  const found = await Promise.all(deployments(objects).map((ref) => kube.get(ref)));
  return found.every((d) => d !== undefined);
}

interface DeploymentStatus {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; message?: string }[];
  };
}

/** Available, rolled out and observed: what `kubectl rollout status` waits for. */
export function deploymentReady(deployment: DeploymentStatus | undefined): boolean {
  if (!deployment) return false;
  const status = deployment.status ?? {};
  const replicas = deployment.spec?.replicas ?? 1;
  return (
    (status.observedGeneration ?? -1) >= (deployment.metadata?.generation ?? 0) &&
    (status.updatedReplicas ?? 0) >= replicas &&
    (status.availableReplicas ?? 0) >= replicas &&
    status.conditions?.find((c) => c.type === "Available")?.status === "True"
  );
}

async function waitForFlux(
  kube: KubeClient,
  objects: KubernetesObject[],
  timeoutMs: number,
  progress: Progress,
): Promise<void> {
  const refs = deployments(objects);
  await progress.step(
    "Wait for controllers",
    () =>
      Promise.all(
        refs.map((ref) =>
          kube.waitFor<DeploymentStatus, true>(
            ref,
            (d) => (deploymentReady(d) ? true : undefined),
            {
              timeoutMs,
              describeTimeout: () => `${describeRef(ref)} did not become available in time`,
            },
          ),
        ),
      ),
    () => `Controllers ready (${refs.map((r) => r.name).join(", ")})`,
  );
}

export async function uninstallFlux(
  kube: KubeClient,
  manifests: InstallManifests,
  options: { crds: boolean },
  progress: Progress,
): Promise<{ deleted: number; keptCrds: number }> {
  const crds = manifests.objects.filter((o) => o.kind === "CustomResourceDefinition");
  const namespaces = manifests.objects.filter((o) => o.kind === "Namespace");
  const rest = manifests.objects
    .filter((o) => !crds.includes(o) && !namespaces.includes(o))
    .reverse();
  let deleted = 0;
  await progress.step("Delete controllers", async () => {
    for (const object of rest) if (await kube.delete(refOf(object))) deleted++;
  });
  if (options.crds) {
    await progress.step("Delete CRDs (and every Flux object)", async () => {
      for (const object of crds) if (await kube.delete(refOf(object))) deleted++;
    });
    for (const object of namespaces) if (await kube.delete(refOf(object))) deleted++;
  }
  return { deleted, keptCrds: options.crds ? 0 : crds.length };
}

export interface ControllerStatus {
  name: string;
  namespace: string;
  image: string;
  ready: boolean;
}

/**
 * The namespace Flux's release manifests install the controllers into. It is not the workload's
 * namespace (`-n`, `spec.options.flux.namespace`), which only places the OCIRepository and
 * Kustomization.
 */
export const FLUX_CONTROLLERS_NAMESPACE = "flux-system";

export async function fluxStatus(
  kube: KubeClient,
  namespace: string = FLUX_CONTROLLERS_NAMESPACE,
): Promise<FluxInstallation & { controllers: ControllerStatus[] }> {
  const installation = await detectFlux(kube);
  const list = await kube.list<
    KubernetesObject &
      DeploymentStatus & { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } }
  >("apps/v1", "Deployment", { namespace, labelSelector: `${PART_OF_LABEL}=flux` });
  return {
    ...installation,
    controllers: list.map((d) => ({
      name: d.metadata?.name ?? "",
      namespace,
      image: d.spec?.template?.spec?.containers?.[0]?.image ?? "",
      ready: deploymentReady(d),
    })),
  };
}
