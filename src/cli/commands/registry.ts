/** `ksail registry create | start | stop | status | delete | gc`: the local registry on its own. */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { examples, outputOption } from "../options.js";
import { lazy } from "../seam.js";

function addRegistryOptions(command: Command, withSettings: boolean): Command {
  if (withSettings) {
    command
      .option(
        "--port <port>",
        "host port on 127.0.0.1 (default: spec.options.localRegistry.hostPort or 5001)",
      )
      .option(
        "--image <image>",
        "registry image (default: spec.options.localRegistry.image or registry:3)",
      );
  }
  return command
    .option(
      "--name <name>",
      "container name (default: spec.options.localRegistry.name or ksail-registry)",
    )
    .addOption(outputOption());
}

export function registerRegistry(program: Command, ctx: CliContext): void {
  const registry = program
    .command("registry")
    .description("the local OCI registry container on its own (no cluster needed)");
  examples(registry, [
    ["ksail registry create", "the project's registry on 127.0.0.1, without a cluster"],
    ["ksail registry status -o json", "its container, port binding, volume and addresses"],
  ]);

  examples(
    addRegistryOptions(
      registry
        .command("create")
        .description("create and start the registry on 127.0.0.1 (idempotent)"),
      true,
    ),
    [
      ["ksail registry create", "the registry from ksail.yaml (default 127.0.0.1:5001)"],
      ["ksail registry create --port 5002 --name my-registry", "another port and container name"],
    ],
  ).action(lazy(ctx, () => import("../handlers/registry/create.js")));

  examples(
    addRegistryOptions(
      registry.command("start").description("start the stopped registry container"),
      false,
    ),
    [["ksail registry start", "start it again; the pushed versions are still there"]],
  ).action(lazy(ctx, () => import("../handlers/registry/start.js")));

  examples(
    addRegistryOptions(
      registry.command("stop").description("stop the registry container; its data stays"),
      false,
    ),
    [["ksail registry stop", "stop the container; its volume keeps every version"]],
  ).action(lazy(ctx, () => import("../handlers/registry/stop.js")));

  examples(
    addRegistryOptions(
      registry
        .command("status")
        .description("show the registry container, its binding, volume and addresses"),
      false,
    ),
    [
      ["ksail registry status", "state, push address and in-cluster address"],
      ["ksail registry status -o yaml", "the same as YAML (or -o json)"],
    ],
  ).action(lazy(ctx, () => import("../handlers/registry/status.js")));

  examples(
    addRegistryOptions(
      registry
        .command("delete")
        .description("remove the registry container; the data volume only with --delete-volumes"),
      false,
    ).option("--delete-volumes", "also remove the data volume (every pushed artifact is lost)"),
    [
      ["ksail registry delete", "remove the container, keep the pushed versions in its volume"],
      ["ksail registry delete --delete-volumes", "remove the volume as well"],
    ],
  ).action(lazy(ctx, () => import("../handlers/registry/delete.js")));

  examples(
    addRegistryOptions(
      registry
        .command("gc")
        .description("run the registry's garbage collection to reclaim space of deleted versions"),
      false,
    ),
    [["ksail registry gc", "reclaim the space of versions deleted with `workload prune`"]],
  ).action(lazy(ctx, () => import("../handlers/registry/gc.js")));
}
