/** Which Flux install manifests `flux install` / `flux uninstall` use. */
import { loadInstallManifests } from "../../../flux/install.js";
import { resolveRuntime } from "../../../config/load.js";
import type { CliContext } from "../../context.js";
import type { ManifestFlags } from "../../commands/flux.js";

/** --manifests, else the release --flux-version (or spec.options.flux.version) names. */
export function manifestsFor(
  ctx: CliContext,
  flags: ManifestFlags,
  configured: string | undefined,
) {
  const version = flags.fluxVersion ?? configured;
  return loadInstallManifests({
    ...(flags.manifests === undefined ? {} : { source: flags.manifests }),
    ...(version === undefined ? {} : { version }),
    cacheDir: resolveRuntime(ctx.env).cacheDir,
  });
}
