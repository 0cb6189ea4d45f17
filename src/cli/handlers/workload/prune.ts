/** `ksail workload prune --keep N`: then the local registry's garbage collection, when it is ours. */
import { count } from "../../../util/plural.js";
import { parseDuration } from "../../../util/duration.js";
import { KsailError } from "../../../errors.js";
import { connectEngine, type Engine } from "../../../engine/docker.js";
import { garbageCollect, restoreReadWriteContainer } from "../../../registry/garbage-collect.js";
import { formatBytes } from "../../../ui/output.js";
import { pruneWorkload } from "../../../workload/prune.js";
import { createOutput, parseInteger } from "../../context.js";
import type { PruneFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";
import { resolveRuntime } from "../../../config/load.js";

export async function run({ ctx, flags, globals }: Invocation<PruneFlags>): Promise<void> {
  const keep = parseInteger(flags.keep, "--keep", 1);
  const olderThanMs = flags.olderThan === undefined ? undefined : parseDuration(flags.olderThan);
  if (flags.olderThan !== undefined && olderThanMs === undefined) {
    throw new KsailError(
      "usage",
      `--older-than must be a duration such as 24h or 30m, got "${flags.olderThan}"`,
    );
  }
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, false);
  const local = target.localRegistry;
  const { cacheDir } = resolveRuntime(ctx.env);
  // A garbage collection that was interrupted left the local registry read-only: undo it first.
  if (local && flags.dryRun !== true)
    await restoreReadWriteContainer(local.name, ctx.env, cacheDir, out);
  // The collector needs the container engine; without one the versions are still deleted
  // (through the registry's API) and the collection is left for later, with a warning.
  let engine: Engine | undefined;
  let unavailable: { reason: string; later: string } | undefined;
  if (local && flags.dryRun !== true) {
    engine = await connectEngine(ctx.env).catch((error: unknown) => {
      if (!(error instanceof KsailError) || error.kind !== "unreachable") throw error;
      unavailable = { reason: error.message, later: "ksail registry gc" };
      return undefined;
    });
  }
  const result = await pruneWorkload(
    {
      client,
      garbageCollect:
        local && engine ? () => garbageCollect(engine!, local.name, cacheDir) : undefined,
      garbageCollectUnavailable: unavailable,
    },
    {
      repository: target.repository,
      keep,
      ...(olderThanMs === undefined ? {} : { olderThanMs }),
      dryRun: flags.dryRun === true,
    },
    out,
  );
  out.result(result, () => {
    const verb = result.dryRun ? "would delete" : "deleted";
    const lines = result.deleted.map((v) => `${verb} ${v.version} (${v.digest.slice(0, 19)})`);
    lines.push(...result.kept.map((k) => `kept    ${k.version} (${k.reason})`));
    lines.push(...result.signatures.map((s) => `${verb} signature ${s.tag}`));
    lines.push(
      ...result.referrers.map((r) =>
        r.kind === "index"
          ? `${verb} referrers index ${r.tag}`
          : `${verb} ${r.kind === "bundle" ? "signature bundle" : "referrer"} ${r.manifestDigest} of ${r.digest.slice(0, 19)}`,
      ),
    );
    const total = count(result.deleted.length, "version");
    lines.push(
      `${total} ${result.dryRun ? "would be deleted" : "deleted"}, ${formatBytes(result.bytes)}`,
    );
    // A skipped garbage collection was said once already, as a warning on stderr.
    if (result.garbageCollection === "registry-managed") {
      lines.push(
        `${result.repository.split("/")[0]} is not ksail's local registry: its own garbage collection reclaims the space.`,
      );
    }
    return lines.join("\n");
  });
}
