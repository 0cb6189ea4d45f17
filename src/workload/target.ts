/**
 * Which repository and directory a workload command works on: --registry oci://host/repo, else
 * KSAIL_REGISTRY, else spec.registry, else the local registry (127.0.0.1:<hostPort>/<project
 * name>); --path, else spec.sourceDirectory.
 */
import { isAbsolute, resolve } from "node:path";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { KsailError } from "../errors.js";
import { parseRepository, type RepositoryRef } from "../oci/reference.js";
import { CONFIG_SETTINGS } from "../config/settings.js";
import { localRegistryAddresses } from "../registry/address.js";

const REGISTRY_ENV = CONFIG_SETTINGS.registry.env;

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
  // --registry, else KSAIL_REGISTRY (through the settings table, merged into the config), else
  // spec.registry: with a path (or no need for one), no ksail.yaml is needed at all.
  const named = options.registry ?? (options.env[REGISTRY_ENV] || undefined);
  const standalone = named !== undefined && (options.path !== undefined || !options.needsSource);
  const loaded = await loadConfig({
    ...(options.configPath === undefined ? {} : { configPath: options.configPath }),
    cwd: options.cwd,
    env: options.env,
    required: !standalone,
  });
  const { config, baseDir } = loaded;
  const local = localRegistryAddresses(config);
  let repository: RepositoryRef;
  const registry = options.registry ?? config.spec.registry;
  if (registry !== undefined) {
    repository = parseRepository(registry);
  } else if (config.spec.localRegistry === "Enabled") {
    repository = { registry: local.host, repository: config.metadata.name };
  } else {
    throw new KsailError(
      "usage",
      "the local registry is disabled in ksail.yaml and no --registry was given",
      {
        hint: `Pass --registry oci://HOST/REPOSITORY, set ${REGISTRY_ENV} or spec.registry, or set spec.localRegistry: Enabled.`,
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
