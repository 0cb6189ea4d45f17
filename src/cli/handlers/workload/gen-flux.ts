/** `ksail workload gen flux`: the OCIRepository and Kustomization as YAML on stdout. */
import { fluxSyncYaml, syncSpecFromConfig } from "../../../flux/resources.js";
import { syncOverrides, type SyncFlags } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { loadProject } from "../project.js";

export async function run({ ctx, flags, globals }: Invocation<SyncFlags>): Promise<void> {
  const { config } = await loadProject(ctx, globals);
  ctx.stdout.write(fluxSyncYaml(syncSpecFromConfig(config, syncOverrides(flags))));
}
