/**
 * Options more than one command takes, and their typed flag interfaces. Loaded at start-up with
 * the command table, so it imports nothing but commander and types.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { FluxSyncOverrides } from "../flux/resources.js";

/** The options every leaf command (and the program, before the subcommand) takes. */
export interface GlobalOptions {
  config?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export const COMMON_OPTIONS: [string, string][] = [
  [
    "--config <path>",
    "path to ksail.yaml (default: $KSAIL_CONFIG, else ksail.yaml here or in the nearest parent directory)",
  ],
  ["-q, --quiet", "print only results and errors, no progress lines"],
  ["--verbose", "print error causes"],
];

/**
 * An option with a closed set of values, matched without regard to case (`--distribution kind`
 * gives "Kind"); help still lists the values as written.
 */
export function choiceOption(flags: string, description: string, choices: readonly string[]) {
  return new Option(flags, description).choices(choices).argParser((value: string) => {
    const match = choices.find((c) => c.toLowerCase() === value.toLowerCase());
    if (match === undefined) {
      throw new InvalidArgumentError(`Allowed choices are ${choices.join(", ")}.`);
    }
    return match;
  });
}

export interface OutputFlags {
  output?: string;
}

/** `-o, --output human|json|yaml` (lists as `{ items: [...] }`; errors too, see README "Output"). */
export const outputOption = () =>
  new Option("-o, --output <format>", "output format")
    .choices(["human", "json", "yaml"])
    .default("human");

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
}

export function addKubeOptions(command: Command): Command {
  return command
    .option(
      "--kubeconfig <path>",
      "kubeconfig file (default: spec.connection.kubeconfig, $KUBECONFIG, ~/.kube/config)",
    )
    .option(
      "--context <name>",
      "kubeconfig context (default: spec.connection.context, else the current one)",
    );
}

/** Which repository (and manifest directory) a workload command works on. */
export interface TargetFlags extends OutputFlags {
  registry?: string;
  path?: string;
  insecure?: boolean;
  requestTimeout?: string;
}

export function addTargetOptions(command: Command, withPath: boolean): Command {
  command
    .option(
      "--registry <oci-url>",
      "repository to use, e.g. oci://ghcr.io/org/app (default: the local registry from ksail.yaml)",
    )
    .option("--insecure", "allow plain HTTP to a non-loopback registry")
    .option(
      "--request-timeout <duration>",
      "how long a registry request may go without data before it is retried (default: $KSAIL_REQUEST_TIMEOUT, else 30s)",
    );
  if (withPath)
    command.option("--path <dir>", "manifest directory (default: spec.sourceDirectory)");
  return command;
}

/** What the OCIRepository and Kustomization follow (`flux sync`, `workload gen flux`). */
export interface SyncFlags {
  registry?: string;
  tag?: string;
  semver?: string;
  targetNamespace?: string;
  provider?: "generic" | "aws" | "azure" | "gcp";
  secretRef?: string;
  insecure?: boolean;
  timeout?: string;
}

export function addSyncOptions(command: Command): Command {
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
      ]),
    )
    .option("--secret-ref <name>", "pull secret in the Flux namespace for a remote registry")
    .option("--insecure", "plain HTTP to the registry (default only for the local registry)")
    .option("--timeout <duration>", "Kustomization timeout for apply and health checks", "2m");
}

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
 * invocation under a comment that says what it does.
 */
export function examples(
  command: Command,
  entries: [invocation: string, comment: string][],
): Command {
  const text = entries
    .map(([invocation, comment]) => `  # ${comment}\n  ${invocation}`)
    .join("\n\n");
  return command.addHelpText("after", `\nExamples:\n${text}\n`);
}
