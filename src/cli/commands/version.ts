/** `ksail version` and `ksail completion bash|zsh|fish`. */
import { Argument, type Command } from "commander";
import type { CliContext } from "../context.js";
import { examples, outputOption } from "../options.js";
import { lazy } from "../seam.js";

export function registerVersion(program: Command, ctx: CliContext): void {
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
  ).action(lazy(ctx, () => import("../handlers/version.js")));
}

export function registerCompletion(program: Command, ctx: CliContext): void {
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
  ).action(lazy(ctx, () => import("../handlers/completion.js")));
}
