/** `ksail cluster create` / `ksail up`: registry → cluster → wiring → Flux. */
import { createCluster } from "../../../cluster/lifecycle.js";
import { resolveAgeKeys, resolveRuntime } from "../../../config/load.js";
import { fluxStep } from "../../../flux/bootstrap.js";
import { parseMirrorSpecs } from "../../../registry/mirror.js";
import type { Invocation } from "../../seam.js";
import type { CreateFlags } from "../../commands/cluster.js";
import { openCluster } from "./project.js";

export async function run(invocation: Invocation<CreateFlags>): Promise<void> {
  const { ctx, flags } = invocation;
  // --timeout bounds the Flux bootstrap (fluxStep reads spec.connection.timeout).
  const { out, deps, input } = await openCluster(invocation, { timeout: flags.timeout });
  // spec.options.mirrorRegistries, then --mirror-registry (the same mirror twice is fine).
  const mirrors = parseMirrorSpecs([
    ...input.config.spec.options.mirrorRegistries,
    ...(flags.mirrorRegistry ?? []),
  ]);
  const result = await createCluster(
    {
      ...deps,
      installGitOps: fluxStep({
        cacheDir: deps.cacheDir,
        manifests: flags.fluxManifests,
        kubeconfigFiles: resolveRuntime(ctx.env).kubeconfigFiles,
        projectRoot: input.baseDir,
        ageKeys: resolveAgeKeys(ctx.env),
      }),
    },
    { ...input, mirrors },
    out,
  );
  out.result(result, () =>
    [
      `cluster ${result.name} (${result.distribution}) ready — kubectl context ${result.context || "(current)"}`,
      ...(result.registry
        ? [
            `registry: push to ${result.registry.hostAddress}, in cluster ${result.registry.inClusterAddress}`,
          ]
        : []),
      ...result.mirrors.map(
        (m) => `mirror:   ${m.host} → ${m.name} (${m.upstream}) on ${m.hostAddress}`,
      ),
    ].join("\n"),
  );
}
