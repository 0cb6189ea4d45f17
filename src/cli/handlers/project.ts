/** The project a command works on: ksail.yaml merged with KSAIL_* and flags. */
import { parseDuration } from "../../util/duration.js";
import { loadConfig, type LoadConfigOptions, type LoadedConfig } from "../../config/load.js";
import { KsailError } from "../../errors.js";
import type { CliContext } from "../context.js";
import type { GlobalOptions } from "../options.js";

/** ksail.yaml from --config (or the working directory), merged with KSAIL_* and `flags`. */
export function loadProject(
  ctx: CliContext,
  globals: GlobalOptions,
  options: Pick<LoadConfigOptions, "flags" | "required"> = {},
): Promise<LoadedConfig> {
  return loadConfig({
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
    ...options,
  });
}

export function parseTimeout(value: string, flag = "--timeout"): number {
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new KsailError(
      "usage",
      `${flag} must be a duration such as 30s, 2m or 1h, got "${value}"`,
    );
  }
  return ms;
}
