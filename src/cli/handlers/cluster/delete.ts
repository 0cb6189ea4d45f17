/** `ksail cluster delete` / `ksail down`: the registry volume only with --delete-volumes. */
import { deleteCluster } from "../../../cluster/lifecycle.js";
import type { Invocation } from "../../seam.js";
import type { DeleteFlags } from "../../commands/cluster.js";
import { openCluster } from "./project.js";

export async function run(invocation: Invocation<DeleteFlags>): Promise<void> {
  const { flags } = invocation;
  const { out, deps, input } = await openCluster(invocation);
  const result = await deleteCluster(
    deps,
    { ...input, deleteVolumes: flags.deleteVolumes === true },
    out,
  );
  out.result(result, () => {
    const lines = [
      result.cluster === "absent"
        ? `cluster ${result.name} did not exist`
        : result.cluster === "external"
          ? `cluster ${result.name} is external: left as it is`
          : `cluster ${result.name} deleted`,
    ];
    if (result.registry === "kept-in-use")
      lines.push(`registry kept: still used by ${result.users.join(", ")}`);
    if (result.registry === "removed") lines.push("registry container removed");
    for (const m of result.mirrors) {
      if (m.state === "removed")
        lines.push(`mirror ${m.name} removed${m.volumeRemoved ? " with its volume" : ""}`);
      if (m.state === "kept-in-use")
        lines.push(`mirror ${m.name} kept: still used by ${m.users.join(", ")}`);
    }
    if (result.volumeRemoved) lines.push("registry volume removed");
    else if (result.registry !== "disabled" && !flags.deleteVolumes)
      lines.push("registry volume kept (pass --delete-volumes to remove it)");
    return lines.join("\n");
  });
}
