/** `ksail workload status`: exit 1 unless both objects are Ready. */
import { workloadStatus } from "../../../flux/sync.js";
import { formatTable } from "../../../ui/output.js";
import type { StatusFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";

export async function run(invocation: Invocation<StatusFlags>): Promise<void> {
  const { ctx } = invocation;
  const { out, loaded, kube } = await openKube(invocation);
  const status = await workloadStatus(kube, {
    name: loaded.config.metadata.name,
    namespace: loaded.config.spec.options.flux.namespace,
  });
  // As data: `ready` is a boolean, `readyStatus` the Ready condition's True/False/Unknown.
  const items = status.map(({ ready, ...rest }) => ({
    ...rest,
    ready: ready === "True",
    readyStatus: ready,
  }));
  out.list(items, () =>
    formatTable(
      ["KIND", "NAME", "READY", "REVISION", "MESSAGE"],
      status.map((s) => [
        s.kind,
        `${s.namespace}/${s.name}`,
        s.exists ? (s.suspended ? "Suspended" : s.ready) : "NotFound",
        s.revision ?? "-",
        s.message ?? "",
      ]),
    ),
  );
  if (status.some((s) => s.ready !== "True")) ctx.exitCode = 1;
}
