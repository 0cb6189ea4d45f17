/** `ksail flux uninstall [--crds]`. */
import { uninstallFlux } from "../../../flux/install.js";
import { createOutput } from "../../context.js";
import type { Invocation } from "../../seam.js";
import { connectKube } from "../kube.js";
import { manifestsFor, type ManifestFlags } from "./manifests.js";

export interface UninstallFlags extends ManifestFlags {
  crds?: boolean;
}

export async function run({ ctx, flags, globals }: Invocation<UninstallFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const { loaded, kube } = await connectKube(ctx, globals, flags);
  const manifests = await manifestsFor(ctx, flags, loaded.config.spec.options.flux.version);
  const result = await uninstallFlux(kube, manifests, { crds: flags.crds === true }, out);
  out.result(
    result,
    () =>
      `Deleted ${result.deleted} objects${result.keptCrds ? `; kept ${result.keptCrds} CRDs (pass --crds to delete them)` : ""}`,
  );
}
