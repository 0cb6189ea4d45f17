/** `ksail cluster create | delete | start | stop | list | info`, and the aliases `ksail up` / `ksail down`. */
import { Option, type Command } from "commander";
import type { CliContext } from "../context.js";
import { choiceOption, examples, outputOption } from "../options.js";
import { lazy } from "../seam.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

function addClusterOptions(command: Command): Command {
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

/** `cluster create` and `up`. */
function addCreateOptions(command: Command, name: string): Command {
  return examples(
    addClusterOptions(command)
      .option(
        "--flux-manifests <path|url>",
        "Flux install manifests for offline use (default: the pinned Flux release, downloaded once and cached)",
      )
      .option(
        "--mirror-registry <host=url>",
        "pull-through cache for a registry, e.g. docker.io=https://registry-1.docker.io (repeatable): a registry:3 container on 127.0.0.1 wired into the nodes",
        collect,
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
}

/** `cluster delete` and `down`. */
function addDeleteOptions(command: Command, name: string): Command {
  return examples(
    addClusterOptions(command).addOption(
      new Option("--delete-volumes", "also remove the registry's data volume"),
    ),
    [
      [`ksail ${name}`, "delete the cluster and the registry container; pushed versions stay"],
      [`ksail ${name} --delete-volumes`, "delete the registry's volume as well"],
    ],
  );
}

export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program
    .command("cluster")
    .description("create, delete, start, stop and inspect the project's cluster");
  examples(cluster, [
    ["ksail cluster create", "registry, cluster, wiring and Flux (same as ksail up)"],
    ["ksail cluster list", "every Kind and K3d cluster on this machine"],
  ]);
  const create = lazy(ctx, () => import("../handlers/cluster/create.js"));
  const remove = lazy(ctx, () => import("../handlers/cluster/delete.js"));

  addCreateOptions(
    cluster
      .command("create")
      .description("registry → cluster → wiring → Flux (idempotent; alias: ksail up)"),
    "cluster create",
  ).action(create);
  addCreateOptions(
    program
      .command("up")
      .description(
        "start the local registry, create the cluster, wire the registry in and install Flux; again: finish a half-made setup (= cluster create)",
      ),
    "up",
  ).action(create);

  addDeleteOptions(
    cluster
      .command("delete")
      .description(
        "delete the cluster and, unless shared, the registry container (alias: ksail down)",
      ),
    "cluster delete",
  ).action(remove);
  addDeleteOptions(
    program
      .command("down")
      .description(
        "delete the cluster and, unless another cluster uses it, the registry container (= cluster delete)",
      ),
    "down",
  ).action(remove);

  examples(
    addClusterOptions(
      cluster.command("stop").description("stop the cluster and the registry; data is kept"),
    ),
    [["ksail cluster stop", "stop the nodes and the registry; start them again later"]],
  ).action(lazy(ctx, () => import("../handlers/cluster/stop.js")));

  examples(
    addClusterOptions(
      cluster
        .command("start")
        .description("start the registry and the cluster, and restore the wiring"),
    ),
    [["ksail cluster start", "the registry, then the nodes, and their network connections"]],
  ).action(lazy(ctx, () => import("../handlers/cluster/start.js")));

  examples(
    cluster
      .command("list")
      .description("list Kind and K3d clusters (whichever CLIs are installed)")
      .addOption(outputOption()),
    [
      ["ksail cluster list", "name, distribution and kubeconfig context of each"],
      ["ksail cluster list -o json", 'as {"items": [...]}'],
    ],
  ).action(lazy(ctx, () => import("../handlers/cluster/list.js")));

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
  ).action(lazy(ctx, () => import("../handlers/cluster/info.js")));
}
