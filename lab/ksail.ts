/** Runs the built CLI (dist/, from `npm run build`) as a user would: a real process, real exit code. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/ksail.js", import.meta.url));
const DIST = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

export interface KsailRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface KsailOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Called with the child right after it starts (e.g. to kill it mid-push). */
  onSpawn?: (child: ChildProcess) => void;
}

export function runKsail(args: string[], options: KsailOptions): Promise<KsailRun> {
  if (!existsSync(DIST)) {
    throw new Error(
      `${DIST} is missing: run \`npm run build\` before the CLI tests (npm test does).`,
    );
  }
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    // A private DOCKER_CONFIG keeps the developer's own credentials out of the tests.
    env: {
      PATH: process.env.PATH,
      HOME: options.cwd,
      DOCKER_CONFIG: options.cwd,
      // ksail's caches (validation, Flux manifests) stay out of the projects under test.
      XDG_CACHE_HOME: join(tmpdir(), `ksail-test-cache-${process.pid}`),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

/** Parses --output json stdout, failing with the whole output when it is not JSON. */
export function json<T = Record<string, unknown>>(run: KsailRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(
      `expected JSON on stdout (exit ${run.code}):\n${run.stdout}\n--- stderr ---\n${run.stderr}`,
    );
  }
}
