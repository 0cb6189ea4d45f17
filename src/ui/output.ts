/**
 * Where ksail's words go: progress and messages to stderr, data to stdout, so that
 * `ksail workload versions -o json | jq` works. Steps print their duration.
 */
import type { Writable } from "node:stream";
import { formatDuration } from "../config/duration.js";

export type OutputFormat = "human" | "json";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["human", "json"];

export interface OutputOptions {
  format?: OutputFormat;
  stdout?: Writable;
  stderr?: Writable;
  /** Suppress progress lines (errors and data still print). */
  quiet?: boolean;
  /** Clock for step timings; tests may pass their own. */
  now?: () => number;
}

export class Output {
  readonly format: OutputFormat;
  private readonly stdout: Writable;
  private readonly stderr: Writable;
  private readonly quiet: boolean;
  private readonly now: () => number;

  constructor(options: OutputOptions = {}) {
    this.format = options.format ?? "human";
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.quiet = options.quiet ?? false;
    this.now = options.now ?? (() => performance.now());
  }

  /** Runs one named step and reports "✓ label (duration)" or "✗ label (duration)". */
  async step<T>(label: string, run: () => Promise<T>, summary?: (result: T) => string): Promise<T> {
    const started = this.now();
    try {
      const result = await run();
      const detail = summary ? summary(result) : label;
      this.progress(`✓ ${detail} (${formatElapsed(this.now() - started)})`);
      return result;
    } catch (error) {
      this.progress(`✗ ${label} (${formatElapsed(this.now() - started)})`);
      throw error;
    }
  }

  /** A progress or status line (stderr; hidden with --quiet). */
  info(line: string): void {
    this.progress(line);
  }

  /** A warning: always shown, on stderr. */
  warn(line: string): void {
    this.stderr.write(`warning: ${line}\n`);
  }

  /** The command's result: JSON with -o json, otherwise the human rendering. */
  result(value: unknown, human: () => string): void {
    if (this.format === "json") {
      this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    } else {
      const text = human();
      if (text) this.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    }
  }

  /** Raw error text (already formatted). */
  error(text: string): void {
    this.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  private progress(line: string): void {
    if (!this.quiet) this.stderr.write(`${line}\n`);
  }
}

export function formatElapsed(ms: number): string {
  return ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)}s`
      : formatDuration(ms);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Left-aligned columns with kubectl-style upper-case headers. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
