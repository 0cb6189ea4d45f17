/** Project configs for tests: a resolved ksail.yaml in memory, or a project `ksail init` wrote. */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import {
  ksailConfigSchema,
  resolveDerivedDefaults,
  type KsailConfig,
  type KsailConfigInput,
} from "../src/config/schema.js";
import type { KsailRun } from "./ksail.js";

/** A resolved ksail.yaml for project "demo" with Flux, plus the given spec fields. */
export function demoConfig(spec: KsailConfigInput["spec"] = {}): KsailConfig {
  return resolveDerivedDefaults(
    ksailConfigSchema.parse({
      apiVersion: "ksail.dev/v1alpha1",
      kind: "Cluster",
      metadata: { name: "demo" },
      spec: { gitOpsEngine: "Flux", ...spec },
    }),
  );
}

/**
 * `ksail init` of a Kind project without Flux (its step of `up` needs a real API server), with
 * the local registry on `registryPort` under the unique container name `registryName`.
 */
export async function initKindProject(
  ksail: (args: string[]) => Promise<KsailRun>,
  project: string,
  options: { name: string; registryPort: number; registryName: string },
): Promise<KsailRun> {
  const init = await ksail([
    "init",
    "--name",
    options.name,
    "--distribution",
    "Kind",
    "--gitops-engine",
    "None",
    "--local-registry",
    "Enabled",
    "--registry-port",
    String(options.registryPort),
  ]);
  if (init.code !== 0) return init;
  // The registry name is configurable in ksail.yaml (no flag); tests use a unique one.
  const configPath = join(project, "ksail.yaml");
  const doc = parse(await readFile(configPath, "utf8")) as {
    spec: { options?: { localRegistry?: Record<string, unknown> } };
  };
  doc.spec.options = {
    ...doc.spec.options,
    localRegistry: {
      ...doc.spec.options?.localRegistry,
      hostPort: options.registryPort,
      name: options.registryName,
    },
  };
  await writeFile(configPath, stringify(doc));
  return init;
}
