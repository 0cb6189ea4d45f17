/** `ksail workload versions`. */
import { formatBytes, formatTable } from "../../../ui/output.js";
import { listVersions } from "../../../workload/versions.js";
import { createOutput } from "../../context.js";
import type { TargetFlags } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals }: Invocation<TargetFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, false);
  const versions = await listVersions({ client }, { repository: target.repository });
  out.list(versions, () =>
    versions.length === 0
      ? `no versions in ${target.repository.registry}/${target.repository.repository}`
      : formatTable(
          ["VERSION", "DIGEST", "CREATED", "SIZE", "SOURCE", "REVISION"],
          versions.map((v) => [
            v.latest ? `${v.version} (latest)` : v.version,
            v.digest.slice(0, 19),
            v.created ?? "-",
            formatBytes(v.size),
            v.source ?? "-",
            v.revision ?? "-",
          ]),
        ),
  );
}
