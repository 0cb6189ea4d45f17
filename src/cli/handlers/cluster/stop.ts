/** `ksail cluster stop`: nodes, then the registry; data is kept. */
import { stopCluster } from "../../../cluster/lifecycle.js";
import type { Invocation } from "../../seam.js";
import type { ClusterFlags } from "../../commands/cluster.js";
import { openCluster } from "./project.js";

export async function run(invocation: Invocation<ClusterFlags>): Promise<void> {
  const { out, deps, input } = await openCluster(invocation);
  const result = await stopCluster(deps, input, out);
  out.result(result, () => `cluster ${result.name} stopped`);
}
