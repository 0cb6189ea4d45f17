/** `ksail cluster start`: the registry, the nodes, then the wiring again. */
import { startCluster } from "../../../cluster/lifecycle.js";
import type { Invocation } from "../../seam.js";
import type { ClusterFlags } from "../../commands/cluster.js";
import { openCluster } from "./project.js";

export async function run(invocation: Invocation<ClusterFlags>): Promise<void> {
  const { out, deps, input } = await openCluster(invocation);
  const result = await startCluster(deps, input, out);
  out.result(result, () => `cluster ${result.name} started`);
}
