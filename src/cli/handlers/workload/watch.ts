/**
 * `ksail workload watch`: every save in the manifest directory is validated, pushed as the next
 * patch version and applied by Flux, in one long-lived process, until Ctrl-C (exit 0).
 */
import { relative } from "node:path";
import { KsailError } from "../../../errors.js";
import { openPushSession } from "../../../workload/push-session.js";
import { watchWorkload, type WatchInput } from "../../../workload/watch.js";
import { cycleJson, formatCycle } from "../../../workload/watch-format.js";
import { createOutput, parseInteger } from "../../context.js";
import type { WatchFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { connectKube } from "../kube.js";
import { parseTimeout } from "../project.js";
import { secretsPolicy } from "../secrets-policy.js";
import { keyFile, resolveRuntime, signatureFormat } from "../../../config/load.js";
import { loadKeyForSigning } from "../signing.js";
import { lazyEngine } from "../../../engine/docker.js";
import { workloadImages } from "../../../workload/images.js";
import { ImageRebuilder } from "../../../images/rebuild.js";
import { openTarget } from "./target.js";
import { keepYoungGenerationSmall } from "../../../util/young-generation.js";
import { count } from "../../../util/plural.js";

export async function run({ ctx, flags, globals }: Invocation<WatchFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  // A watch runs for hours: its memory must stay flat (docs/performance.md, goal 5).
  keepYoungGenerationSmall();
  const debounceMs = parseTimeout(flags.debounce, "--debounce");
  const timeoutMs = parseTimeout(flags.timeout);
  const pruneKeep =
    flags.pruneKeep === undefined ? undefined : parseInteger(flags.pruneKeep, "--prune-keep", 1);
  const { target, client } = await openTarget(ctx, globals, flags, out, true);
  // Read and decrypt the key before the first push: a wrong password pushes nothing.
  const signKeyPath = keyFile(target.loaded, flags.signKey, "key", ctx.cwd);
  const signingKey =
    signKeyPath === undefined ? undefined : await loadKeyForSigning(ctx, signKeyPath);
  const session = await openPushSession(resolveRuntime(ctx.env).cacheDir, out);
  // spec.images: rebuilt where their context changed, pinned in every version.
  const { images: imageSpecs, destination } = workloadImages(target);
  const images =
    imageSpecs.length > 0
      ? new ImageRebuilder(
          { client, engine: lazyEngine(ctx.env) },
          { images: imageSpecs, destination },
        )
      : undefined;
  let reconcile: WatchInput["reconcile"];
  let kube;
  if (flags.reconcile !== false) {
    const connected = await connectKube(ctx, globals, flags);
    kube = connected.kube;
    reconcile = {
      name: connected.loaded.config.metadata.name,
      namespace: connected.loaded.config.spec.options.flux.namespace,
      timeoutMs,
    };
    // After `workload rollback`, every cycle warns that its version is not applied (--resume).
  }

  // Ctrl-C (or SIGTERM) ends the loop after the running push; a second one does not wait.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      out.info("Stopping: finishing the running push, if any (Ctrl-C again to stop at once)…");
      controller.abort();
    } else {
      // Safe at any point: a push writes its manifest last, so no tag points at missing blobs.
      process.exit(0);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let summary;
  try {
    summary = await watchWorkload(
      { client, ...(kube ? { kube } : {}), ...session },
      {
        repository: target.repository,
        sourceDir: target.sourceDir,
        displayDir: relative(ctx.cwd, target.sourceDir) || ".",
        debounceMs,
        signal: controller.signal,
        ...(flags.ignore === undefined ? {} : { ignore: flags.ignore }),
        ...(reconcile ? { reconcile } : {}),
        ...(pruneKeep === undefined ? {} : { pruneKeep }),
        ...(signingKey ? { signingKey } : {}),
        ...(images ? { images } : {}),
        secrets: secretsPolicy(flags.allowPlaintextSecrets, target.loaded.config, ctx.env),
        ...(signingKey
          ? { signatureFormat: signatureFormat(target.loaded, flags.signatureFormat) }
          : {}),
      },
      {
        cycle: (report) => {
          out.record(JSON.parse(cycleJson(report)));
          const line = formatCycle(report);
          // Failures always show; successful cycles are progress (hidden by -q).
          if (["invalid", "flux-failed", "unreachable", "failed"].includes(report.outcome))
            out.error(line);
          else out.info(line);
        },
        notice: (line) => out.info(line),
        warn: (line) => out.warn(line),
      },
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (!summary) throw new KsailError("failed", "the watch loop ended without a summary");
  out.info(
    `Stopped after ${count(summary.cycles, "cycle")}; ${count(summary.pushed, "version")} pushed${summary.lastVersion ? `, newest ${summary.lastVersion}` : ""}.`,
  );
  // A reconcile wait cut short by Ctrl-C may still hold its API watch open until its timeout:
  // end the process once everything above is written (the push is finished or safely abandoned).
  if (summary.abandoned) setTimeout(() => process.exit(), 100).unref();
}
