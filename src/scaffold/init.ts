/** What `ksail init` writes: ksail.yaml, the cluster config and the source directory. */
import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { stringify } from "yaml";
import { distributionConfigFor } from "../cluster/distribution-config.js";
import { CONFIG_FILE } from "../config/load.js";
import type { KsailConfig } from "../config/schema.js";
import { KsailError } from "../errors.js";

export interface ScaffoldFile {
  /** Path relative to the project directory. */
  path: string;
  content: string;
}

export interface InitResult {
  directory: string;
  files: { path: string; action: "created" | "overwritten" }[];
}

export function scaffoldFiles(config: KsailConfig): ScaffoldFile[] {
  return [
    { path: CONFIG_FILE, content: ksailYaml(config) },
    { path: config.spec.distributionConfig, content: distributionConfigFor(config) },
    {
      path: join(config.spec.sourceDirectory, "kustomization.yaml"),
      content: stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: [],
      }),
    },
  ];
}

function ksailYaml(config: KsailConfig): string {
  const { spec } = config;
  const document = {
    apiVersion: config.apiVersion,
    kind: config.kind,
    metadata: { name: config.metadata.name },
    spec: {
      distribution: spec.distribution,
      distributionConfig: spec.distributionConfig,
      sourceDirectory: spec.sourceDirectory,
      gitOpsEngine: spec.gitOpsEngine,
      localRegistry: spec.localRegistry,
      connection: {
        ...(spec.connection.kubeconfig ? { kubeconfig: spec.connection.kubeconfig } : {}),
        context:
          spec.connection.context ??
          `${spec.distribution === "Kind" ? "kind" : "k3d"}-${config.metadata.name}`,
        timeout: spec.connection.timeout,
      },
      options: {
        localRegistry: { hostPort: spec.options.localRegistry.hostPort },
        flux: { interval: spec.options.flux.interval },
      },
    },
  };
  return `# ksail project. Schema: schemas/ksail.schema.json in the ksail package.\n${stringify(document)}`;
}

/**
 * Writes the files. Refuses, before writing anything, when one exists and `force` is not set,
 * so a refused init changes nothing.
 */
export async function initProject(
  directory: string,
  config: KsailConfig,
  options: { force?: boolean } = {},
): Promise<InitResult> {
  const root = resolve(directory);
  const files = scaffoldFiles(config);
  const existing: string[] = [];
  for (const file of files) {
    if (await exists(join(root, file.path))) existing.push(file.path);
  }
  if (existing.length > 0 && !options.force) {
    throw new KsailError(
      "conflict",
      `refusing to overwrite existing ${existing.join(", ")} in ${root}`,
      {
        hint: "Pass --force to overwrite them, or run init in an empty directory.",
      },
    );
  }
  const written: InitResult["files"] = [];
  for (const file of files) {
    const target = join(root, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
    written.push({
      path: file.path,
      action: existing.includes(file.path) ? "overwritten" : "created",
    });
  }
  return { directory: root, files: written };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
