/**
 * The Flux step of `ksail up` (FR-001): install Flux (or leave an existing one as
 * installFlux decides), then apply the project's OCIRepository and Kustomization.
 */
import { count } from "../util/plural.js";
import { parseDuration } from "../util/duration.js";
import type { KsailConfig } from "../config/schema.js";
import { KubeClient } from "../k8s/client.js";
import { waitForKubeProxy } from "../k8s/kube-proxy.js";
import { silentProgress, type Progress } from "../progress.js";
import { installFlux, loadInstallManifests, type InstallResult } from "./install.js";
import { syncSpecFromConfig } from "./resources.js";
import { applyFluxSync } from "./sync.js";
import { fluxDecryption, noIdentityWarning } from "../secrets/flux-decryption.js";
import type { AgeKeyPlaces } from "../secrets/age-keys.js";

export interface BootstrapInput {
  config: KsailConfig;
  /** --flux-manifests: file, directory or URL; default: the pinned release, cached. */
  manifests?: string;
  cacheDir: string;
  timeoutMs: number;
  /** The project's directory: its .sops.yaml decides Flux's SOPS decryption (issue 23). */
  projectRoot?: string;
  /** Where the local age identities are (config/load.ts resolveAgeKeys). */
  ageKeys?: AgeKeyPlaces;
}

export async function bootstrapFlux(
  deps: { kube: KubeClient },
  input: BootstrapInput,
  progress: Progress = silentProgress,
): Promise<InstallResult> {
  const { kube } = deps;
  const { config, ...options } = input;
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
        : `kube-proxy ready on ${count(p.pods, "node")}`,
  );
  const result = await installFlux(
    kube,
    manifests,
    { wait: true, timeoutMs: options.timeoutMs },
    progress,
  );
  const spec = syncSpecFromConfig(config);
  const sops =
    options.projectRoot === undefined
      ? undefined
      : await fluxDecryption(options.projectRoot, options.ageKeys);
  if (sops !== undefined) {
    spec.decryption = { secretName: sops.decryption.secretName };
    if (sops.identities.length === 0) progress.warn(noIdentityWarning(sops.decryption));
  }
  await applyFluxSync(kube, spec, progress, sops?.identities ?? []);
  return result;
}

/**
 * The GitOps step `createCluster` runs (its installGitOps hook): connects to the new cluster's
 * kubeconfig context and bootstraps Flux there, within spec.connection.timeout (default 5m).
 */
export function fluxStep(options: {
  /** ksail's cache directory (config/load.ts resolveRuntime), where install manifests are kept. */
  cacheDir: string;
  manifests?: string | undefined;
  /** $KUBECONFIG's files when ksail.yaml names no kubeconfig (config/load.ts resolveRuntime). */
  kubeconfigFiles?: string[];
  /** Where ksail.yaml (and .sops.yaml) live. */
  projectRoot?: string;
  /** Where the local age identities are, for Flux's SOPS Secret (config/load.ts resolveAgeKeys). */
  ageKeys?: AgeKeyPlaces;
}) {
  return async (context: {
    config: KsailConfig;
    kubeContext: string;
    progress: Progress;
  }): Promise<void> => {
    const { config, kubeContext, progress } = context;
    const { kubeconfig, timeout } = config.spec.connection;
    const kube = KubeClient.connect({
      ...(kubeconfig ? { kubeconfig } : {}),
      ...(options.kubeconfigFiles ? { kubeconfigFiles: options.kubeconfigFiles } : {}),
      ...(kubeContext ? { context: kubeContext } : {}),
    });
    await bootstrapFlux(
      { kube },
      {
        config,
        cacheDir: options.cacheDir,
        timeoutMs: parseDuration(timeout) ?? 300_000,
        ...(options.manifests ? { manifests: options.manifests } : {}),
        ...(options.projectRoot ? { projectRoot: options.projectRoot } : {}),
        ...(options.ageKeys ? { ageKeys: options.ageKeys } : {}),
      },
      progress,
    );
  };
}
