/** Where ksail caches (Flux install manifests, the validation cache, lock files). */
import { homedir } from "node:os";
import { join } from "node:path";

/** ksail's cache directory: $XDG_CACHE_HOME/ksail, else ~/.cache/ksail. */
export function cacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "ksail");
}
