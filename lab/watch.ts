/**
 * Runs `ksail workload watch -o json` (the built CLI, as a process) for a test and lets it wait
 * for the loop's cycles: each stdout line is one CycleReport.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { CycleReport } from "../src/workload/watch.js";

const BIN = fileURLToPath(new URL("../bin/ksail.js", import.meta.url));
const DIST = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

export interface WatchRun {
  reports: CycleReport[];
  /** The n-th cycle report (1-based); fails after `timeoutMs` (default 90 s) with describe(). */
  cycle(n: number, timeoutMs?: number): Promise<CycleReport>;
  /** Sends `signal` (default SIGINT) and resolves with the exit code once the process ended. */
  stop(
    signal?: NodeJS.Signals,
  ): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  /** What the process printed so far (stderr and stdout), for assertion messages. */
  describe(): string;
}

export interface StartWatchOptions {
  /** The project directory (ksail.yaml); the process runs there. */
  project: string;
  /** More `workload watch` flags, e.g. --no-reconcile, --prune-keep 2, --timeout 60s. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export function startWatch(options: StartWatchOptions): WatchRun {
  if (!existsSync(DIST)) {
    throw new Error(
      `${DIST} is missing: run \`npm run build\` before the CLI tests (npm test does).`,
    );
  }
  const child = spawn(
    process.execPath,
    [BIN, "workload", "watch", "-o", "json", ...(options.args ?? [])],
    {
      cwd: options.project,
      // As lab/ksail.ts: a private HOME / DOCKER_CONFIG and cache per test process.
      env: {
        PATH: process.env.PATH,
        HOME: options.project,
        DOCKER_CONFIG: options.project,
        XDG_CACHE_HOME: join(tmpdir(), `ksail-test-cache-${process.pid}`),
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const reports: CycleReport[] = [];
  const output: string[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((resolve) => resolve());
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => output.push(chunk));
  createInterface({ input: child.stdout }).on("line", (line) => {
    output.push(`stdout: ${line}\n`);
    try {
      reports.push(JSON.parse(line) as CycleReport);
    } catch {
      // not a cycle line; kept in the output above
    }
    wake();
  });
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>(
    (resolve) =>
      child.on("close", (exitCode, signal) => {
        resolve({ exitCode, signal });
        wake();
      }),
  );
  const describe = () => output.join("");
  return {
    reports,
    describe,
    async cycle(n, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (reports.length < n) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`watch exited (${child.exitCode ?? child.signalCode}):\n${describe()}`);
        if (Date.now() > deadline)
          throw new Error(`cycle ${n} did not come within ${timeoutMs / 1000} s:\n${describe()}`);
        await Promise.race([
          new Promise<void>((resolve) => waiters.push(resolve)),
          new Promise((resolve) => setTimeout(resolve, 1000)),
        ]);
      }
      return reports[n - 1]!;
    },
    async stop(signal = "SIGINT") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
