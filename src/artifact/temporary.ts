/**
 * Temporary directories that must not outlive the process: removed by their owner, else on exit
 * and on SIGINT/SIGTERM (then the signal's default action still ends the process; when someone
 * else handles the signal, e.g. `workload watch`, the process goes on and they go at exit). A SIGKILL leaves them behind in the OS temp dir, where
 * the OS's own cleanup finds them.
 */
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { markPassive } from "../util/signals.js";

const live = new Set<string>();
let installed = false;

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
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("exit", removeAllNow);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
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
