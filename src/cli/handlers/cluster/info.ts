/** `ksail cluster info`: distribution, context, nodes and registry of the project's cluster. */
import { clusterInfo } from "../../../cluster/inventory.js";
import type { Invocation } from "../../seam.js";
import type { ClusterFlags } from "../../commands/cluster.js";
import { openCluster } from "./project.js";

export async function run(invocation: Invocation<ClusterFlags>): Promise<void> {
  const { out, deps, input } = await openCluster(invocation);
  const info = await clusterInfo(deps, input);
  const { registry } = info;
  out.result(info, () =>
    [
      `cluster:  ${info.name} (${info.distribution}) ${info.exists ? "" : "— not created"}`.trimEnd(),
      `context:  ${info.context || "(current)"}`,
      `nodes:    ${info.nodes.map((n) => `${n.name}${n.running ? "" : " (stopped)"}`).join(", ") || "-"}`,
      `registry: ${registry ? `${registry.name} ${registry.state}, push to ${registry.hostAddress}, in cluster ${registry.inClusterAddress}` : "disabled"}`,
    ].join("\n"),
  );
}
