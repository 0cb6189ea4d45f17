/** `ksail registry create | start | stop | status | delete | gc`: the local registry on its own. */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { outputOption } from "../options.js";
import { lazy } from "../seam.js";

function addRegistryOptions(command: Command, withSettings: boolean): Command {
  if (withSettings) {
    command
      .option(
        "--port <port>",
        "host port on 127.0.0.1 (default: spec.options.localRegistry.hostPort or 5000)",
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

  addRegistryOptions(
    registry
      .command("create")
      .description("create and start the registry (idempotent) (FR-003, FR-005)"),
    true,
  ).action(lazy(ctx, () => import("../handlers/registry/create.js")));

  addRegistryOptions(
    registry.command("start").description("start the stopped registry container"),
    false,
  ).action(lazy(ctx, () => import("../handlers/registry/start.js")));

  addRegistryOptions(
    registry.command("stop").description("stop the registry container; its data stays (FR-014)"),
    false,
  ).action(lazy(ctx, () => import("../handlers/registry/stop.js")));

  addRegistryOptions(
    registry
      .command("status")
      .description("show the registry container, its binding, volume and addresses"),
    false,
  ).action(lazy(ctx, () => import("../handlers/registry/status.js")));

  addRegistryOptions(
    registry
      .command("delete")
      .description(
        "remove the registry container; the data volume only with --delete-volumes (FR-015)",
      ),
    false,
  )
    .option("--delete-volumes", "also remove the data volume (every pushed artifact is lost)")
    .action(lazy(ctx, () => import("../handlers/registry/delete.js")));

  addRegistryOptions(
    registry
      .command("gc")
      .description(
        "run the registry's garbage collection to reclaim space of deleted versions (FR-018)",
      ),
    false,
  ).action(lazy(ctx, () => import("../handlers/registry/gc.js")));
}
