/** `ksail flux sync`: apply the project's OCIRepository and Kustomization. */
import { resolveAgeKeys } from "../../../config/load.js";
import { syncSpecFromConfig } from "../../../flux/resources.js";
import { assertFluxServed } from "../../../flux/served.js";
import { applyFluxSync } from "../../../flux/sync.js";
import { fluxDecryption, noIdentityWarning } from "../../../secrets/flux-decryption.js";
import type { SyncCommandFlags } from "../../commands/flux.js";
import { syncOverrides } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";
import { verifyKeyOverride } from "../signing.js";

export async function run(invocation: Invocation<SyncCommandFlags>): Promise<void> {
  const { ctx, flags } = invocation;
  const { out, loaded, kube } = await openKube(invocation);
  const spec = syncSpecFromConfig(loaded.config, {
    ...syncOverrides(flags),
    ...(await verifyKeyOverride(ctx, loaded, flags.verifyKey)),
  });
  const sops = await fluxDecryption(loaded.baseDir, resolveAgeKeys(ctx.env));
  if (sops !== undefined) {
    spec.decryption = { secretName: sops.decryption.secretName };
    if (sops.identities.length === 0) out.warn(noIdentityWarning(sops.decryption));
  }
  // Without Flux's CRDs the API server says only "could not find the requested resource".
  await assertFluxServed(kube);
  await applyFluxSync(kube, spec, out, sops?.identities ?? []);
  // The key's PEM is public, but the JSON names the Secret rather than repeating it.
  const { verify, ...rest } = spec;
  out.result(
    verify ? { ...rest, verify: { provider: "cosign", secretName: verify.secretName } } : rest,
    () =>
      `OCIRepository and Kustomization ${spec.namespace}/${spec.name} follow ${spec.url}` +
      (verify
        ? `\nFlux verifies cosign signatures with the key in Secret ${verify.secretName}`
        : "") +
      (sops && sops.identities.length > 0
        ? `\nFlux decrypts SOPS files with the age ${sops.decryption.matched.length === 1 ? "key" : "keys"} of ${sops.decryption.matched.join(", ")} (Secret ${sops.decryption.secretName})`
        : ""),
  );
}
