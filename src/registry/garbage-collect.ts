/**
 * Garbage collection of the local registry (FR-018): the distribution registry frees blob
 * data only when `registry garbage-collect` runs against its storage, so ksail execs it
 * inside the running container, then restarts it to drop the registry's in-memory cache.
 */
import { connectEngine, type Engine } from "../engine/docker.js";
import { KsailError } from "../errors.js";
import { silentProgress, type Progress } from "../progress.js";
import {
  describeBinding,
  LABEL_MANAGED,
  REGISTRY_CONFIG_PATH,
  registrySpec,
  waitForRegistry,
} from "./container.js";

/** The command, as the registry:3 image names its binary and config. */
export const GARBAGE_COLLECT_COMMAND = [
  "registry",
  "garbage-collect",
  "--delete-untagged",
  REGISTRY_CONFIG_PATH,
];

const EMPTY_REGISTRY = /Path not found: \/docker\/registry\/v2\/repositories\s*$/m;

/** Runs garbage collection in registry container `name`; returns what the registry printed. */
export async function garbageCollectContainer(
  name: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const engine = await connectEngine(env);
  return garbageCollect(engine, name);
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
  input: { name: string },
  progress: Progress = silentProgress,
): Promise<GarbageCollectReport> {
  const output = await progress.step(`garbage collection in ${input.name}`, () =>
    garbageCollect(deps.engine, input.name),
  );
  return { name: input.name, blobsDeleted: countDeletedBlobs(output), output };
}

/** The number of blobs `registry garbage-collect` reported deleting. */
export function countDeletedBlobs(output: string): number {
  return output.split("\n").filter((line) => /blob eligible for deletion/i.test(line)).length;
}

export async function garbageCollect(engine: Engine, name: string): Promise<string> {
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
  const result = await engine.exec(name, GARBAGE_COLLECT_COMMAND);
  const output = `${result.stdout}${result.stderr}`;
  // A registry that never stored anything has no repositories directory; the registry reports
  // that as a failure, but there is simply nothing to collect.
  if (result.exitCode !== 0 && EMPTY_REGISTRY.test(output)) return output;
  if (result.exitCode === 0) {
    // registry:3's config caches blob descriptors in memory; after the collector deleted blobs
    // the running registry would still answer HEAD for them and accept manifests naming them.
    // A restart empties that cache, so a tag can never point at a collected blob.
    await engine.docker.getContainer(name).restart({ t: 10 });
    const binding = describeBinding(info);
    if (binding) await waitForRegistry(engine, registrySpec({ name, hostPort: binding.hostPort }));
    return output;
  }
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
