/**
 * `ksail workload diff --cluster`: what applying the manifest directory would change in the
 * cluster, object by object, as kustomize-controller would apply it (exit 1 when anything would).
 */
import { diffCluster, formatClusterDiff } from "../../../flux/cluster-diff.js";
import { resolveTarget } from "../../../workload/target.js";
import { colorEnabled } from "../../../ui/color.js";
import { paintPatch } from "../../../ui/diff-color.js";
import { createOutput, isTerminal } from "../../context.js";
import type { KubeFlags, TargetFlags } from "../../options.js";
import type { Invocation } from "../../seam.js";
import { connectKube } from "../kube.js";
import { localIdentities } from "../secrets-policy.js";

export async function run({ ctx, flags, globals }: Invocation<TargetFlags & KubeFlags>) {
  const out = createOutput(ctx, globals, flags.output);
  const { loaded, kube } = await connectKube(ctx, globals, flags);
  const target = await resolveTarget({
    ...(flags.path === undefined ? {} : { path: flags.path }),
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
    needsSource: true,
  });
  const result = await diffCluster(
    { kube },
    {
      sourceDir: target.sourceDir,
      identities: localIdentities(ctx.env),
      target: {
        name: loaded.config.metadata.name,
        namespace: loaded.config.spec.options.flux.namespace,
      },
    },
    out,
  );
  for (const error of result.errors) out.error(`✗ ${error}`);
  if (result.changes.length > 0 || result.errors.length > 0) ctx.exitCode = 1;
  out.result(result, () =>
    result.changes.length > 0
      ? paintPatch(formatClusterDiff(result), colorEnabled(ctx.env, isTerminal(ctx.stdout)))
      : result.errors.length > 0
        ? ""
        : `no changes: the cluster matches ${target.sourceDir} (${result.unchanged} objects)`,
  );
}
