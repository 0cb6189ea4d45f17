/**
 * `ksail workload rollback [VERSION]`: pin the OCIRepository to VERSION (default: the one before
 * what the cluster runs), reconcile, wait and check the inventory; `--resume` follows the newest
 * version again. Output and exit codes as `reconcile`.
 */
import { keyFile } from "../../../config/load.js";
import { KsailError } from "../../../errors.js";
import { formatElapsed } from "../../../ui/output.js";
import { createOutput } from "../../context.js";
import type { RollbackFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { connectKube } from "../kube.js";
import { parseTimeout } from "../project.js";
import { inventoryLine } from "./applied.js";
import { workloadImages } from "../../../workload/images.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals, args }: Invocation<RollbackFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const timeoutMs = parseTimeout(flags.timeout);
  const deadline = Date.now() + timeoutMs;
  const started = performance.now();
  if (flags.resume && args[0] !== undefined) {
    throw new KsailError("usage", "--resume follows the newest version again; it takes no VERSION");
  }
  const { loaded, kube } = await connectKube(ctx, globals, flags, out);
  const { target: workload, client } = await openTarget(ctx, globals, flags, out, false);
  const target = {
    name: loaded.config.metadata.name,
    namespace: loaded.config.spec.options.flux.namespace,
  };
  const { rollbackWorkload, resumeWorkload } = await import("../../../workload/rollback.js");
  kube.setDeadline(deadline);
  const input = { target, repository: workload.repository, timeoutMs, deadline };
  const revisions = (steps: { kind: string; revision?: string | undefined }[]) =>
    steps.map(
      (s) =>
        `${s.kind === "OCIRepository" ? "fetched " : "applied "} ${s.revision ?? "-"}  (${s.kind} ${target.namespace}/${target.name})`,
    );
  if (flags.resume) {
    const result = await resumeWorkload({ kube, client }, input, out);
    const ms = performance.now() - started;
    out.result({ ...result, ms }, () =>
      [
        result.pinned
          ? `resumed: no longer pinned to ${result.pinned}; following the newest version`
          : "not pinned: already following the newest version",
        ...revisions(result.reconcile.steps),
        ...inventoryLine(result.applied),
        `reconciled in ${formatElapsed(ms)}`,
      ].join("\n"),
    );
    return;
  }
  const path = keyFile(workload.loaded, flags.key, "publicKey", ctx.cwd);
  let publicKey;
  if (path !== undefined) {
    const { readPublicKey } = await import("../../../workload/sign.js");
    publicKey = (await readPublicKey(path)).key;
  }
  const result = await rollbackWorkload(
    { kube, client },
    {
      ...input,
      ...(args[0] === undefined ? {} : { version: args[0] }),
      ...(publicKey ? { publicKey } : {}),
      imageDestination: workloadImages(workload).destination,
    },
    out,
  );
  const ms = performance.now() - started;
  out.result({ ...result, ms }, () =>
    [
      `rolled back ${result.from ? `${result.from} → ` : "to "}${result.version} (${result.digest})${result.verified ? `, signature verified with ${path}${result.images ? ` (and of ${result.images.map((i) => i.name).join(", ")})` : ""}` : ""}`,
      ...revisions(result.reconcile.steps),
      ...inventoryLine(result.applied),
      `pinned to ${result.version}${result.latest ? ` (latest is ${result.latest})` : ""}: resume following the newest version with \`ksail workload rollback --resume\``,
      `reconciled in ${formatElapsed(ms)}`,
    ].join("\n"),
  );
}
