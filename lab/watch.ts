/**
 * Runs `ksail workload watch -o json` (the built CLI, as a process) for a test and lets it wait
 * for the loop's cycles: each stdout line is one CycleReport.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
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
  /** Resolves once the output (stderr or stdout) matches, fails after `timeoutMs` (90 s). */
  output(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit once the process ended by itself (fails after `timeoutMs`). */
  exited(timeoutMs?: number): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartWatchOptions {
  /** The project directory (ksail.yaml); the process runs there. */
  project: string;
  /** More `workload watch` flags, e.g. --no-reconcile, --prune-keep 2, --timeout 60s. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * A command the CLI runs under, e.g. `["unshare", "-U", "-r", "sh", "-c", 'echo 8 >
   * /proc/sys/user/max_inotify_watches; exec "$@"', "sh"]` for a private inotify budget.
   */
  wrap?: string[];
}

export function startWatch(options: StartWatchOptions): WatchRun {
  if (!existsSync(DIST)) {
    throw new Error(
      `${DIST} is missing: run \`npm run build\` before the CLI tests (npm test does).`,
    );
  }
  const command = [
    process.execPath,
    BIN,
    "workload",
    "watch",
    "-o",
    "json",
    ...(options.args ?? []),
  ];
  const [file, ...args] = [...(options.wrap ?? []), ...command] as [string, ...string[]];
  const child = spawn(file, args, {
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
  });
  const reports: CycleReport[] = [];
  const output: string[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((resolve) => resolve());
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    output.push(chunk);
    wake();
  });
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
  /** Waits until `done()` holds, waking on every output line and at least once a second. */
  const until = async (done: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`${what} did not come within ${timeoutMs / 1000} s:\n${describe()}`);
      await Promise.race([
        new Promise<void>((resolve) => waiters.push(resolve)),
        new Promise((resolve) => setTimeout(resolve, 1000)),
      ]);
    }
  };
  return {
    reports,
    describe,
    async output(pattern, timeoutMs = 90_000) {
      await until(() => pattern.test(describe()), String(pattern), timeoutMs);
      return describe();
    },
    async exited(timeoutMs = 90_000) {
      await until(
        () => child.exitCode !== null || child.signalCode !== null,
        "the exit",
        timeoutMs,
      );
      return exited;
    },
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

const run = (command: string, args: string[], cwd: string) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr}`)),
    );
  });

/** Context of one save: the watched directory, the file saved in it, and where to keep aside. */
export interface SaveContext {
  dir: string;
  /** Relative to `dir`. */
  file: string;
  /** A scratch directory outside the watched one. */
  scratch: string;
}

/**
 * The ways programs save a file (issue 21): each writes `content` as the file's new content,
 * the way the named tool does. A watcher that loses a file replaced by a rename goes deaf
 * after the first `sed -i`; every style here must start exactly one cycle.
 */
export const SAVE_STYLES: {
  name: string;
  save(at: SaveContext, content: string): Promise<void>;
}[] = [
  {
    name: "in place (shell > redirect)",
    async save(at, content) {
      await writeFile(join(at.scratch, "next"), content);
      await run("sh", ["-c", `cat "$1" > "$2"`, "sh", join(at.scratch, "next"), at.file], at.dir);
    },
  },
  {
    name: "sed -i (temp file + rename)",
    async save(at, content) {
      await writeFile(join(at.scratch, "next"), content);
      await run("sed", ["-i", "-e", `1r ${join(at.scratch, "next")}`, "-e", "d", at.file], at.dir);
    },
  },
  {
    name: "sed -i again",
    async save(at, content) {
      await writeFile(join(at.scratch, "next"), content);
      await run("sed", ["-i", "-e", `1r ${join(at.scratch, "next")}`, "-e", "d", at.file], at.dir);
    },
  },
  {
    name: "in place after sed -i (Node writeFile)",
    async save(at, content) {
      await writeFile(join(at.dir, at.file), content);
    },
  },
  {
    name: "temp file in the directory + rename (JetBrains safe write)",
    async save(at, content) {
      const temp = join(at.dir, `${at.file}___jb_tmp___`);
      await writeFile(temp, content);
      await rename(temp, join(at.dir, at.file));
    },
  },
  {
    name: "delete + create",
    async save(at, content) {
      await rm(join(at.dir, at.file));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeFile(join(at.dir, at.file), content);
    },
  },
  {
    name: "vim-style backup rename (file → file~, write new, remove file~)",
    async save(at, content) {
      const path = join(at.dir, at.file);
      await rename(path, `${path}~`);
      await writeFile(path, content);
      await rm(`${path}~`);
    },
  },
];

/** `git <args>` in `dir`, with an identity for stash and commit. */
export function git(dir: string, ...args: string[]): Promise<void> {
  return run(
    "git",
    ["-c", "user.name=ksail", "-c", "user.email=ksail@example.invalid", ...args],
    dir,
  );
}

/** Makes `dir` a git repository with everything committed (for the checkout / stash saves). */
export async function gitInit(dir: string): Promise<void> {
  await git(dir, "init", "-q");
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", "base");
}
