/** `ksail flux uninstall [--crds]`. */
import { uninstallFlux } from "../../../flux/install.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";
import type { UninstallFlags } from "../../commands/flux.js";
import { manifestsFor } from "./manifests.js";

export async function run(invocation: Invocation<UninstallFlags>): Promise<void> {
  const { ctx, flags } = invocation;
  const { out, loaded, kube } = await openKube(invocation);
  const manifests = await manifestsFor(ctx, flags, loaded.config.spec.options.flux.version);
  const result = await uninstallFlux(kube, manifests, { crds: flags.crds === true }, out);
  out.result(
    result,
    () =>
      `Deleted ${result.deleted} objects${result.keptCrds ? `; kept ${result.keptCrds} CRDs (pass --crds to delete them)` : ""}`,
  );
}
