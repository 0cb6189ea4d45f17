/**
 * The program: the command table (src/cli/commands/, declarations only) and error handling.
 * Each command's action loads its handler (src/cli/handlers/) through the one lazy seam
 * (seam.ts), so `ksail --help` loads commander and the declarations, nothing else.
 * main() never calls process.exit; bin/ksail.js sets the exit code.
 */
import {
  Command,
  CommanderError,
  Option,
  type CommandUnknownOpts,
} from "@commander-js/extra-typings";
import type { Command as PlainCommand } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { EXIT_CODES } from "../errors.js";
import { paintMark, colorEnabled } from "../ui/color.js";
import { errorObject, exitCodeFor, formatError } from "../ui/errors.js";
import type { CliContext } from "./context.js";
import { COMMON_OPTIONS, examples } from "./options.js";
import { registerInit } from "./commands/init.js";
import { registerWorkload } from "./commands/workload.js";
import { registerFlux } from "./commands/flux.js";
import { registerRegistry } from "./commands/registry.js";
import { registerCluster } from "./commands/cluster.js";
import { registerCompletion, registerVersion } from "./commands/version.js";
import { registerShortcuts, SHORTCUTS } from "./commands/shortcuts.js";

export const VERSION: string = packageJson.version;

type Register = (program: CommandUnknownOpts, ctx: CliContext) => void;

/** The top-level words that select one group of commands (up and down are cluster's aliases). */
const GROUPS: Record<string, Register> = {
  init: registerInit,
  schema: registerInit,
  workload: registerWorkload,
  flux: registerFlux,
  registry: registerRegistry,
  cluster: registerCluster,
  up: registerCluster,
  down: registerCluster,
  version: registerVersion,
  __complete: registerCompletion,
  ...Object.fromEntries(SHORTCUTS.map((name) => [name, registerShortcuts])),
};

/** The headings \`ksail --help\` lists the commands under: the daily ones first. */
const HELP_GROUPS: Record<string, string> = {
  init: "Getting started:",
  up: "Getting started:",
  down: "Getting started:",
  ...Object.fromEntries(SHORTCUTS.map((name) => [name, "Daily (short for `ksail workload …`):"])),
  workload: "Command groups:",
  flux: "Command groups:",
  registry: "Command groups:",
  cluster: "Command groups:",
};

/**
 * The program with every command, or — given the argv it will parse — only the group that argv
 * names, which parses, helps and fails exactly as the whole table does below that group. Anything
 * else (no command, an unknown one, `help`, `completion`, which lists every command) gets the
 * whole table.
 */
export function createProgram(ctx: CliContext, argv?: readonly string[]): PlainCommand {
  const program = new Command("ksail")
    .description(
      "A local Kubernetes GitOps loop: a Kind or K3d cluster, a local OCI registry, Flux, and your manifests pushed as versioned OCI artifacts.",
    )
    .version(VERSION, "--version", "print the ksail version")
    .showHelpAfterError("See 'ksail --help'.")
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    // Root options count only before the subcommand, so that `workload push --version 1.2.3`
    // reaches push; the common options are added to every leaf command by finish().
    .enablePositionalOptions()
    .commandsGroup("Other commands:")
    .helpCommand(true)
    .exitOverride();
  for (const [flags, description] of COMMON_OPTIONS)
    program.addOption(globalOption(flags, description));

  const word = argv === undefined ? undefined : commandWord(argv);
  const group = word === undefined || !Object.hasOwn(GROUPS, word) ? undefined : GROUPS[word];
  const registers: Register[] = group
    ? [group]
    : [
        registerInit,
        registerShortcuts,
        registerWorkload,
        registerFlux,
        registerRegistry,
        registerCluster,
        registerVersion,
        registerCompletion,
      ];
  for (const register of registers) register(program, ctx);
  // The program's own examples show only in `ksail --help`, which builds the whole table.
  if (group === undefined) {
    examples(program, [
      ["ksail init && ksail up", "a project, then its registry, Kind cluster and Flux"],
      ["ksail reconcile --push", "push the manifests and make Flux apply them now"],
      ["ksail watch", "push and apply on every save, until Ctrl-C"],
      ["ksail down --delete-volumes", "remove the cluster, the registry and its data"],
    ]);
  }
  for (const command of program.commands) {
    command.helpGroup(HELP_GROUPS[command.name()] ?? "Other commands:");
    finish(command);
  }
  // The typed table (commander's extra typings) is commander's own Command object at run time.
  return program as unknown as PlainCommand;
}

/** The first word of argv that is not a program option (nor the value of one), if any. */
function commandWord(argv: readonly string[]): string | undefined {
  const takesValue = new Set(
    COMMON_OPTIONS.filter(([flags]) => flags.includes("<")).flatMap(([flags]) =>
      flags.split(/[ ,]+/).filter((f) => f.startsWith("-")),
    ),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return undefined;
    if (!arg.startsWith("-")) return arg;
    if (takesValue.has(arg)) i++;
  }
  return undefined;
}

/** Every command exits through main(); leaf commands also take the common options. */
function finish(command: CommandUnknownOpts): void {
  command.exitOverride();
  // A usage error names the help of the command it is about, as kubectl and docker do.
  command.showHelpAfterError(`See '${commandPath(command)} --help'.`);
  if (command.commands.length === 0) {
    for (const [flags, description] of COMMON_OPTIONS) {
      const long = flags.split(/[ ,]+/).find((f) => f.startsWith("--"));
      if (!command.options.some((o) => o.long === long)) {
        command.addOption(globalOption(flags, description));
      }
    }
  }
  command.commands.forEach(finish);
}

/** An option every command takes, listed under its own heading in each help. */
function globalOption(flags: string, description: string): Option {
  return new Option(flags, description).helpGroup("Global options:");
}

/** "ksail workload push": the words that run `command`. */
function commandPath(command: CommandUnknownOpts): string {
  const words: string[] = [];
  for (let c: CommandUnknownOpts | null = command; c; c = c.parent) words.unshift(c.name());
  return words.join(" ");
}

export async function main(
  argv: string[],
  ctx: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    exitCode: 0,
  },
): Promise<number> {
  const program = createProgram(ctx, argv);
  // `ksail` alone: the help, on stdout, as a successful answer (git, kubectl and flux do so).
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end through exitOverride with code 0; usage errors were printed already.
      return error.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    const color = colorEnabled(ctx.env, (ctx.stderr as { isTTY?: boolean }).isTTY === true);
    const text = formatError(error, program.opts().verbose === true);
    ctx.stderr.write(`${text.replace(/^.*$/gm, (line) => paintMark(line, color))}\n`);
    // With -o json|yaml the error is data too, on stdout where the result would have been.
    if (ctx.output === "json" || ctx.output === "yaml") {
      const { serialize } = await import("../ui/output.js");
      ctx.stdout.write(serialize(errorObject(error), ctx.output));
    }
    return exitCodeFor(error);
  }
}
