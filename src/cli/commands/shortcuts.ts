/**
 * The daily verbs at the top, as kubectl and flux put theirs: `ksail push | reconcile | watch |
 * status | diff` are the `workload` commands of the same name — the same declaration (flags,
 * help, completion, handler), taken from the workload group, with examples that use the short
 * form.
 */
import { Command } from "commander";
import type { CliContext } from "../context.js";
import { examples } from "../options.js";
import { WORKLOAD_EXAMPLES } from "./examples.js";
import { registerWorkload } from "./workload.js";

export const SHORTCUTS = ["push", "reconcile", "watch", "status", "diff"] as const;

export function registerShortcuts(program: Command, ctx: CliContext): void {
  // The workload group declared once more, on a scratch program; its commands move to the top.
  // Commands copy their parent's settings (output streams, exit override…) when declared.
  const scratch = new Command().copyInheritedSettings(program);
  registerWorkload(scratch, ctx);
  const workload = scratch.commands.find((c) => c.name() === "workload");
  for (const name of SHORTCUTS) {
    const command = workload?.commands.find((c) => c.name() === name);
    if (!command) throw new Error(`internal: no workload command "${name}" for the shortcut`);
    // The list in `ksail --help` says it under its heading; the command's own help says it here.
    command.summary(command.description());
    command.description(`${command.description()} (short for \`ksail workload ${name}\`)`);
    const shown = (WORKLOAD_EXAMPLES[`workload ${name}`] ?? []).map(
      ([invocation, comment]) =>
        [invocation.replace(`ksail workload ${name}`, `ksail ${name}`), comment] as [
          string,
          string,
        ],
    );
    if (shown.length > 0) examples(command, shown);
    program.addCommand(command);
  }
}
