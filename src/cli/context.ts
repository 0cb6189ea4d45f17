/** What every command gets: its streams, environment and working directory. */
import type { Writable } from "node:stream";
import { colorEnabled } from "../ui/color.js";
import { Output, OUTPUT_FORMATS, type OutputFormat } from "../ui/output.js";
import { KsailError } from "../errors.js";
import type { GlobalOptions } from "./options.js";

export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Set by a command that succeeded but must exit non-zero (e.g. diff found changes). */
  exitCode: number;
  /** The running command's --output value, so that an error is reported in that format too. */
  output?: string;
}

export function createOutput(ctx: CliContext, globals: GlobalOptions, format?: string): Output {
  return new Output({
    format: parseOutputFormat(format),
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    quiet: globals.quiet ?? false,
    live: isTerminal(ctx.stderr) && ctx.env.TERM !== "dumb",
    color: colorEnabled(ctx.env, isTerminal(ctx.stderr)),
  });
}

export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return "human";
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new KsailError("usage", `unknown output format "${value}"`, {
    hint: `Use one of: ${OUTPUT_FORMATS.join(", ")}.`,
  });
}

export function parseInteger(value: string, flag: string, min = 0): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) {
    throw new KsailError("usage", `${flag} must be a whole number ≥ ${min}, got "${value}"`);
  }
  return number;
}

export function isTerminal(stream: Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}
