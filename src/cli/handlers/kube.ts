/** Connecting a command to the cluster named by flags, KSAIL_* and ksail.yaml. */
import type { LoadedConfig } from "../../config/load.js";
import { KubeClient } from "../../k8s/client.js";
import type { CliContext } from "../context.js";
import type { GlobalOptions, KubeFlags } from "../options.js";
import { loadProject } from "./project.js";

/** The project's config and a client for the cluster that --kubeconfig/--context name. */
export async function connectKube(
  ctx: CliContext,
  globals: GlobalOptions,
  flags: KubeFlags,
): Promise<{ loaded: LoadedConfig; kube: KubeClient }> {
  const loaded = await loadProject(ctx, globals, {
    flags: { kubeconfig: flags.kubeconfig, context: flags.context },
  });
  const { connection } = loaded.config.spec;
  const kube = KubeClient.connect({
    ...(connection.kubeconfig ? { kubeconfig: connection.kubeconfig } : {}),
    ...(connection.context ? { context: connection.context } : {}),
  });
  return { loaded, kube };
}
