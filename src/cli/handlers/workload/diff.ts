/** `ksail workload diff [version]`: exit 1 when the directory differs from the pushed version. */
import { diffWorkload } from "../../../workload/diff.js";
import { createOutput } from "../../context.js";
import type { TargetFlags } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals, args }: Invocation<TargetFlags>): Promise<void> {
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
