/** `ksail registry start`. */
import { startRegistry } from "../../../registry/container.js";
import type { Invocation } from "../../seam.js";
import { openRegistry, statusJson } from "./spec.js";
import type { RegistryFlags } from "../../commands/registry.js";

export async function run(invocation: Invocation<RegistryFlags>): Promise<void> {
  const { out, engine, spec, cacheDir } = await openRegistry(invocation);
  const result = await startRegistry(engine, spec, out, { cacheDir });
  out.result({ action: result.action, ...statusJson(result.status) }, () =>
    result.action === "unchanged"
      ? `registry ${spec.name} already running at ${result.status.hostAddress}`
      : `registry ${spec.name} started at ${result.status.hostAddress}`,
  );
}
