/**
 * Shell completion scripts for bash, zsh and fish, generated from the command table itself, so
 * they complete exactly the commands, subcommands, flags and flag values (`--output json`,
 * `--distribution Kind`) that this ksail declares. Commander has no completion of its own.
 *
 * Every script finds the command path the same way: walk the words typed so far, skip flags and
 * the value of a flag that takes one, and follow the words that name a subcommand.
 *
 * Two things are completed from the world, not the table: the kube contexts for --context and the
 * versions (registry tags) for the version arguments of pull, diff, verify and rollback. The
 * scripts ask `ksail __complete contexts|versions -- WORDS…` (handlers/complete.ts: bounded in
 * time, silent on errors) with the words typed so far, so --config, --registry or --kubeconfig
 * on the line count.
 */
import type { Command, Option } from "commander";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface FlagSpec {
  short?: string;
  long?: string;
  description: string;
  /** Takes a value (`--output <format>`); optional values (`--created [time]`) do not count. */
  value: boolean;
  choices?: readonly string[];
  /** The value is a file or directory. */
  file: boolean;
  /** The value comes from `ksail __complete` (--context: the kubeconfig's contexts). */
  dynamic?: "contexts";
}

/** Commands whose arguments are versions of the repository (completed from its tags). */
const VERSION_ARGUMENT_COMMANDS = ["pull", "diff", "verify", "rollback"];

interface CommandSpec {
  /** Space-separated subcommand names below the program, "" for the program itself. */
  path: string;
  subcommands: { name: string; description: string }[];
  flags: FlagSpec[];
  /** Its arguments are versions (VERSION_ARGUMENT_COMMANDS). */
  versions: boolean;
}

/** The command table as plain data, depth first. */
export function commandSpecs(program: Command): CommandSpec[] {
  const specs: CommandSpec[] = [];
  const visit = (command: Command, path: string) => {
    const flags: FlagSpec[] = command.options
      .filter((o) => !o.hidden)
      .map((o) => flagSpec(o))
      .concat({
        short: "-h",
        long: "--help",
        description: "display help",
        value: false,
        file: false,
      });
    const subcommands = command.commands.filter((c) => !c.name().startsWith("__"));
    specs.push({
      path,
      subcommands: subcommands.map((c) => ({ name: c.name(), description: c.description() })),
      flags,
      versions:
        VERSION_ARGUMENT_COMMANDS.includes(command.name()) &&
        command.registeredArguments.length > 0,
    });
    for (const sub of subcommands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  visit(program, "");
  return specs;
}

function flagSpec(option: Option): FlagSpec {
  const value = option.required === true;
  return {
    ...(option.short ? { short: option.short } : {}),
    ...(option.long ? { long: option.long } : {}),
    description: option.description,
    value,
    ...(option.argChoices ? { choices: option.argChoices } : {}),
    file: value && /<(path|dir|path\|url)>/.test(option.flags),
    ...(option.long === "--context" && value ? { dynamic: "contexts" as const } : {}),
  };
}

const names = (flag: FlagSpec) => [flag.short, flag.long].filter((n): n is string => !!n);

/** One line of text, without characters the shells' quoting would trip over. */
function plain(text: string): string {
  return text
    .replace(/\s+/g, " ")
    .replace(/['"`$\\]/g, "")
    .trim();
}

export function completionScript(shell: Shell, program: Command): string {
  const specs = commandSpecs(program);
  switch (shell) {
    case "bash":
      return bashScript(specs);
    case "zsh":
      return zshScript(specs);
    case "fish":
      return fishScript(specs);
  }
}

/**
 * Shell functions shared by bash and zsh (POSIX `case`): the subcommands and flags of a command
 * path, the flags that take a value, and a flag's value choices (or `__file__`).
 */
function sharedFunctions(specs: CommandSpec[]): string {
  const cases = (fn: (spec: CommandSpec) => string[]) =>
    specs
      .map((spec) => [spec.path, fn(spec)] as const)
      .filter(([, words]) => words.length > 0)
      .map(([path, words]) => `    "${path}") echo "${words.join(" ")}" ;;`)
      .join("\n");
  const choiceCases = specs
    .flatMap((spec) =>
      spec.flags
        .filter((f) => f.value && (f.choices || f.file || f.dynamic))
        .map(
          (f) =>
            `    "${spec.path}|${names(f).join(`" | "${spec.path}|`)}") echo "${f.choices ? f.choices.join(" ") : f.dynamic ? `__${f.dynamic}__` : "__file__"}" ;;`,
        ),
    )
    .join("\n");
  return `__ksail_commands() {
  case "$1" in
${cases((s) => s.subcommands.map((c) => c.name))}
  esac
}

__ksail_flags() {
  case "$1" in
${cases((s) => s.flags.flatMap(names))}
  esac
}

__ksail_value_flags() {
  case "$1" in
${cases((s) => s.flags.filter((f) => f.value).flatMap(names))}
  esac
}

__ksail_flag_values() {
  case "$1|$2" in
${choiceCases}
  esac
}

# Whether the command at path "$1" takes versions as arguments (completed from the registry).
__ksail_takes_versions() {
  case "$1" in
${specs
  .filter((s) => s.versions)
  .map((s) => `    "${s.path}") return 0 ;;`)
  .join("\n")}
  esac
  return 1
}

# The command path of the words before the cursor: "$@" are those words without "ksail".
__ksail_path() {
  __ksail_p=""
  __ksail_skip=""
  for __ksail_w in "$@"; do
    if [ -n "$__ksail_skip" ]; then
      __ksail_skip=""
      continue
    fi
    case "$__ksail_w" in
      --*=*) ;;
      -*)
        case " $(__ksail_value_flags "$__ksail_p") " in
          *" $__ksail_w "*) __ksail_skip=1 ;;
        esac
        ;;
      *)
        case " $(__ksail_commands "$__ksail_p") " in
          *" $__ksail_w "*) __ksail_p="\${__ksail_p:+$__ksail_p }$__ksail_w" ;;
        esac
        ;;
    esac
  done
  echo "$__ksail_p"
}
`;
}

function bashScript(specs: CommandSpec[]): string {
  return `# bash completion for ksail (generated by \`ksail completion bash\`).
# Load it now:   source <(ksail completion bash)
# For good:      ksail completion bash > ~/.local/share/bash-completion/completions/ksail

${sharedFunctions(specs)}
_ksail() {
  local cur prev flag cmdpath values
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  [ "$COMP_CWORD" -ge 1 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  flag=""
  if [[ "$prev" == -* ]]; then
    flag="$prev"
  elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 2 ]; then
    # bash splits --output=json at "=" (COMP_WORDBREAKS)
    flag="\${COMP_WORDS[COMP_CWORD-2]}"
  fi
  if [ "$cur" = "=" ]; then cur=""; fi
  cmdpath="$(__ksail_path "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  COMPREPLY=()
  if [ -n "$flag" ]; then
    case " $(__ksail_value_flags "$cmdpath") " in
      *" $flag "*)
        values="$(__ksail_flag_values "$cmdpath" "$flag")"
        if [ "$values" = "__file__" ]; then
          compopt -o filenames 2>/dev/null
          mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        elif [ "$values" = "__contexts__" ]; then
          values="$("\${COMP_WORDS[0]}" __complete contexts -- "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)"
          mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
        elif [ -n "$values" ]; then
          mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
        fi
        return 0
        ;;
    esac
  fi
  if [[ "$cur" == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(__ksail_flags "$cmdpath")" -- "$cur")
  else
    values="$(__ksail_commands "$cmdpath")"
    if __ksail_takes_versions "$cmdpath"; then
      values="$values $("\${COMP_WORDS[0]}" __complete versions -- "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)"
    fi
    mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
  fi
  return 0
}

complete -F _ksail ksail
`;
}

function zshScript(specs: CommandSpec[]): string {
  const describe = (fn: (spec: CommandSpec) => string[]) =>
    specs
      .map((spec) => [spec.path, fn(spec)] as const)
      .filter(([, entries]) => entries.length > 0)
      .map(([path, entries]) => `    "${path}") described=(${entries.join(" ")}) ;;`)
      .join("\n");
  const quote = (name: string, description: string) =>
    `'${name.replace(/:/g, "\\:")}:${plain(description)}'`;
  return `#compdef ksail
# zsh completion for ksail (generated by \`ksail completion zsh\`).
# Load it now:   source <(ksail completion zsh)
# For good:      ksail completion zsh > "\${fpath[1]}/_ksail"   (then start a new shell)

${sharedFunctions(specs)}
__ksail_described_commands() {
  case "$1" in
${describe((s) => s.subcommands.map((c) => quote(c.name, c.description)))}
  esac
}

__ksail_described_flags() {
  case "$1" in
${describe((s) => s.flags.flatMap((f) => names(f).map((n) => quote(n, f.description))))}
  esac
}

_ksail() {
  local cur prev cmdpath values
  local -a described
  cur="\${words[CURRENT]}"
  prev="\${words[CURRENT-1]}"
  cmdpath="$(__ksail_path "\${(@)words[2,CURRENT-1]}")"
  if [[ "$prev" == -* ]]; then
    case " $(__ksail_value_flags "$cmdpath") " in
      *" $prev "*)
        values="$(__ksail_flag_values "$cmdpath" "$prev")"
        if [[ "$values" == "__file__" ]]; then
          _files
        elif [[ "$values" == "__contexts__" ]]; then
          values="$("\${words[1]}" __complete contexts -- "\${(@)words[2,CURRENT-1]}" 2>/dev/null)"
          compadd -- \${(f)values}
        elif [[ -n "$values" ]]; then
          compadd -- \${=values}
        fi
        return
        ;;
    esac
  fi
  if [[ "$cur" == -* ]]; then
    __ksail_described_flags "$cmdpath"
    _describe -t options 'ksail flag' described
  else
    __ksail_described_commands "$cmdpath"
    (( \${#described} )) && _describe -t commands 'ksail command' described
    if __ksail_takes_versions "$cmdpath"; then
      values="$("\${words[1]}" __complete versions -- "\${(@)words[2,CURRENT-1]}" 2>/dev/null)"
      [[ -n "$values" ]] && compadd -- \${(f)values}
    fi
  fi
}

if [[ "\${funcstack[1]}" == "_ksail" ]]; then
  _ksail "$@"
else
  compdef _ksail ksail
fi
`;
}

function fishScript(specs: CommandSpec[]): string {
  const q = (text: string) => `'${plain(text)}'`;
  const cases = (fn: (spec: CommandSpec) => string[]) =>
    specs
      .map((spec) => [spec.path, fn(spec)] as const)
      .filter(([, words]) => words.length > 0)
      .map(
        ([path, words]) => `        case ${q(path)}\n            printf '%s\\n' ${words.join(" ")}`,
      )
      .join("\n");
  const lines: string[] = [];
  for (const spec of specs) {
    // Command paths are plain words (commander names), safe inside single quotes.
    const at = `-n "__ksail_at '${spec.path}'"`;
    for (const sub of spec.subcommands) {
      lines.push(`complete -c ksail ${at} -a ${sub.name} -d ${q(sub.description)}`);
    }
    if (spec.versions) lines.push(`complete -c ksail ${at} -a '(__ksail_dynamic versions)'`);
    for (const flag of spec.flags) {
      const parts = ["complete -c ksail", at];
      if (flag.short) parts.push(`-s ${flag.short.slice(1)}`);
      if (flag.long) parts.push(`-l ${flag.long.slice(2)}`);
      if (flag.value && flag.choices) parts.push(`-x -a ${q(flag.choices.join(" "))}`);
      else if (flag.value && flag.dynamic) parts.push(`-x -a '(__ksail_dynamic ${flag.dynamic})'`);
      else if (flag.value && flag.file) parts.push("-r -F");
      else if (flag.value) parts.push("-x");
      parts.push(`-d ${q(flag.description)}`);
      lines.push(parts.join(" "));
    }
  }
  return `# fish completion for ksail (generated by \`ksail completion fish\`).
# Load it now:   ksail completion fish | source
# For good:      ksail completion fish > ~/.config/fish/completions/ksail.fish

function __ksail_commands
    switch "$argv[1]"
${cases((s) => s.subcommands.map((c) => c.name))}
    end
end

function __ksail_value_flags
    switch "$argv[1]"
${cases((s) => s.flags.filter((f) => f.value).flatMap(names))}
    end
end

# The command path of the words before the cursor (flags and their values skipped).
function __ksail_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmdpath ''
    set -l skip 0
    for token in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $token
            case '--*=*'
            case '-*'
                if contains -- $token (__ksail_value_flags "$cmdpath")
                    set skip 1
                end
            case '*'
                if contains -- $token (__ksail_commands "$cmdpath")
                    set cmdpath (string trim -- "$cmdpath $token")
                end
        end
    end
    echo $cmdpath
end

function __ksail_at
    set -l cmdpath (__ksail_path)
    test "$cmdpath" = "$argv[1]"
end

# Candidates from the world (kube contexts, registry versions): the ksail being completed asks.
function __ksail_dynamic
    set -l tokens (commandline -opc)
    $tokens[1] __complete $argv[1] -- $tokens[2..-1] 2>/dev/null
end

complete -c ksail -f
${lines.join("\n")}
`;
}
