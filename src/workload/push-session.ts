/**
 * What pushes from this machine share (`workload push`, `reconcile --push` and `watch`; see
 * publishVersion in publish.ts): the on-disk validation cache, and a lock file per repository so
 * that two pushes to one repository take turns choosing and tagging the next version.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { sweepTemporary, temporaryRoot } from "../artifact/temporary.js";
import type { Progress } from "../progress.js";
import { withFileLock } from "../util/file-lock.js";
import { openValidationCache, validationCachePath } from "../validate/cache.js";
import type { PushDeps } from "./push.js";
import { count } from "../util/plural.js";

export type PushSession = Required<
  Pick<PushDeps, "validationCache" | "exclusive" | "temporaryDirectory">
>;

/**
 * Opens the validation cache and the repository lock under `cacheDir`, ksail's cache directory
 * (Runtime.cacheDir).
 */
export async function openPushSession(cacheDir: string, progress: Progress): Promise<PushSession> {
  const dir = cacheDir;
  // What pushes killed with SIGKILL left behind (their layer files) goes first.
  const temporaryDirectory = temporaryRoot(cacheDir);
  const swept = await sweepTemporary(temporaryDirectory);
  if (swept.length > 0) {
    progress.info(
      `Removed ${count(swept.length, "temporary file")} left by ksail processes that are gone`,
    );
  }
  const validationCache = await openValidationCache(validationCachePath(dir));
  const exclusive = <T>(repository: string, run: () => Promise<T>): Promise<T> => {
    const key = createHash("sha256").update(repository).digest("hex").slice(0, 24);
    return withFileLock(join(dir, "locks", `${key}.lock`), run, {
      onWait: () => progress.info(`Waiting for another push to ${repository} to finish…`),
    });
  };
  return { validationCache, exclusive, temporaryDirectory };
}
