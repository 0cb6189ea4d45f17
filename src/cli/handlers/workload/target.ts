/** The registry client and target (repository, manifest directory) of a workload command. */
import { RegistryClient } from "../../../oci/client.js";
import type { Output } from "../../../ui/output.js";
import { resolveTarget, type WorkloadTarget } from "../../../workload/target.js";
import type { CliContext } from "../../context.js";
import type { GlobalOptions, TargetFlags } from "../../options.js";
import { resolveRequestTimeout, resolveRuntime } from "../../../config/load.js";

export async function openTarget(
  ctx: CliContext,
  globals: GlobalOptions,
  flags: TargetFlags,
  out: Output,
  needsSource: boolean,
): Promise<{ target: WorkloadTarget; client: RegistryClient }> {
  const requestTimeoutMs = resolveRequestTimeout(ctx.env, flags.requestTimeout);
  const { dockerConfig } = resolveRuntime(ctx.env);
  const target = await resolveTarget({
    ...(flags.registry === undefined ? {} : { registry: flags.registry }),
    ...(flags.path === undefined ? {} : { path: flags.path }),
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
    needsSource,
  });
  const retryShown = new Map<string, number>();
  const client = new RegistryClient({
    requestTimeoutMs,
    dockerConfig,
    insecureRegistries: flags.insecure ? [target.repository.registry] : [],
    onEvent: (event) => {
      if (event.type !== "retry") return;
      // Requests running side by side (two blob uploads) fail and retry together: one line
      // for each round, not one per request interleaved.
      const key = `${event.attempt} ${event.reason}`;
      const now = Date.now();
      if ((retryShown.get(key) ?? -Infinity) > now) return;
      retryShown.set(key, now + event.delayMs);
      out.info(`  retrying (${event.attempt}) in ${event.delayMs}ms: ${event.reason}`);
    },
  });
  return { target, client };
}
