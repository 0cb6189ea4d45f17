/** Connecting a command to the cluster named by flags, KSAIL_* and ksail.yaml. */
import { resolveRuntime, type LoadedConfig } from "../../config/load.js";
import { KubeClient } from "../../k8s/client.js";
import type { Output } from "../../ui/output.js";
import { createOutput, type CliContext } from "../context.js";
import type { GlobalOptions, KubeFlags, OutputFlags } from "../options.js";
import type { Invocation } from "../seam.js";
import { loadProject } from "./project.js";

/** The project's config and a client for the cluster that --kubeconfig/--context name. */
export async function connectKube(
  ctx: CliContext,
  globals: GlobalOptions,
  flags: KubeFlags,
  out?: Output,
  /** More ksail.yaml settings the command's flags set, keyed by Setting.key (`timeout`). */
  settings: Record<string, unknown> = {},
): Promise<{ loaded: LoadedConfig; kube: KubeClient }> {
  const loaded = await loadProject(ctx, globals, {
    flags: {
      ...settings,
      kubeconfig: flags.kubeconfig,
      context: flags.context,
      namespace: flags.namespace,
    },
  });
  const { connection } = loaded.config.spec;
  const { kubeconfigFiles, inCluster } = resolveRuntime(ctx.env);
  const kube = KubeClient.connect({
    ...(connection.kubeconfig ? { kubeconfig: connection.kubeconfig } : {}),
    kubeconfigFiles,
    inCluster,
    ...(connection.context ? { context: connection.context } : {}),
    // A server that takes long to answer: say which one and what for.
    ...(out ? { onWaiting: (message: string) => out.info(message) } : {}),
  });
  return { loaded, kube };
}

/** The output and the cluster connection of a command that takes `-o` and the kube options. */
export async function openKube(
  { ctx, flags, globals }: Invocation<KubeFlags & OutputFlags>,
  settings: Record<string, unknown> = {},
): Promise<{
  out: Output;
  loaded: LoadedConfig;
  kube: KubeClient;
}> {
  const out = createOutput(ctx, globals, flags.output);
  return { out, ...(await connectKube(ctx, globals, flags, out, settings)) };
}
