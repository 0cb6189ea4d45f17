/** `ksail workload status`: exit 1 unless both objects are Ready; which version runs, pinned or not. */
import { workloadStatus } from "../../../flux/sync.js";
import { formatTable } from "../../../ui/output.js";
import type { StatusFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openKube } from "../kube.js";
import { openTarget } from "./target.js";

export async function run(invocation: Invocation<StatusFlags>): Promise<void> {
  const { ctx, globals, flags } = invocation;
  const wide = flags.output === "wide";
  const { out, loaded, kube } = await openKube({
    ...invocation,
    flags: { ...flags, output: wide ? "human" : flags.output },
  });
  const target = {
    name: loaded.config.metadata.name,
    namespace: loaded.config.spec.options.flux.namespace,
  };
  // The registry only names the newest version: status works without it.
  const registry = await openTarget(ctx, globals, { output: out.format }, out, false).catch(
    () => undefined,
  );
  const { runningVersion, formatRunning } = await import("../../../workload/rollback.js");
  const [status, running] = await Promise.all([
    workloadStatus(kube, target),
    runningVersion(
      { kube, ...(registry ? { client: registry.client } : {}) },
      { target, ...(registry ? { repository: registry.target.repository } : {}) },
    ),
  ]);
  registry?.client.close();
  // As data: `ready` is a boolean, `readyStatus` the Ready condition's True/False/Unknown; the
  // OCIRepository also carries the version it runs, since when, its pin and the newest version.
  const items = status.map(({ ready, ...rest }) => ({
    ...rest,
    ready: ready === "True",
    readyStatus: ready,
    ...(rest.kind === "OCIRepository" ? { running } : {}),
  }));
  out.list(items, () =>
    [
      formatTable(
        // -o wide (kubectl's): why it is (not) Ready, how often Flux looks, and what it follows.
        [
          "KIND",
          "NAME",
          "READY",
          "REVISION",
          ...(wide ? ["REASON", "INTERVAL", "SOURCE"] : []),
          "MESSAGE",
        ],
        status.map((s) => [
          s.kind,
          `${s.namespace}/${s.name}`,
          s.exists ? (s.suspended ? "Suspended" : s.ready) : "NotFound",
          s.revision ?? "-",
          ...(wide ? [s.reason ?? "-", s.interval ?? "-", s.source ?? "-"] : []),
          s.message ?? "",
        ]),
      ),
      ...(status[0]?.exists ? ["", `version: ${formatRunning(running)}`] : []),
    ].join("\n"),
  );
  if (status.some((s) => s.ready !== "True")) ctx.exitCode = 1;
}
