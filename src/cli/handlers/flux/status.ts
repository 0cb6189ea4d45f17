/** `ksail flux status`: exit 1 unless Flux is installed and every controller is ready. */
import { fluxStatus } from "../../../flux/install.js";
import { formatTable } from "../../../ui/output.js";
import type { StatusFlags } from "../../commands/flux.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";

export async function run(invocation: Invocation<StatusFlags>): Promise<void> {
  const { ctx } = invocation;
  const { out, kube } = await openKube(invocation);
  // The controllers live where Flux's manifests put them, whatever namespace the workload uses.
  const status = await fluxStatus(kube);
  out.result(status, () =>
    !status.installed
      ? "Flux is not installed (run `ksail flux install`)"
      : [
          `Flux ${status.version ?? "(version not labelled)"}`,
          formatTable(
            ["CONTROLLER", "READY", "IMAGE"],
            status.controllers.map((c) => [c.name, String(c.ready), c.image]),
          ),
        ].join("\n"),
  );
  if (!status.installed || status.controllers.some((c) => !c.ready)) ctx.exitCode = 1;
}
