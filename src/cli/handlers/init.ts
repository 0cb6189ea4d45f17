/** `ksail init`: a new project from flags, KSAIL_* and the defaults (an existing file is ignored). */
import { resolve } from "node:path";
import { loadConfig } from "../../config/load.js";
import { initProject } from "../../scaffold/init.js";
import { createOutput } from "../context.js";
import type { OutputFlags } from "../options.js";
import type { Invocation } from "../seam.js";

/** The config settings as flags (config/load.ts SETTINGS keys), and where to write. */
export interface InitFlags extends OutputFlags {
  name?: string;
  distribution?: string;
  distributionConfig?: string;
  gitopsEngine?: string;
  sourceDirectory?: string;
  localRegistry?: string;
  registryPort?: string;
  fluxInterval?: string;
  kubeconfig?: string;
  context?: string;
  directory: string;
  force?: boolean;
}

export async function run({ ctx, flags, globals }: Invocation<InitFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const directory = resolve(ctx.cwd, flags.directory);
  const { config } = await loadConfig({
    cwd: directory,
    env: ctx.env,
    flags: { ...flags },
    readFile: false,
  });
  const result = await out.step(
    "init",
    () => initProject(directory, config, { force: flags.force === true }),
    (r) => `Initialized project "${config.metadata.name}" in ${r.directory}`,
  );
  out.result({ name: config.metadata.name, ...result }, () =>
    result.files.map((f) => `${f.action.padEnd(11)} ${f.path}`).join("\n"),
  );
}
