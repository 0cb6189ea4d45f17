/** `ksail cluster create | delete | start | stop | list | info`, and the aliases `ksail up` / `ksail down`. */
import { Option, type Command } from "commander";
import type { CliContext } from "../context.js";
import { choiceOption, outputOption } from "../options.js";
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
function addCreateOptions(command: Command): Command {
  return addClusterOptions(command)
    .option(
      "--flux-manifests <path|url>",
      "Flux install manifests for offline use (default: the pinned Flux release, downloaded once and cached)",
    )
    .option(
      "--mirror-registry <host=url>",
      "pull-through cache for a registry, e.g. docker.io=https://registry-1.docker.io (repeatable): a registry:3 container on 127.0.0.1 wired into the nodes",
      collect,
    );
}

/** `cluster delete` and `down`. */
function addDeleteOptions(command: Command): Command {
  return addClusterOptions(command).addOption(
    new Option("--delete-volumes", "also remove the registry's data volume (FR-015)"),
  );
}

export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program
    .command("cluster")
    .description("create, delete, start, stop and inspect the project's cluster");
  const create = lazy(ctx, () => import("../handlers/cluster/create.js"));
  const remove = lazy(ctx, () => import("../handlers/cluster/delete.js"));

  addCreateOptions(
    cluster
      .command("create")
      .description("registry → cluster → wiring → Flux (idempotent; alias: ksail up)"),
  ).action(create);
  addCreateOptions(program.command("up").description("alias of `ksail cluster create`")).action(
    create,
  );

  addDeleteOptions(
    cluster
      .command("delete")
      .description(
        "delete the cluster and, unless shared, the registry container (alias: ksail down)",
      ),
  ).action(remove);
  addDeleteOptions(program.command("down").description("alias of `ksail cluster delete`")).action(
    remove,
  );

  addClusterOptions(
    cluster.command("stop").description("stop the cluster and the registry; data is kept (FR-014)"),
  ).action(lazy(ctx, () => import("../handlers/cluster/stop.js")));

  addClusterOptions(
    cluster
      .command("start")
      .description("start the registry and the cluster, and restore the wiring"),
  ).action(lazy(ctx, () => import("../handlers/cluster/start.js")));

  cluster
    .command("list")
    .description("list Kind and K3d clusters (whichever CLIs are installed)")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/cluster/list.js")));

  addClusterOptions(
    cluster
      .command("info")
      .description("the project's cluster: distribution, context, nodes and registry"),
  ).action(lazy(ctx, () => import("../handlers/cluster/info.js")));
}
