/** `ksail flux install`: install, upgrade an older Flux, or leave a newer one. */
import { installFlux } from "../../../flux/install.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";
import { parseDuration } from "../../../util/duration.js";
import type { InstallFlags } from "../../commands/flux.js";
import { manifestsFor } from "./manifests.js";

export async function run(invocation: Invocation<InstallFlags>): Promise<void> {
  const { ctx, flags } = invocation;
  // --timeout, else $KSAIL_TIMEOUT, else spec.connection.timeout (5m), checked by the schema.
  const { out, loaded, kube } = await openKube(invocation, { timeout: flags.timeout });
  const timeoutMs = parseDuration(loaded.config.spec.connection.timeout)!;
  const manifests = await out.step(
    "Load Flux manifests",
    () => manifestsFor(ctx, flags, loaded.config.spec.options.flux.version),
    (m) => `Loaded Flux ${m.version} manifests (${m.objects.length} objects) from ${m.origin}`,
  );
  const result = await installFlux(kube, manifests, { wait: flags.wait, timeoutMs }, out);
  out.result(result, () => {
    switch (result.action) {
      case "kept-newer":
        return `Flux ${result.previousVersion} is newer than ${result.version}: left as it is`;
      case "unchanged":
        return `Flux ${result.version} already installed`;
      case "upgraded":
        return `Flux upgraded from ${result.previousVersion} to ${result.version}`;
      default:
        return `Flux ${result.version} installed`;
    }
  });
}
