/**
 * Garbage collection of the local registry (FR-018): the distribution registry frees blob
 * data only when `registry garbage-collect` runs against its storage, so ksail execs it
 * inside the running container. Around it the registry runs read-only (maintenance.ts), so a
 * push at that moment is refused instead of ending with a tag on collected blobs; the restart
 * back to read-write also drops the registry's in-memory blob cache.
 */
import { connectEngine, type Engine } from "../engine/docker.js";
import type Docker from "dockerode";
import { KsailError } from "../errors.js";
import { silentProgress, type Progress } from "../progress.js";
import { describeBinding, LABEL_MANAGED, registrySpec, waitForRegistry } from "./container.js";
import { REGISTRY_CONFIG_PATH } from "./image-paths.js";
import {
  isReadOnlyConfig,
  readContainerFile,
  withMaintenanceLock,
  writeReadOnlyConfig,
  writeReadWriteConfig,
} from "./maintenance.js";

/** The command, as the registry:3 image names its binary and config. */
export const GARBAGE_COLLECT_COMMAND = [
  "registry",
  "garbage-collect",
  "--delete-untagged",
  REGISTRY_CONFIG_PATH,
];

const EMPTY_REGISTRY = /Path not found: \/docker\/registry\/v2\/repositories\s*$/m;

/**
 * Runs garbage collection in registry container `name` (the engine from `env`); returns what the
 * registry printed. `cacheDir` is ksail's cache directory, where the maintenance lock lives.
 */
export async function garbageCollectContainer(
  name: string,
  env: NodeJS.ProcessEnv,
  cacheDir: string,
): Promise<string> {
  const engine = await connectEngine(env);
  return garbageCollect(engine, name, cacheDir);
}

export interface GarbageCollectReport {
  name: string;
  /** Blobs the collector deleted (its "blob eligible for deletion" lines). */
  blobsDeleted: number;
  /** What the registry printed. */
  output: string;
}

/** `ksail registry gc`: runs the collector in container `name` and counts the blobs it freed. */
export async function collectGarbage(
  deps: { engine: Engine },
  input: { name: string; cacheDir: string },
  progress: Progress = silentProgress,
): Promise<GarbageCollectReport> {
  const output = await progress.step(`garbage collection in ${input.name}`, () =>
    garbageCollect(deps.engine, input.name, input.cacheDir),
  );
  return { name: input.name, blobsDeleted: countDeletedBlobs(output), output };
}

/** The number of blobs `registry garbage-collect` reported deleting. */
export function countDeletedBlobs(output: string): number {
  return output.split("\n").filter((line) => /blob eligible for deletion/i.test(line)).length;
}

/**
 * Runs the collector in registry container `name`, read-only meanwhile, holding the maintenance
 * lock in `cacheDir` (ksail's cache directory, Runtime.cacheDir).
 */
export async function garbageCollect(
  engine: Engine,
  name: string,
  cacheDir: string,
): Promise<string> {
  const info = await engine.inspectContainer(name);
  if (!info) {
    throw new KsailError("not-found", `there is no registry container named ${name}`, {
      hint: "Create it with `ksail registry create` (or `ksail up`).",
    });
  }
  if (info.Config.Labels?.[LABEL_MANAGED] !== "true") {
    throw new KsailError(
      "conflict",
      `container ${name} was not created by ksail; not running garbage collection in it`,
    );
  }
  if (!info.State.Running) {
    throw new KsailError(
      "failed",
      `registry container ${name} is not running, so garbage collection cannot run in it`,
      {
        hint: "Start it with `ksail registry start`, then retry.",
      },
    );
  }
  const result = await withMaintenanceLock(
    name,
    async () => {
      await restartRegistry(engine, info, () => writeReadOnlyConfig(engine, name));
      try {
        return await engine.exec(name, GARBAGE_COLLECT_COMMAND);
      } finally {
        // Back to read-write whatever happened. registry:3's config caches blob descriptors in
        // memory; the restart also empties that cache, so the registry never answers HEAD for a
        // collected blob or accepts a manifest naming one.
        await restartRegistry(engine, info, () => writeReadWriteConfig(engine, name));
      }
    },
    { cacheDir },
  );
  const output = `${result.stdout}${result.stderr}`;
  // A registry that never stored anything has no repositories directory; the registry reports
  // that as a failure, but there is simply nothing to collect.
  if (result.exitCode === 0 || EMPTY_REGISTRY.test(output)) return output;
  const lines = output.split("\n").filter((line) => line.trim() !== "");
  throw new KsailError(
    "failed",
    `registry garbage collection in ${name} failed (exit ${result.exitCode})`,
    {
      details: lines.slice(-5),
      hint: `Run \`docker exec ${name} ${GARBAGE_COLLECT_COMMAND.join(" ")}\` to see the whole output.`,
    },
  );
}

/** Rewrites the config (`change`), restarts the registry and waits until /v2/ answers again. */
async function restartRegistry(
  engine: Engine,
  info: Docker.ContainerInspectInfo,
  change: () => Promise<unknown>,
): Promise<void> {
  const name = info.Name.replace(/^\//, "");
  await change();
  await engine.call(`restart registry container ${name}`, () =>
    engine.docker.getContainer(name).restart({ t: 10 }),
  );
  const binding = describeBinding(info);
  if (binding) await waitForRegistry(engine, registrySpec({ name, hostPort: binding.hostPort }));
}

/**
 * restoreReadWrite for the CLI: connects to the engine from `env`. An engine that cannot be
 * reached is left to the steps that need it (the collection says so); nothing to repair then.
 */
export async function restoreReadWriteContainer(
  name: string,
  env: NodeJS.ProcessEnv,
  cacheDir: string,
  progress: Progress = silentProgress,
): Promise<boolean> {
  let engine: Engine;
  try {
    engine = await connectEngine(env);
  } catch {
    return false;
  }
  const info = await engine.inspectContainer(name).catch(() => undefined);
  if (!info) return false;
  if (!isReadOnlyConfig(await readContainerFile(engine, name, REGISTRY_CONFIG_PATH))) return false;
  return progress.step(
    `restore read-write mode of registry ${name} (an interrupted garbage collection left it read-only)`,
    () => restoreReadWrite(engine, name, cacheDir),
  );
}

/**
 * Puts a registry that an interrupted garbage collection left read-only back to read-write
 * (restarting it when it runs). Returns whether it had to.
 */
export async function restoreReadWrite(
  engine: Engine,
  name: string,
  cacheDir: string,
): Promise<boolean> {
  const info = await engine.inspectContainer(name);
  if (!info || info.Config.Labels?.[LABEL_MANAGED] !== "true") return false;
  if (!isReadOnlyConfig(await readContainerFile(engine, name, REGISTRY_CONFIG_PATH))) return false;
  // Read-only and a collection running right now is its window, not a leftover: wait for it.
  return withMaintenanceLock(
    name,
    async () => {
      if (!(await writeReadWriteConfig(engine, name))) return false;
      if (info.State.Running) await restartRegistry(engine, info, async () => {});
      return true;
    },
    { cacheDir },
  );
}
