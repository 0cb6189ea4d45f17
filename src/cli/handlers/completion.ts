/** `ksail completion bash|zsh|fish`: the completion script on stdout. */
import { KsailError } from "../../errors.js";
import { completionScript, SHELLS, type Shell } from "../completion.js";
import type { CompletionFlags } from "../commands/version.js";
import type { Invocation } from "../seam.js";

export async function run({ ctx, args, command }: Invocation<CompletionFlags>): Promise<void> {
  const shell = args[0];
  if (!(SHELLS as readonly (string | undefined)[]).includes(shell)) {
    throw new KsailError("usage", `unknown shell "${shell ?? ""}"`, {
      hint: `Use one of: ${SHELLS.join(", ")}.`,
    });
  }
  // The command table `ksail --help` shows: the program this command belongs to.
  let program = command;
  while (program.parent) program = program.parent;
  ctx.stdout.write(completionScript(shell as Shell, program));
}
