/** `ksail registry delete [--delete-volumes]`: the volume only when asked. */
import { deleteRegistry } from "../../../registry/container.js";
import type { Invocation } from "../../seam.js";
import type { DeleteFlags } from "../../commands/registry.js";
import { openRegistry } from "./spec.js";

export async function run(invocation: Invocation<DeleteFlags>): Promise<void> {
  const { flags } = invocation;
  const { out, engine, spec } = await openRegistry(invocation);
  const result = await deleteRegistry(engine, spec, out, {
    deleteVolume: flags.deleteVolumes === true,
  });
  out.result({ name: spec.name, ...result }, () => {
    const lines = [
      result.containerRemoved
        ? `registry ${spec.name} removed`
        : `registry ${spec.name} did not exist`,
    ];
    if (result.volumeRemoved) lines.push(`volume ${result.volume} removed`);
    else if (!flags.deleteVolumes)
      lines.push(`volume ${result.volume} kept (pass --delete-volumes to remove it)`);
    return lines.join("\n");
  });
}
