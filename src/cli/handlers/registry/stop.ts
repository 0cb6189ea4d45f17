/** `ksail registry stop`: the data stays in the volume. */
import { stopRegistry } from "../../../registry/container.js";
import type { Invocation } from "../../seam.js";
import { openRegistry } from "./spec.js";
import type { RegistryFlags } from "../../commands/registry.js";

export async function run(invocation: Invocation<RegistryFlags>): Promise<void> {
  const { out, engine, spec } = await openRegistry(invocation);
  const result = await stopRegistry(engine, spec.name, out);
  out.result({ name: spec.name, ...result }, () =>
    !result.exists
      ? `registry ${spec.name} does not exist`
      : result.stopped
        ? `registry ${spec.name} stopped`
        : `registry ${spec.name} was not running`,
  );
}
