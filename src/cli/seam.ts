/**
 * The one lazy seam between the command table and the code behind it: a command's action loads
 * its handler module (`() => import("./handlers/…")`) only when that command runs, so
 * `ksail --help` parses commander and the declarations, nothing else.
 */
import type { Command } from "commander";
import type { CliContext } from "./context.js";
import type { GlobalOptions } from "./options.js";

/** What a handler gets: the streams, its typed flags, the global options and its arguments. */
export interface Invocation<Flags> {
  ctx: CliContext;
  flags: Flags;
  globals: GlobalOptions;
  args: (string | undefined)[];
  /** The command that runs (its parents lead to the program). */
  command: Command;
}

export type Handler<Flags> = (invocation: Invocation<Flags>) => Promise<void>;

/** A commander action that loads `{ run }` from a handler module and calls it. */
export function lazy<Flags>(
  ctx: CliContext,
  load: () => Promise<{ run: Handler<Flags> }>,
): (...params: unknown[]) => Promise<void> {
  return async (...params) => {
    // commander passes the declared arguments, then the options object, then the command.
    const command = params.at(-1) as Command;
    const flags = command.opts();
    if (typeof flags.output === "string") ctx.output = flags.output;
    const { run } = await load();
    await run({
      ctx,
      // The one place flags are typed: the handler's interface names what its command declares.
      flags: flags as Flags,
      globals: command.optsWithGlobals<GlobalOptions>(),
      args: command.processedArgs as (string | undefined)[],
      command,
    });
  };
}
