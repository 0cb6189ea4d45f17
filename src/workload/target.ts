/**
 * Which repository and directory a workload command works on:
 * --registry oci://host/repo and --path win; otherwise ksail.yaml gives the local registry
 * (127.0.0.1:<hostPort>/<project name>) and spec.sourceDirectory.
 */
import { isAbsolute, resolve } from "node:path";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { KsailError } from "../errors.js";
import { parseRepository, type RepositoryRef } from "../oci/reference.js";
import { localRegistryAddresses } from "../registry/address.js";

export interface TargetOptions {
  registry?: string;
  path?: string;
  configPath?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Whether the command reads a source directory. */
  needsSource: boolean;
}

export interface WorkloadTarget {
  repository: RepositoryRef;
  sourceDir: string;
  /** The project's own local registry container (garbage collection can run in it). */
  localRegistry: { name: string } | undefined;
  loaded: LoadedConfig;
}

export async function resolveTarget(options: TargetOptions): Promise<WorkloadTarget> {
  const standalone =
    options.registry !== undefined && (options.path !== undefined || !options.needsSource);
  const loaded = await loadConfig({
    ...(options.configPath === undefined ? {} : { configPath: options.configPath }),
    cwd: options.cwd,
    env: options.env,
    required: !standalone,
  });
  const { config, baseDir } = loaded;
  const local = localRegistryAddresses(config);
  let repository: RepositoryRef;
  if (options.registry !== undefined) {
    repository = parseRepository(options.registry);
  } else if (config.spec.localRegistry === "Enabled") {
    repository = { registry: local.host, repository: config.metadata.name };
  } else {
    throw new KsailError(
      "usage",
      "the local registry is disabled in ksail.yaml and no --registry was given",
      {
        hint: "Pass --registry oci://HOST/REPOSITORY, or set spec.localRegistry: Enabled.",
      },
    );
  }
  const isLocal =
    loaded.path !== undefined &&
    config.spec.localRegistry === "Enabled" &&
    (repository.registry === local.host || repository.registry === local.hostFromContainerRuntime);
  const sourcePath = options.path ?? config.spec.sourceDirectory;
  return {
    repository,
    sourceDir: isAbsolute(sourcePath)
      ? sourcePath
      : resolve(options.path ? options.cwd : baseDir, sourcePath),
    localRegistry: isLocal ? { name: config.spec.options.localRegistry.name } : undefined,
    loaded,
  };
}
