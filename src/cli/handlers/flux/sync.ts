/** `ksail flux sync`: apply the project's OCIRepository and Kustomization. */
import { syncSpecFromConfig } from "../../../flux/resources.js";
import { assertFluxServed } from "../../../flux/served.js";
import { applyFluxSync } from "../../../flux/sync.js";
import { syncOverrides, type KubeFlags, type OutputFlags, type SyncFlags } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";

export async function run(
  invocation: Invocation<KubeFlags & SyncFlags & OutputFlags>,
): Promise<void> {
  const { flags } = invocation;
  const { out, loaded, kube } = await openKube(invocation);
  const spec = syncSpecFromConfig(loaded.config, syncOverrides(flags));
  // Without Flux's CRDs the API server says only "could not find the requested resource".
  await assertFluxServed(kube);
  await applyFluxSync(kube, spec, out);
  out.result(
    spec,
    () => `OCIRepository and Kustomization ${spec.namespace}/${spec.name} follow ${spec.url}`,
  );
}
