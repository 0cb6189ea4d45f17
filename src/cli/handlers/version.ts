/** `ksail version`: ksail's version; with -o json|yaml also Node's and the pinned components'. */
import packageJson from "../../../package.json" with { type: "json" };
import { PINNED_FLUX_VERSION, PINNED_REGISTRY_IMAGE } from "../../pins.js";
import { createOutput } from "../context.js";
import type { VersionFlags } from "../commands/version.js";
import type { Invocation } from "../seam.js";

export async function run({ ctx, flags, globals }: Invocation<VersionFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const info = {
    ksail: packageJson.version,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    components: { flux: PINNED_FLUX_VERSION, registryImage: PINNED_REGISTRY_IMAGE },
  };
  out.result(info, () => `ksail ${info.ksail}`);
}
