/** Connecting a command to the cluster named by flags, KSAIL_* and ksail.yaml. */
import type { Command } from "commander";
import type { LoadedConfig } from "../config/load.js";
import type { KubeClient } from "../k8s/client.js";
import type { CliContext, GlobalOptions } from "./context.js";

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
}

export function addKubeOptions(command: Command): Command {
  return command
    .option(
      "--kubeconfig <path>",
      "kubeconfig file (default: spec.connection.kubeconfig, $KUBECONFIG, ~/.kube/config)",
    )
    .option(
      "--context <name>",
      "kubeconfig context (default: spec.connection.context, else the current one)",
    );
}

export async function connectKube(
  ctx: CliContext,
  globals: GlobalOptions,
  flags: KubeFlags,
): Promise<{ loaded: LoadedConfig; kube: KubeClient }> {
  const { loadConfig } = await import("../config/load.js");
  const loaded = await loadConfig({
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
    flags: { kubeconfig: flags.kubeconfig, context: flags.context },
  });
  const { KubeClient } = await import("../k8s/client.js");
  const { connection } = loaded.config.spec;
  const kube = KubeClient.connect({
    ...(connection.kubeconfig ? { kubeconfig: connection.kubeconfig } : {}),
    ...(connection.context ? { context: connection.context } : {}),
  });
  return { loaded, kube };
}

export async function parseTimeout(value: string, flag = "--timeout"): Promise<number> {
  const { parseDuration } = await import("../config/duration.js");
  const ms = parseDuration(value);
  if (ms === undefined) {
    const { KsailError } = await import("../errors.js");
    throw new KsailError(
      "usage",
      `${flag} must be a duration such as 30s, 2m or 1h, got "${value}"`,
    );
  }
  return ms;
}
