/** `ksail workload pull [version] --dest DIR`. */
import { resolve } from "node:path";
import { pullWorkload } from "../../../workload/pull.js";
import { createOutput } from "../../context.js";
import type { PullFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals, args }: Invocation<PullFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, false);
  const result = await pullWorkload(
    { client },
    { repository: target.repository, version: args[0], destination: resolve(ctx.cwd, flags.dest) },
    out,
  );
  out.result(result, () => result.files.join("\n"));
}
