/**
 * `ksail init`: a new project from flags, KSAIL_* and the defaults (Flux and the local registry
 * on, so the README's loop works as written). With --force over an existing project, the values
 * its ksail.yaml sets stay unless a flag changes them.
 */
import { access } from "node:fs/promises";
import { join, resolve } from "node:path";
import { API_VERSION, KIND, defaultDistributionConfig } from "../../config/schema.js";
import { CONFIG_FILE, loadConfig, nameFromDirectory } from "../../config/load.js";
import {
  defaultContext,
  initProject,
  type InitFile,
  type InitResult,
} from "../../scaffold/init.js";
import { KsailError } from "../../errors.js";
import { createOutput } from "../context.js";
import type { InitFlags } from "../commands/init.js";
import type { Invocation } from "../seam.js";

/** The config settings as flags (config/load.ts SETTINGS keys), and where to write. */
export async function run({ ctx, flags, globals }: Invocation<InitFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const directory = resolve(ctx.cwd, flags.directory);
  const { config } = await loadConfig({
    cwd: directory,
    env: ctx.env,
    flags: { ...flags },
    readFile: false,
    resolvePaths: false,
    base: flags.force
      ? ((await existingValues(directory)) ?? freshProject(directory))
      : freshProject(directory),
  });
  const result: InitResult = await out.step(
    "Initialize project",
    () => initProject(directory, config, { force: flags.force === true }),
    (r) => `Initialized project "${config.metadata.name}" in ${r.directory}`,
  );
  out.result({ name: config.metadata.name, ...result }, () =>
    result.files.map(describeFile).join("\n"),
  );
  const source = result.sourceDirectory;
  out.info(
    `Next: \`ksail up\`, then add manifests to ${source}/ and run \`ksail watch\` ` +
      `(Flux applies every manifest under ${source}/; add a kustomization.yaml there to choose).`,
  );
}

/** `created     ksail.yaml`, `patched     kind.yaml (name: a → b; …)`. */
function describeFile(file: InitFile): string {
  const notes = [
    ...(file.changes ?? []),
    ...(file.reason ? [file.reason] : []),
    ...(file.backup ? [`previous content kept in ${file.backup}`] : []),
  ];
  return `${file.action.padEnd(11)} ${file.path}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`;
}

/** What a plain `ksail init` starts from: the README's loop needs Flux and the local registry. */
function freshProject(directory: string): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: nameFromDirectory(directory) },
    spec: { gitOpsEngine: "Flux" },
  };
}

/**
 * The values an existing ksail.yaml sets (read as is, without KSAIL_*), minus the ones derived
 * from others that a flag may change: the context and cluster config file named after the
 * project and distribution, and the registry toggle that follows the GitOps engine.
 */
async function existingValues(directory: string): Promise<Record<string, unknown> | undefined> {
  const path = join(directory, CONFIG_FILE);
  if (!(await exists(path))) return undefined;
  const loaded = await loadConfig({
    configPath: path,
    cwd: directory,
    env: {},
    resolvePaths: false,
  }).catch((error: unknown) => {
    if (!(error instanceof KsailError) || error.kind !== "config") throw error;
    throw new KsailError(error.kind, error.message, {
      details: error.details,
      hint: `--force keeps the values ${CONFIG_FILE} sets, so it must be valid: fix it, or move it away and run \`ksail init\` for a fresh one.`,
    });
  });
  const previous = structuredClone(loaded.config);
  const { spec } = previous;
  const derived: Partial<typeof spec> = spec;
  if (spec.connection.context === defaultContext(previous)) delete spec.connection.context;
  if (spec.distributionConfig === defaultDistributionConfig(spec.distribution))
    delete derived.distributionConfig;
  if (spec.localRegistry === (spec.gitOpsEngine === "Flux" ? "Enabled" : "Disabled"))
    delete derived.localRegistry;
  return previous as unknown as Record<string, unknown>;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
