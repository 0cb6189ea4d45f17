/** `ksail workload diff [version]`: exit 1 when the directory differs from the pushed version. */
import { diffWorkload } from "../../../workload/diff.js";
import { createOutput } from "../../context.js";
import { KsailError } from "../../../errors.js";
import type { DiffFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";

export async function run(invocation: Invocation<DiffFlags>): Promise<void> {
  const { ctx, flags, globals, args } = invocation;
  if (flags.cluster) {
    if (args[0] !== undefined || flags.registry !== undefined) {
      throw new KsailError(
        "usage",
        "--cluster compares the directory with the cluster; it takes no version and no --registry",
      );
    }
    return (await import("./diff-cluster.js")).run(invocation);
  }
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, true);
  const result = await diffWorkload(
    { client },
    { repository: target.repository, version: args[0], sourceDir: target.sourceDir },
    out,
  );
  if (result.changes.length > 0) ctx.exitCode = 1;
  out.result(result, () =>
    result.changes.length === 0
      ? `no differences between ${target.sourceDir} and ${result.reference}`
      : result.changes.map((c) => c.patch ?? `Binary file ${c.path} ${c.status}\n`).join(""),
  );
}
