/**
 * `ksail workload diff [FROM] [TO]`: two of a version (or `latest`), the manifest directory and
 * (--cluster) the cluster, object by object; --files file by file. Exit 1 when they differ.
 *
 *   diff                 latest            → the directory
 *   diff 0.0.7           0.0.7             → the directory
 *   diff 0.0.7 0.0.9     0.0.7             → 0.0.9
 *   diff --cluster       the cluster       → the directory (what applying it would change)
 */
import { resolveAgeKeys } from "../../../config/load.js";
import { KsailError } from "../../../errors.js";
import { diffFileSets, loadSide, compareLoaded, type DiffSide } from "../../../workload/diff.js";
import { formatObjectDiff, summarize } from "../../../workload/object-diff.js";
import { colorEnabled } from "../../../ui/color.js";
import { paintObjectDiff, paintPatch } from "../../../ui/diff-color.js";
import { createOutput, isTerminal } from "../../context.js";
import type { DiffFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";

export async function run(invocation: Invocation<DiffFlags>): Promise<void> {
  const { ctx, flags, globals, args } = invocation;
  if (flags.cluster) {
    if (args[0] !== undefined || flags.registry !== undefined || flags.files || flags.brief) {
      throw new KsailError(
        "usage",
        "--cluster compares the directory with the cluster; it takes no version, --registry, --files or --brief",
      );
    }
    return (await import("./diff-cluster.js")).run(invocation);
  }
  if (flags.files && flags.brief) {
    throw new KsailError("usage", "--files and --brief cannot be used together");
  }
  const [fromVersion, toVersion] = args;
  const out = createOutput(ctx, globals, flags.output);
  const color = colorEnabled(ctx.env, isTerminal(ctx.stdout));
  const { target, client } = await openTarget(ctx, globals, flags, out, toVersion === undefined);
  const from: DiffSide = { version: fromVersion };
  const to: DiffSide =
    toVersion === undefined ? { directory: target.sourceDir } : { version: toVersion };
  const [before, after] = await Promise.all(
    [from, to].map((side) => loadSide({ client }, { repository: target.repository, side }, out)),
  );
  if (flags.files) {
    // As before: the directory's side of a patch is labelled "local".
    const afterLabel = toVersion === undefined ? "local" : after!.label;
    const changes = diffFileSets(before!.files, after!.files, before!.label, afterLabel);
    if (changes.length > 0) ctx.exitCode = 1;
    out.list(changes, () =>
      changes.length === 0
        ? `no differences between ${before!.label} and ${after!.label}`
        : paintPatch(
            changes.map((c) => c.patch ?? `Binary file ${c.path} ${c.status}\n`).join(""),
            color,
          ),
    );
    return;
  }
  const result = await compareLoaded(before!, after!, async () => {
    const { loadIdentities } = await import("../../../secrets/age-keys.js");
    return (await loadIdentities(resolveAgeKeys(ctx.env))).identities;
  });
  if (result.encrypted.length > 0) {
    out.info(
      `compared by their encrypted content (no age identity here opens them): ${result.encrypted.join(", ")}`,
    );
  }
  if (result.items.length > 0) ctx.exitCode = 1;
  out.info(`${result.from.label} → ${result.to.label}: ${summarize(result)}`);
  out.list(result.items, () =>
    result.items.length === 0
      ? `no object changes between ${result.from.label} and ${result.to.label}${result.identical ? "" : " (the files differ only in form: order, comments, layout)"}`
      : paintObjectDiff(formatObjectDiff(result.items, flags.brief), color),
  );
}
