// Process helpers and small statistics for the benchmark.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** @typedef {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number }} RunOptions */

/**
 * Runs a command to completion and measures its wall time (spawn to exit) in milliseconds.
 * Output is captured (for error messages), never inherited, so terminal speed is not measured.
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {RunOptions} [opts]
 * @returns {Promise<{ms: number, code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string}>}
 */
export function timed(cmd, args, { cwd, env, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    /** @type {Buffer[]} */
    const out = [];
    /** @type {Buffer[]} */
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      clearTimeout(timer);
      resolve({
        ms,
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

/**
 * Like timed(), but throws with the command's output when it exits non-zero.
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {RunOptions} [opts]
 */
export async function mustRun(cmd, args, opts) {
  const r = await timed(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${r.code ?? r.signal}\n${tail(r.stderr || r.stdout)}`,
    );
  }
  return r;
}

export function tail(text, lines = 15) {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs) {
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(xs) {
  return xs.length ? Math.max(...xs) : NaN;
}

/** Rotates an array left by k: rotate([a,b,c], 1) -> [b,c,a]. Used to alternate run order. */
export function rotate(arr, k) {
  const n = arr.length;
  const s = ((k % n) + n) % n;
  return [...arr.slice(s), ...arr.slice(0, s)];
}

export const TIME_BIN = "/usr/bin/time";
const RSS_MARK = "bench-peak-rss-kib=";

/**
 * Like timed(), run under GNU time (`/usr/bin/time -f`), which adds `peakRssKiB`: the maximum
 * resident set size of the command (for a pipeline of its own, of its largest process), and
 * `cpuMs`: its user + system CPU time, which a busy machine stretches far less than wall time
 * (other processes queue for the cores, they do not add CPU work). The wrapper costs the same
 * fork + exec for every tool.
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {RunOptions} [opts]
 * @returns {Promise<{ms: number, code: number | null, signal: string | null, stdout: string, stderr: string, peakRssKiB: number, cpuMs: number}>}
 */
export async function timedRss(cmd, args, opts) {
  if (!existsSync(TIME_BIN)) {
    throw new Error(
      `${TIME_BIN} is missing: peak memory is measured with GNU time (apt-get install -y time)`,
    );
  }
  const r = await timed(TIME_BIN, ["-f", `${RSS_MARK}%M %U %S`, cmd, ...args], opts);
  const lines = r.stderr.split("\n");
  const at = lines.findLastIndex((l) => l.startsWith(RSS_MARK));
  const [rss, user, sys] = at === -1 ? [] : lines[at].slice(RSS_MARK.length).split(" ");
  if (at !== -1) lines.splice(at, 1);
  return {
    ...r,
    stderr: lines.join("\n"),
    peakRssKiB: Number(rss ?? NaN),
    cpuMs: (Number(user ?? NaN) + Number(sys ?? NaN)) * 1000,
  };
}
