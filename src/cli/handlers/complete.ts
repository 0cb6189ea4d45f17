/**
 * `ksail __complete contexts|versions -- WORDS…`: completion candidates on stdout, one a line.
 * It runs on a key press, so it is bounded (COMPLETE_TIME_LIMIT_MS at most, one registry
 * request without retries) and silent: on any error it prints nothing and exits 0, so no
 * message ever lands in the shell's command line.
 */
import { resolveRuntime } from "../../config/load.js";
import { kubeContextNames } from "../../k8s/contexts.js";
import type { CompleteFlags } from "../commands/version.js";
import type { Invocation } from "../seam.js";

/** The longest a completion may keep the shell waiting. */
const COMPLETE_TIME_LIMIT_MS = 3000;

export async function run({ ctx, args }: Invocation<CompleteFlags>): Promise<void> {
  const kind = args[0];
  const words = (args[1] as unknown as string[] | undefined) ?? [];
  const limit = new Promise<"late">((resolve) =>
    setTimeout(() => resolve("late"), COMPLETE_TIME_LIMIT_MS).unref(),
  );
  const work = (kind === "contexts" ? contexts(ctx.env, words) : versions(ctx, words)).catch(
    () => [] as string[],
  );
  const candidates = await Promise.race([work, limit]);
  // A registry that did not answer in time: nothing, at once (its socket must not hold the shell).
  if (candidates === "late") process.exit(0);
  if (candidates.length > 0) ctx.stdout.write(`${candidates.join("\n")}\n`);
}

/** The value of `flag` among the typed words (`--flag value` or `--flag=value`). */
function flagValue(words: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  words.forEach((word, i) => {
    if (word === flag && i + 1 < words.length) value = words[i + 1];
    else if (word.startsWith(`${flag}=`)) value = word.slice(flag.length + 1);
  });
  return value === "" ? undefined : value;
}

async function contexts(env: NodeJS.ProcessEnv, words: readonly string[]): Promise<string[]> {
  const { loadConfig } = await import("../../config/load.js");
  const configPath = flagValue(words, "--config");
  const kubeconfig =
    flagValue(words, "--kubeconfig") ??
    (await loadConfig({ ...(configPath ? { configPath } : {}), cwd: process.cwd(), env })
      .then((loaded) => loaded.config.spec.connection.kubeconfig)
      .catch(() => undefined));
  return kubeContextNames({
    ...(kubeconfig ? { kubeconfig } : {}),
    kubeconfigFiles: resolveRuntime(env).kubeconfigFiles,
  });
}

/** The repository's versions, newest first, and `latest` when it is there. */
async function versions(
  ctx: Invocation<CompleteFlags>["ctx"],
  words: readonly string[],
): Promise<string[]> {
  const { resolveTarget } = await import("../../workload/target.js");
  const { RegistryClient } = await import("../../oci/client.js");
  const { semverTags, LATEST_TAG } = await import("../../workload/versions.js");
  const registry = flagValue(words, "--registry");
  const configPath = flagValue(words, "--config");
  const path = flagValue(words, "--path");
  const target = await resolveTarget({
    ...(registry ? { registry } : {}),
    ...(path ? { path } : {}),
    ...(configPath ? { configPath } : {}),
    cwd: ctx.cwd,
    env: ctx.env,
    needsSource: false,
  });
  const client = new RegistryClient({
    requestTimeoutMs: COMPLETE_TIME_LIMIT_MS,
    dockerConfig: resolveRuntime(ctx.env).dockerConfig,
    insecureRegistries: words.includes("--insecure") ? [target.repository.registry] : [],
    retry: { maxAttempts: 1 },
  });
  try {
    const tags = await client.listTags(target.repository);
    return [...semverTags(tags).reverse(), ...(tags.includes(LATEST_TAG) ? [LATEST_TAG] : [])];
  } finally {
    client.close();
  }
}
