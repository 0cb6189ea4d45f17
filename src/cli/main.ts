/**
 * The command registry. Each command group lives in its own module and loads its services
 * with `await import(...)` inside the action, so `ksail --help` stays fast.
 * main() never calls process.exit; bin/ksail.js sets the exit code.
 */
import { Command, CommanderError } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { EXIT_CODES } from "../errors.js";
import { exitCodeFor, formatError } from "../ui/errors.js";
import type { CliContext } from "./context.js";
import { registerInit } from "./commands/init.js";
import { registerWorkload } from "./commands/workload.js";
import { registerRegistry } from "./commands/registry.js";

export const VERSION: string = packageJson.version;

export function createProgram(ctx: CliContext): Command {
  const program = new Command("ksail")
    .description(
      "A local Kubernetes GitOps loop: a Kind or K3d cluster, a local OCI registry, Flux,\n" +
        "and your manifests pushed as versioned OCI artifacts.",
    )
    .version(VERSION, "--version", "print the ksail version")
    .option("--config <path>", "path to ksail.yaml (default: ./ksail.yaml)")
    .option("-q, --quiet", "print only results and errors, no progress lines")
    .option("--verbose", "print error causes")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    .exitOverride();

  registerInit(program, ctx);
  registerWorkload(program, ctx);
  registerRegistry(program, ctx);
  for (const command of program.commands) applyExitOverride(command);
  return program;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  command.commands.forEach(applyExitOverride);
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
  const program = createProgram(ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end through exitOverride with code 0; usage errors were printed already.
      return error.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    ctx.stderr.write(`${formatError(error, program.opts().verbose === true)}\n`);
    return exitCodeFor(error);
  }
}
