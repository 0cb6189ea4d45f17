/** `ksail cluster list`: Kind and K3d clusters, whichever CLIs are installed. */
import { listClusters } from "../../../cluster/inventory.js";
import { lazyEngine } from "../../../engine/docker.js";
import { formatTable } from "../../../ui/output.js";
import { createOutput } from "../../context.js";
import type { ListFlags } from "../../commands/cluster.js";
import type { Invocation } from "../../seam.js";

export async function run({ ctx, flags, globals }: Invocation<ListFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const rows = await listClusters({ env: ctx.env, engine: lazyEngine(ctx.env) }, {}, out);
  out.list(rows, () =>
    rows.length === 0
      ? "no Kind or K3d clusters"
      : formatTable(
          ["NAME", "DISTRIBUTION", "CONTEXT"],
          rows.map((r) => [r.name, r.distribution, r.context]),
        ),
  );
}
