/**
 * The one lazy seam between the command table and the code behind it: `leaf(command, ctx, load)`
 * gives a declared command its handler module (`() => import("./handlers/…")`), loaded only when
 * that command runs, so `ksail --help` parses commander and the declarations, nothing else. The
 * handler's flags are the declaration's own type (`FlagsOf`), checked here at compile time.
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { Command } from "commander";
import type { CliContext } from "./context.js";
import type { FlagsOf, GlobalOptions } from "./options.js";

/** What a handler gets: the streams, its typed flags, the global options and its arguments. */
export interface Invocation<Flags> {
  ctx: CliContext;
  flags: Flags;
  globals: GlobalOptions;
  args: (string | undefined)[];
  /** The command that runs (its parents lead to the program), as commander's plain type. */
  command: Command;
}

export type Handler<Flags> = (invocation: Invocation<Flags>) => Promise<void>;

/** Sets `command`'s action: load `{ run }` from the handler module and call it. */
export function leaf<C extends CommandUnknownOpts>(
  command: C,
  ctx: CliContext,
  load: () => Promise<{ run: Handler<FlagsOf<C>> }>,
): C {
  command.action(lazy(ctx, load));
  return command;
}

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
      // The declaration's own type (leaf() checked that the handler takes exactly it).
      flags: flags as Flags,
      globals: command.optsWithGlobals<GlobalOptions>(),
      args: command.processedArgs as (string | undefined)[],
      command,
    });
  };
}
