/**
 * Temporary directories that must not outlive the process: removed by their owner, else on exit
 * and on SIGINT/SIGTERM/SIGHUP (then the signal's default action still ends the process; when
 * someone else handles the signal, e.g. `workload watch`, the process goes on and they go at
 * exit). They live under ksail's cache directory (`<cache>/tmp`) with the owner's PID in their
 * name, so what a SIGKILL leaves behind is found and removed by the next push (sweepTemporary).
 */
import { createHash } from "node:crypto";
import { readlinkSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { markPassive } from "../util/signals.js";

const live = new Set<string>();
let installed = false;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function removeAllNow(): void {
  for (const dir of live) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  live.clear();
}

const onSignal = markPassive((signal: NodeJS.Signals): void => {
  // Someone else handles it (`workload watch` finishes its running push first): the process
  // goes on, and the exit handler removes what is left.
  if (process.listenerCount(signal) > 1) return;
  removeAllNow();
  uninstall();
  // Behave like Node's default: end the process by this signal.
  process.kill(process.pid, signal);
});

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", removeAllNow);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("exit", removeAllNow);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Registers `dir` for removal at exit; returns the function that removes it now (idempotent). */
export function trackTemporary(dir: string): () => Promise<void> {
  live.add(dir);
  install();
  return async () => {
    if (!live.delete(dir)) return;
    if (live.size === 0) uninstall();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
}

/**
 * Where ksail's temporary files go: `<cache>/tmp`, `cacheDir` being ksail's cache directory
 * (Runtime.cacheDir: $XDG_CACHE_HOME/ksail, else ~/.cache/ksail).
 */
export function temporaryRoot(cacheDir: string): string {
  return join(cacheDir, "tmp");
}

let machineMark: string | undefined;

/**
 * Which processes a PID in a name can be checked against: the host name and the PID namespace
 * (a container sharing the cache directory has its own PIDs), as 8 hex digits.
 */
function machine(): string {
  if (machineMark === undefined) {
    let namespace = "";
    try {
      namespace = readlinkSync("/proc/self/ns/pid");
    } catch {
      // not Linux: the host name alone
    }
    machineMark = createHash("sha256")
      .update(`${hostname()}\n${namespace}`)
      .digest("hex")
      .slice(0, 8);
  }
  return machineMark;
}

/** `<prefix><pid>-<machine>-XXXXXX`, the last part from mkdtemp. */
const NAME = /^[a-z-]+?-(\d+)-([0-9a-f]{8})-[A-Za-z0-9]{6}$/;

/**
 * A new private directory `<root>/<prefix><pid>-<machine>-XXXXXX`, registered for removal.
 * `prefix` is a word and a dash, e.g. "ksail-layer-". `root` is a push session's temporaryRoot;
 * code used outside one (a library caller) gets the system's temporary directory.
 */
export async function makeTemporaryDirectory(
  prefix: string,
  root: string = tmpdir(),
): Promise<{ dir: string; remove: () => Promise<void> }> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(root, `${prefix}${process.pid}-${machine()}-`));
  return { dir, remove: trackTemporary(dir) };
}

/**
 * Removes what ksail processes that are gone left in `root` (a push killed with SIGKILL, a
 * machine that lost power): entries of this machine whose PID no longer runs. Returns their names.
 */
export async function sweepTemporary(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const swept: string[] = [];
  for (const name of names) {
    const match = NAME.exec(name);
    if (match === null || match[2] !== machine()) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || running(pid)) continue;
    await rm(join(root, name), { recursive: true, force: true }).catch(() => undefined);
    swept.push(name);
  }
  return swept;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
