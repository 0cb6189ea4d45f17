/** `ksail workload gen flux`: the OCIRepository and Kustomization as YAML on stdout. */
import { fluxSyncYaml, syncSpecFromConfig } from "../../../flux/resources.js";
import type { GenFluxFlags } from "../../commands/workload.js";
import { syncOverrides } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { fluxDecryption } from "../../../secrets/flux-decryption.js";
import { loadProject } from "../project.js";
import { verifyKeyOverride } from "../signing.js";

export async function run({ ctx, flags, globals }: Invocation<GenFluxFlags>): Promise<void> {
  const loaded = await loadProject(ctx, globals, { flags: { namespace: flags.namespace } });
  const spec = syncSpecFromConfig(loaded.config, {
    ...syncOverrides(flags),
    ...(await verifyKeyOverride(ctx, loaded, flags.verifyKey)),
  });
  // The Kustomization names the Secret with the age keys; the keys themselves are never printed.
  const sops = await fluxDecryption(loaded.baseDir, undefined);
  if (sops !== undefined) spec.decryption = { secretName: sops.decryption.secretName };
  ctx.stdout.write(fluxSyncYaml(spec));
}
