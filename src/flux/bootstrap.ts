/**
 * The Flux step of `ksail up` (FR-001): install Flux (or leave an existing one as
 * installFlux decides), then apply the project's OCIRepository and Kustomization.
 */
import type { KsailConfig } from "../config/schema.js";
import type { KubeClient } from "../k8s/client.js";
import { waitForKubeProxy } from "../k8s/kube-proxy.js";
import type { Progress } from "../progress.js";
import { installFlux, loadInstallManifests, type InstallResult } from "./install.js";
import { syncSpecFromConfig } from "./resources.js";
import { applyFluxSync } from "./sync.js";

export interface BootstrapOptions {
  /** --flux-manifests: file, directory or URL; default: the pinned release, cached. */
  manifests?: string;
  cacheDir: string;
  timeoutMs: number;
}

export async function bootstrapFlux(
  kube: KubeClient,
  config: KsailConfig,
  options: BootstrapOptions,
  progress: Progress,
): Promise<InstallResult> {
  const { version } = config.spec.options.flux;
  const manifests = await progress.step(
    "Load Flux manifests",
    () =>
      loadInstallManifests({
        cacheDir: options.cacheDir,
        ...(options.manifests === undefined ? {} : { source: options.manifests }),
        ...(version === undefined ? {} : { version }),
      }),
    (m) => `Loaded Flux ${m.version} manifests from ${m.origin}`,
  );
  // A new cluster's controllers would otherwise race kube-proxy to the API server's Service.
  await progress.step(
    "kube-proxy ready",
    () => waitForKubeProxy(kube, options.timeoutMs),
    (p) =>
      p.state === "absent"
        ? "No kube-proxy DaemonSet to wait for"
        : `kube-proxy ready on ${p.pods} node(s)`,
  );
  const result = await installFlux(
    kube,
    manifests,
    { wait: true, timeoutMs: options.timeoutMs },
    progress,
  );
  await applyFluxSync(kube, syncSpecFromConfig(config), progress);
  return result;
}
