/**
 * `ksail cluster create | delete | start | stop | list | info`, and the aliases `ksail up` /
 * `ksail down`, each declared once with its examples.
 */
import {
  Option,
  type Command,
  type CommandUnknownOpts,
  type OptionValues,
} from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { CONFIG_SETTINGS } from "../../config/settings.js";
import {
  choiceOption,
  examples,
  outputOption,
  settingOption,
  type FlagsOf,
  type None,
} from "../options.js";
import { leaf } from "../seam.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

function addClusterOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .addOption(
      choiceOption(
        "--distribution <name>",
        "Kind, K3d, or External (an existing kubeconfig context)",
        ["Kind", "K3d", "External"],
      ),
    )
    .option("--context <name>", "kubeconfig context (External clusters)")
    .option("--kubeconfig <path>", "kubeconfig file (External clusters)")
    .addOption(outputOption());
}

export type ClusterFlags = FlagsOf<typeof addClusterOptions<[], None, None>>;

/** `cluster create` and `up` (`name` is how the examples call it). */
export const create = (
  parent: CommandUnknownOpts,
  word: string,
  description: string,
  name: string,
) =>
  examples(
    addClusterOptions(parent.command(word).description(description))
      .option(
        "--flux-manifests <path|url>",
        "Flux install manifests for offline use (default: the pinned Flux release, downloaded once and cached)",
      )
      .option(
        "--mirror-registry <host=url>",
        "pull-through cache for a registry, e.g. docker.io=https://registry-1.docker.io (repeatable): a registry:3 container on 127.0.0.1 wired into the nodes",
        collect,
      )
      .addOption(
        settingOption(
          CONFIG_SETTINGS.timeout,
          `how long to wait for Flux to be ready (default: $${CONFIG_SETTINGS.timeout.env}, else spec.connection.timeout, else ${CONFIG_SETTINGS.timeout.default})`,
        ),
      ),
    [
      [
        `ksail ${name}`,
        "registry, cluster, wiring and Flux as ksail.yaml says (again: finishes a half-made setup)",
      ],
      [
        `ksail ${name} --mirror-registry docker.io=https://registry-1.docker.io`,
        "the same, with a pull-through cache for Docker Hub",
      ],
      [
        `ksail ${name} --flux-manifests ./flux-install.yaml`,
        "offline: install Flux from a local copy of its install manifests",
      ],
    ],
  );
export type CreateFlags = FlagsOf<typeof create>;

/** `cluster delete` and `down`. */
export const remove = (
  parent: CommandUnknownOpts,
  word: string,
  description: string,
  name: string,
) =>
  examples(
    addClusterOptions(parent.command(word).description(description)).addOption(
      new Option("--delete-volumes", "also remove the registry's data volume"),
    ),
    [
      [`ksail ${name}`, "delete the cluster and the registry container; pushed versions stay"],
      [`ksail ${name} --delete-volumes`, "delete the registry's volume as well"],
    ],
  );
export type DeleteFlags = FlagsOf<typeof remove>;

export const stop = (cluster: CommandUnknownOpts) =>
  examples(
    addClusterOptions(
      cluster.command("stop").description("stop the cluster and the registry; data is kept"),
    ),
    [["ksail cluster stop", "stop the nodes and the registry; start them again later"]],
  );

export const start = (cluster: CommandUnknownOpts) =>
  examples(
    addClusterOptions(
      cluster
        .command("start")
        .description("start the registry and the cluster, and restore the wiring"),
    ),
    [["ksail cluster start", "the registry, then the nodes, and their network connections"]],
  );

export const list = (cluster: CommandUnknownOpts) =>
  examples(
    cluster
      .command("list")
      .description("list Kind and K3d clusters (whichever CLIs are installed)")
      .addOption(outputOption()),
    [
      ["ksail cluster list", "name, distribution and kubeconfig context of each"],
      ["ksail cluster list -o json", 'as {"items": [...]}'],
    ],
  );
export type ListFlags = FlagsOf<typeof list>;

export const info = (cluster: CommandUnknownOpts) =>
  examples(
    addClusterOptions(
      cluster
        .command("info")
        .description("the project's cluster: distribution, context, nodes and registry"),
    ),
    [
      ["ksail cluster info", "distribution, context, nodes and registry addresses"],
      ["ksail cluster info -o yaml", "the same as YAML (or -o json)"],
    ],
  );

export function registerCluster(program: CommandUnknownOpts, ctx: CliContext): void {
  const cluster = examples(
    program
      .command("cluster")
      .description("create, delete, start, stop and inspect the project's cluster"),
    [
      ["ksail cluster create", "registry, cluster, wiring and Flux (same as ksail up)"],
      ["ksail cluster list", "every Kind and K3d cluster on this machine"],
    ],
  );
  const createHandler = () => import("../handlers/cluster/create.js");
  const deleteHandler = () => import("../handlers/cluster/delete.js");
  const createText = "registry → cluster → wiring → Flux (idempotent; alias: ksail up)";
  leaf(create(cluster, "create", createText, "cluster create"), ctx, createHandler);
  const upText =
    "start the local registry, create the cluster, wire the registry in and install Flux; again: finish a half-made setup (= cluster create)";
  leaf(create(program, "up", upText, "up"), ctx, createHandler);
  const deleteText =
    "delete the cluster and, unless shared, the registry container (alias: ksail down)";
  leaf(remove(cluster, "delete", deleteText, "cluster delete"), ctx, deleteHandler);
  const downText =
    "delete the cluster and, unless another cluster uses it, the registry container (= cluster delete)";
  leaf(remove(program, "down", downText, "down"), ctx, deleteHandler);
  leaf(stop(cluster), ctx, () => import("../handlers/cluster/stop.js"));
  leaf(start(cluster), ctx, () => import("../handlers/cluster/start.js"));
  leaf(list(cluster), ctx, () => import("../handlers/cluster/list.js"));
  leaf(info(cluster), ctx, () => import("../handlers/cluster/info.js"));
}
