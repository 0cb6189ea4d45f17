/** `ksail version` and `ksail completion bash|zsh|fish`, each declared once with its examples. */
import { Argument, type CommandUnknownOpts } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { examples, outputOption, type FlagsOf } from "../options.js";
import { leaf } from "../seam.js";

export const version = (program: CommandUnknownOpts) =>
  examples(
    program
      .command("version")
      .description(
        "print the ksail version; with -o json|yaml also Node's and the pinned Flux and registry versions",
      )
      .addOption(outputOption()),
    [
      ["ksail version", "the version alone, e.g. ksail 0.1.0"],
      ["ksail version -o json", "ksail, Node, platform and the pinned component versions"],
    ],
  );
export type VersionFlags = FlagsOf<typeof version>;

export const completion = (program: CommandUnknownOpts) =>
  examples(
    program
      .command("completion")
      .description("print a shell completion script for commands, subcommands and flags")
      .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"])),
    [
      ["source <(ksail completion bash)", "complete in this bash session"],
      [
        "ksail completion bash > ~/.local/share/bash-completion/completions/ksail",
        "… in every new bash",
      ],
      ['ksail completion zsh > "${fpath[1]}/_ksail"', "zsh (compinit loads it)"],
      ["ksail completion fish > ~/.config/fish/completions/ksail.fish", "fish"],
    ],
  );
export type CompletionFlags = FlagsOf<typeof completion>;

export function registerVersion(program: CommandUnknownOpts, ctx: CliContext): void {
  leaf(version(program), ctx, () => import("../handlers/version.js"));
}

/**
 * What the completion scripts call on a key press, as cobra's `__complete`: the kube contexts
 * for --context, or the versions of the repository the typed words name. Hidden from help.
 */
export const complete = (program: CommandUnknownOpts) =>
  examples(
    program
      .command("__complete", { hidden: true })
      .description("print completion candidates, one a line (for the completion scripts)")
      .addArgument(new Argument("<kind>").choices(["contexts", "versions"]))
      .argument("[words...]", "the words typed so far, after --"),
    [
      ["ksail __complete contexts -- status --context", "the kubeconfig's contexts"],
      ["ksail __complete versions -- workload pull", "the versions `workload pull` takes"],
    ],
  );
export type CompleteFlags = FlagsOf<typeof complete>;

export function registerCompletion(program: CommandUnknownOpts, ctx: CliContext): void {
  leaf(completion(program), ctx, () => import("../handlers/completion.js"));
  leaf(complete(program), ctx, () => import("../handlers/complete.js"));
}
