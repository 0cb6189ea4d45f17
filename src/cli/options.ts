/**
 * Options more than one command takes. A flag is written once: the declaration here (or beside
 * its command in commands/) is also its type — `FlagsOf<typeof declaration>` — through
 * commander's extra typings, so a handler never restates its flags. Loaded at start-up with the
 * command table, so it imports nothing but commander and types.
 */
import {
  InvalidArgumentError,
  Option,
  type Command,
  type CommandUnknownOpts,
  type OptionValues,
} from "@commander-js/extra-typings";
import { CONFIG_SETTINGS, RUNTIME_SETTINGS } from "../config/settings.js";
import type { FluxSyncOverrides } from "../flux/resources.js";

/** The flags a command declares, as its handler receives them (`Invocation<FlagsOf<…>>`). */
export type FlagsOf<T> = T extends (...args: never[]) => infer C
  ? FlagsOf<C>
  : T extends { opts(): infer O }
    ? O
    : never;

/** No options yet: what an option group is applied to when its own flags are typed. */
export type None = Record<never, never>;

/** The options every leaf command (and the program, before the subcommand) takes. */
export interface GlobalOptions {
  config?: string;
  quiet?: boolean;
  verbose?: boolean;
}

const { config } = RUNTIME_SETTINGS;
export const COMMON_OPTIONS: [string, string][] = [
  [
    `${config.flag} <${config.value}>`,
    `path to ksail.yaml (default: $${config.env}, else ${config.default})`,
  ],
  ["-q, --quiet", "print only results and errors, no progress lines"],
  ["--verbose", "print error causes"],
];

/**
 * An option with a closed set of values, matched without regard to case (`--distribution kind`
 * gives "Kind"); help still lists the values as written.
 */
export function choiceOption<const F extends string, const C extends readonly string[]>(
  flags: F,
  description: string,
  choices: C,
) {
  return new Option(flags, description).choices(choices).argParser((value: string): C[number] => {
    const match = choices.find((c) => c.toLowerCase() === value.toLowerCase());
    if (match === undefined) {
      throw new InvalidArgumentError(`Allowed choices are ${choices.join(", ")}.`);
    }
    return match;
  });
}

/**
 * The flag of a setting (config/settings.ts), spelled there once: `--registry-port <port>`. A
 * command that spells it otherwise (the registry commands' `--port`) passes `flag`.
 */
export function settingOption<
  const S extends { flag: string; value: string },
  const F extends string = S["flag"],
>(setting: S, description: string, flag?: F) {
  const usage = `${flag ?? setting.flag} <${setting.value}>` as `${F} <${S["value"]}>`;
  return new Option(usage, description);
}

/** settingOption for a setting with a closed set of values (choiceOption). */
export function settingChoice<
  const S extends { flag: string; value: string; choices: readonly string[] },
>(setting: S, description: string) {
  return choiceOption(
    `${setting.flag} <${setting.value}>` as `${S["flag"]} <${S["value"]}>`,
    description,
    setting.choices as S["choices"],
  );
}

/** `-o, --output human|json|yaml` (lists as `{ items: [...] }`; errors too, see README "Output"). */
export const outputOption = () =>
  new Option("-o, --output <format>", "output format")
    .choices(["human", "json", "yaml"] as const)
    .default("human" as const);

/** `-o, --output human|wide|json|yaml`: `wide` is the human table with every column (kubectl's). */
export const wideOutputOption = () =>
  new Option("-o, --output <format>", "output format (wide: every column)")
    .choices(["human", "wide", "json", "yaml"] as const)
    .default("human" as const);

export type OutputFlags = { output?: string };

export function addKubeOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  const { kubeconfig, context } = CONFIG_SETTINGS;
  return command
    .addOption(
      settingOption(
        kubeconfig,
        "kubeconfig file (default: spec.connection.kubeconfig, $KUBECONFIG, ~/.kube/config)",
      ),
    )
    .addOption(
      settingOption(
        context,
        "kubeconfig context (default: spec.connection.context, else the current one)",
      ),
    );
}

export type KubeFlags = FlagsOf<typeof addKubeOptions<[], None, None>> & { namespace?: string };

/**
 * `-n, --namespace`: where the workload's OCIRepository and Kustomization live (flux's and
 * kubectl's -n), for the commands that read or write them.
 */
export function addNamespaceOption<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(command: Command<A, O, G>) {
  const { fluxNamespace } = CONFIG_SETTINGS;
  return command.addOption(
    settingOption(
      fluxNamespace,
      `namespace of the OCIRepository and Kustomization (default: $${fluxNamespace.env}, else spec.options.flux.namespace, else ${fluxNamespace.default})`,
      "-n, --namespace",
    ),
  );
}

/** Which repository a workload command works on (addPathOption: and which manifest directory). */
export function addTargetOptions<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(command: Command<A, O, G>) {
  return command
    .addOption(
      settingOption(
        CONFIG_SETTINGS.registry,
        `repository to use, e.g. oci://ghcr.io/org/app (default: $${CONFIG_SETTINGS.registry.env}, else spec.registry, else the local registry from ksail.yaml)`,
      ),
    )
    .option("--insecure", "allow plain HTTP to a non-loopback registry")
    .addOption(
      settingOption(
        RUNTIME_SETTINGS.requestTimeout,
        `how long a registry request may go without data before it is retried (default: $${RUNTIME_SETTINGS.requestTimeout.env}, else ${RUNTIME_SETTINGS.requestTimeout.default})`,
      ),
    );
}

export function addPathOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command.option("--path <dir>", "manifest directory (default: spec.sourceDirectory)");
}

export type TargetFlags = FlagsOf<typeof addTargetOptions<[], None, None>> & {
  path?: string;
  output?: string;
};

/** What the OCIRepository and Kustomization follow (`flux sync`, `workload gen flux`). */
export function addSyncOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .option(
      "--registry <oci-url>",
      "repository for the OCIRepository (default: the local registry's in-cluster address)",
    )
    .option("--tag <tag>", "follow one tag instead of the newest version")
    .option(
      "--semver <range>",
      "semver range to follow (default: >=0.0.0, the newest release version)",
    )
    .option("--target-namespace <ns>", "namespace for objects without one")
    .addOption(
      new Option("--provider <provider>", "cloud auth for a remote registry").choices([
        "generic",
        "aws",
        "azure",
        "gcp",
      ] as const),
    )
    .option("--secret-ref <name>", "pull secret in the Flux namespace for a remote registry")
    .option("--insecure", "plain HTTP to the registry (default only for the local registry)")
    .option("--timeout <duration>", "Kustomization timeout for apply and health checks", "2m");
}

export type SyncFlags = FlagsOf<typeof addSyncOptions<[], None, None>>;

export function syncOverrides(flags: SyncFlags): FluxSyncOverrides {
  return Object.fromEntries(
    Object.entries({
      registry: flags.registry,
      tag: flags.tag,
      semver: flags.semver,
      targetNamespace: flags.targetNamespace,
      provider: flags.provider,
      secretRef: flags.secretRef,
      insecure: flags.insecure,
      timeout: flags.timeout,
    }).filter(([, v]) => v !== undefined),
  );
}

/**
 * Adds an `Examples:` block to a command's help, as flux and kubectl show it: each working
 * invocation under a comment that says what it does. Written beside the command it shows.
 */
export function examples<C extends CommandUnknownOpts>(
  command: C,
  entries: [invocation: string, comment: string][],
): C {
  const text = entries
    .map(([invocation, comment]) => `  # ${comment}\n  ${invocation}`)
    .join("\n\n");
  command.addHelpText("after", `\nExamples:\n${text}\n`);
  return command;
}
