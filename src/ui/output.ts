/**
 * Where ksail's words go: progress and messages to stderr, data to stdout, so that
 * `ksail workload versions -o json | jq` works.
 *
 * Steps say what they wait for while they run. On a terminal: one live line in Flux's style,
 * `◎ label… (12s)`, replaced by `✓ label (duration)` or `✗ label (duration)` when the step ends.
 * Otherwise (piped, CI logs): a plain `► label` line when the step starts and the `✓`/`✗` line
 * when it ends. Marks are coloured only where colour is on (ui/color.ts).
 */
import type { Writable } from "node:stream";
import { stringify } from "yaml";
import { formatDuration } from "../util/duration.js";
import { someoneElseHandles } from "../util/signals.js";
import { paintMark } from "./color.js";

export type OutputFormat = "human" | "json" | "yaml";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["human", "json", "yaml"];

export interface OutputOptions {
  format?: OutputFormat;
  stdout?: Writable;
  stderr?: Writable;
  /** Suppress progress lines (errors and data still print). */
  quiet?: boolean;
  /** Clock for step timings; tests may pass their own. */
  now?: () => number;
  /** stderr is a terminal: running steps are shown as one live line. */
  live?: boolean;
  /** Colour the marks (✓ ✗ ► ◎ warning: error:). */
  color?: boolean;
  /** How often the live line's elapsed time is redrawn (ms). */
  tickMs?: number;
}

interface RunningStep {
  label: string;
  started: number;
}

export class Output {
  readonly format: OutputFormat;
  private readonly stdout: Writable;
  private readonly stderr: Writable;
  private readonly quiet: boolean;
  private readonly now: () => number;
  private readonly live: boolean;
  private readonly color: boolean;
  private readonly tickMs: number;
  private readonly running: RunningStep[] = [];
  private liveShown = false;
  private timer: NodeJS.Timeout | undefined;
  private interruptNote: string | undefined;
  private signalsHeld = false;

  constructor(options: OutputOptions = {}) {
    this.format = options.format ?? "human";
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.quiet = options.quiet ?? false;
    this.now = options.now ?? (() => performance.now());
    this.live = options.live ?? false;
    this.color = options.color ?? false;
    this.tickMs = options.tickMs ?? 1000;
  }

  /** Runs one named step: says what it waits for, then "✓ summary (duration)" or "✗ label (duration)". */
  async step<T>(label: string, run: () => Promise<T>, summary?: (result: T) => string): Promise<T> {
    const step = this.begin(label);
    try {
      const result = await run();
      const detail = summary ? summary(result) : pastTense(label);
      this.end(step, `✓ ${detail} (${formatElapsed(this.now() - step.started)})`);
      return result;
    } catch (error) {
      this.end(step, `✗ ${label} (${formatElapsed(this.now() - step.started)})`);
      throw error;
    }
  }

  /** A progress or status line (stderr; hidden with --quiet). */
  info(line: string): void {
    if (!this.quiet) this.printErr(line);
  }

  /** A warning: always shown, on stderr. */
  warn(line: string): void {
    this.printErr(`warning: ${line}`);
  }

  /** The command's result: JSON or YAML with -o json|yaml, otherwise the human rendering. */
  result(value: unknown, human: () => string): void {
    if (this.format !== "human") {
      this.printOut(serialize(value, this.format));
    } else {
      const text = human();
      if (text) this.printOut(text);
    }
  }

  /** A list result: `{ "items": [...] }` with -o json|yaml (one shape for every list). */
  list(items: readonly unknown[], human: () => string): void {
    this.result({ items }, human);
  }

  /**
   * One record of a stream (e.g. one `workload watch` cycle): a JSON line with -o json, a YAML
   * document (`---`) with -o yaml, nothing otherwise.
   */
  record(value: unknown): void {
    if (this.format === "json") this.printOut(JSON.stringify(value));
    else if (this.format === "yaml") this.printOut(`---\n${stringify(value, { lineWidth: 0 })}`);
  }

  /** See Progress.atInterrupt: a warning to print if the user interrupts now. */
  atInterrupt(note: string | undefined): void {
    this.interruptNote = note;
  }

  /**
   * Ctrl-C (or SIGTERM) while a step runs, when no one else handles it (`workload watch` does):
   * the live line becomes `✗ interrupted (step, elapsed)`, the note of what is half done follows,
   * and the process ends with 130 (SIGINT) or 143 (SIGTERM), as a shell reports a signal.
   */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (someoneElseHandles(signal, this.onSignal)) return;
    const step = this.running.at(-1);
    this.clearLive();
    const where = step ? ` (${step.label}, ${formatElapsed(this.now() - step.started)})` : "";
    this.stderr.write(`${paintMark(`✗ interrupted${where}`, this.color)}\n`);
    if (this.interruptNote) {
      this.stderr.write(`${paintMark(`warning: ${this.interruptNote}`, this.color)}\n`);
    }
    process.exit(signal === "SIGINT" ? 130 : 143);
  };

  private holdSignals(hold: boolean): void {
    if (hold === this.signalsHeld) return;
    this.signalsHeld = hold;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      if (hold) process.on(signal, this.onSignal);
      else process.off(signal, this.onSignal);
    }
  }

  /** Raw error text (already formatted). */
  error(text: string): void {
    this.printErr(text);
  }

  private begin(label: string): RunningStep {
    const step = { label, started: this.now() };
    this.running.push(step);
    this.holdSignals(true);
    if (this.quiet) return step;
    if (this.live) {
      this.clearLive();
      this.drawLive();
      if (!this.timer) {
        this.timer = setInterval(() => {
          this.clearLive();
          this.drawLive();
        }, this.tickMs);
        this.timer.unref();
      }
    } else {
      this.stderr.write(`${paintMark(`► ${label}`, this.color)}\n`);
    }
    return step;
  }

  private end(step: RunningStep, line: string): void {
    const index = this.running.indexOf(step);
    if (index >= 0) this.running.splice(index, 1);
    if (this.running.length === 0) this.holdSignals(false);
    if (this.running.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (!this.quiet) this.printErr(line);
  }

  /** The newest running step as one line that the next write replaces (terminals only). */
  private drawLive(): void {
    const step = this.running.at(-1);
    if (!this.live || this.quiet || !step) return;
    const elapsed = this.now() - step.started;
    const more = this.running.length > 1 ? ` (+${this.running.length - 1} more)` : "";
    let text = `◎ ${step.label}…${more}${elapsed >= 1000 ? ` ${formatElapsed(elapsed)}` : ""}`;
    // A wrapped line could not be cleared with one \r: keep it within the terminal's width.
    const columns = (this.stderr as { columns?: number }).columns || 80;
    if (text.length > columns - 1) text = `${text.slice(0, Math.max(columns - 2, 10))}…`;
    this.stderr.write(paintMark(text, this.color));
    this.liveShown = true;
  }

  private clearLive(): void {
    if (!this.liveShown) return;
    this.stderr.write("\r\x1b[2K");
    this.liveShown = false;
  }

  /** Writes whole lines to stderr around the live line (cleared first, drawn again after). */
  private printErr(text: string): void {
    this.clearLive();
    const lines = text.endsWith("\n") ? text.slice(0, -1) : text;
    this.stderr.write(`${lines.replace(/^.*$/gm, (line) => paintMark(line, this.color))}\n`);
    this.drawLive();
  }

  private printOut(text: string): void {
    this.clearLive();
    this.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    this.drawLive();
  }
}

/** Verbs that start step labels, and their past tense ("List versions" → "Listed versions"). */
const PAST: Record<string, string> = {
  apply: "applied",
  build: "built",
  check: "checked",
  create: "created",
  delete: "deleted",
  detect: "detected",
  "dry-run": "dry-ran",
  extract: "extracted",
  fetch: "fetched",
  generate: "generated",
  "garbage-collect": "garbage-collected",
  initialize: "initialized",
  list: "listed",
  load: "loaded",
  pull: "pulled",
  push: "pushed",
  read: "read",
  reconcile: "reconciled",
  remove: "removed",
  restore: "restored",
  start: "started",
  stop: "stopped",
  tag: "tagged",
  upload: "uploaded",
  validate: "validated",
  wait: "waited",
  write: "wrote",
};

/**
 * A step's `✓` line when it has no summary of its own: its label in the past tense, so that
 * every finished step reads alike ("✓ Listed versions of …", "✓ Pushed …").
 */
export function pastTense(label: string): string {
  const [first = "", ...rest] = label.split(" ");
  const past = PAST[first.toLowerCase()];
  if (past === undefined) return label;
  const word = first[0] === first[0]?.toUpperCase() ? past[0]!.toUpperCase() + past.slice(1) : past;
  return [word, ...rest].join(" ");
}

/** A value as -o json (indented) or -o yaml shows it. */
export function serialize(value: unknown, format: "json" | "yaml"): string {
  return format === "json"
    ? `${JSON.stringify(value, null, 2)}\n`
    : stringify(value, { lineWidth: 0 });
}

export function formatElapsed(ms: number): string {
  return ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)}s`
      : formatDuration(ms);
}

/** How long ago, as kubectl's AGE column says it: 45s, 12m, 5h, 3d; "-" for an unknown time. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
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
