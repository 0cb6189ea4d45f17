/**
 * The daily verbs at the top, as kubectl and flux put theirs: `ksail push | reconcile | watch |
 * status | diff` are the `workload` commands of the same name — the same declaration (flags,
 * help, completion, handler), with examples that use the short form.
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { leaf } from "../seam.js";
import { diff, push, reconcile, status, watch } from "./workload.js";

export const SHORTCUTS = ["push", "reconcile", "watch", "status", "diff"] as const;

/** The list in `ksail --help` says "short for" in its heading; the command's own help here. */
function shortFor<C extends CommandUnknownOpts>(command: C): C {
  const text = command.description();
  command.summary(text);
  command.description(`${text} (short for \`ksail workload ${command.name()}\`)`);
  return command;
}

export function registerShortcuts(program: CommandUnknownOpts, ctx: CliContext): void {
  leaf(shortFor(push(program, "push")), ctx, () => import("../handlers/workload/push.js"));
  leaf(
    shortFor(reconcile(program, "reconcile")),
    ctx,
    () => import("../handlers/workload/reconcile.js"),
  );
  leaf(shortFor(watch(program, "watch")), ctx, () => import("../handlers/workload/watch.js"));
  leaf(shortFor(status(program, "status")), ctx, () => import("../handlers/workload/status.js"));
  leaf(shortFor(diff(program, "diff")), ctx, () => import("../handlers/workload/diff.js"));
}
