/** `ksail flux sync`: apply the project's OCIRepository and Kustomization. */
import { syncSpecFromConfig } from "../../../flux/resources.js";
import { applyFluxSync } from "../../../flux/sync.js";
import { createOutput } from "../../context.js";
import { syncOverrides, type KubeFlags, type OutputFlags, type SyncFlags } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { connectKube } from "../kube.js";

export async function run({
  ctx,
  flags,
  globals,
}: Invocation<KubeFlags & SyncFlags & OutputFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const { loaded, kube } = await connectKube(ctx, globals, flags);
  const spec = syncSpecFromConfig(loaded.config, syncOverrides(flags));
  await applyFluxSync(kube, spec, out);
  out.result(
    spec,
    () => `OCIRepository and Kustomization ${spec.namespace}/${spec.name} follow ${spec.url}`,
  );
}
