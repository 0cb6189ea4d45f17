/** `ksail registry status`. */
import { registryStatus, type RegistryStatus } from "../../../registry/container.js";
import type { Invocation } from "../../seam.js";
import { openRegistry, statusJson } from "./spec.js";
import type { RegistryFlags } from "../../commands/registry.js";

export async function run(invocation: Invocation<RegistryFlags>): Promise<void> {
  const { out, engine, spec } = await openRegistry(invocation);
  const status = await registryStatus(engine, spec);
  out.result(statusJson(status), () => describeStatus(status));
}

function describeStatus(status: RegistryStatus): string {
  if (!status.exists) {
    return [
      `registry ${status.name}: not created`,
      `volume:  ${status.volume} (${status.volumeExists ? "exists, data kept" : "absent"})`,
    ].join("\n");
  }
  return [
    `registry ${status.name}: ${status.state}`,
    `image:      ${status.image}`,
    `binding:    ${status.hostBinding ?? "-"}`,
    `push to:    ${status.hostAddress}`,
    `in cluster: ${status.inClusterAddress}`,
    `volume:     ${status.volume}`,
    `networks:   ${status.networks.join(", ") || "-"}`,
  ].join("\n");
}
