/** `ksail registry gc`: the registry's garbage collection, and how many blobs it freed. */
import { count } from "../../../util/plural.js";
import { collectGarbage } from "../../../registry/garbage-collect.js";
import type { Invocation } from "../../seam.js";
import { openRegistry } from "./spec.js";
import type { RegistryFlags } from "../../commands/registry.js";

export async function run(invocation: Invocation<RegistryFlags>): Promise<void> {
  const { out, engine, spec, cacheDir } = await openRegistry(invocation);
  const report = await collectGarbage({ engine }, { name: spec.name, cacheDir }, out);
  out.result(report, () => `${count(report.blobsDeleted, "blob")} deleted`);
}
