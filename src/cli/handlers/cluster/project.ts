/** The project's cluster as the lifecycle services take it: provisioner, engine and config. */
import type { ClusterDeps, ClusterInput } from "../../../cluster/lifecycle.js";
import { createProvisioner } from "../../../cluster/provisioner.js";
import { resolveRuntime } from "../../../config/load.js";
import { lazyEngine } from "../../../engine/docker.js";
import type { Output } from "../../../ui/output.js";
import { createOutput } from "../../context.js";
import type { ClusterFlags } from "../../commands/cluster.js";
import type { Invocation } from "../../seam.js";
import { loadProject } from "../project.js";

export async function openCluster(
  { ctx, flags, globals }: Invocation<ClusterFlags>,
  /** More ksail.yaml settings the command's flags set, keyed by Setting.key (`timeout`). */
  settings: Record<string, unknown> = {},
): Promise<{ out: Output; deps: ClusterDeps; input: ClusterInput }> {
  const out = createOutput(ctx, globals, flags.output);
  // External is no ksail.yaml distribution: it only picks the provisioner.
  const external = flags.distribution === "External";
  const { config, baseDir } = await loadProject(ctx, globals, {
    flags: {
      ...settings,
      distribution: external ? undefined : flags.distribution,
      context: flags.context,
      kubeconfig: flags.kubeconfig,
    },
  });
  const engine = lazyEngine(ctx.env);
  const { kindNetwork, kubeconfigFiles, cacheDir } = resolveRuntime(ctx.env);
  const provisioner = createProvisioner(external ? "External" : config.spec.distribution, {
    env: ctx.env,
    engine,
    kindNetwork,
    kubeconfigFiles,
    connection: config.spec.connection,
  });
  return { out, deps: { provisioner, engine, env: ctx.env, cacheDir }, input: { config, baseDir } };
}
