/**
 * `ksail registry create | start | stop | status | delete | gc`: the local registry on its own,
 * each declared once with its examples.
 */
import type { Command, CommandUnknownOpts, OptionValues } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { CONFIG_SETTINGS } from "../../config/settings.js";
import { examples, outputOption, settingOption, type FlagsOf, type None } from "../options.js";
import { leaf } from "../seam.js";

/** --name (and -o) on every registry command. */
function addRegistryOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .addOption(
      settingOption(
        CONFIG_SETTINGS.registryName,
        "container name (default: spec.options.localRegistry.name or ksail-registry)",
      ),
    )
    .addOption(outputOption());
}

export const create = (registry: CommandUnknownOpts) =>
  examples(
    addRegistryOptions(
      registry
        .command("create")
        .description("create and start the registry on 127.0.0.1 (idempotent)")
        .addOption(
          settingOption(
            CONFIG_SETTINGS.registryPort,
            "host port on 127.0.0.1 (default: spec.options.localRegistry.hostPort or 5001)",
            "--port",
          ),
        )
        .addOption(
          settingOption(
            CONFIG_SETTINGS.registryImage,
            "registry image (default: spec.options.localRegistry.image or registry:3)",
          ),
        ),
    ),
    [
      ["ksail registry create", "the registry from ksail.yaml (default 127.0.0.1:5001)"],
      ["ksail registry create --port 5002 --name my-registry", "another port and container name"],
    ],
  );

export type CreateFlags = FlagsOf<typeof create>;
/** What every registry command takes; --port and --image only `create`. */
export type RegistryFlags = FlagsOf<typeof addRegistryOptions<[], None, None>> &
  Partial<Pick<CreateFlags, "port" | "image">>;

export const start = (registry: CommandUnknownOpts) =>
  examples(
    addRegistryOptions(
      registry.command("start").description("start the stopped registry container"),
    ),
    [["ksail registry start", "start it again; the pushed versions are still there"]],
  );

export const stop = (registry: CommandUnknownOpts) =>
  examples(
    addRegistryOptions(
      registry.command("stop").description("stop the registry container; its data stays"),
    ),
    [["ksail registry stop", "stop the container; its volume keeps every version"]],
  );

export const status = (registry: CommandUnknownOpts) =>
  examples(
    addRegistryOptions(
      registry
        .command("status")
        .description("show the registry container, its binding, volume and addresses"),
    ),
    [
      ["ksail registry status", "state, push address and in-cluster address"],
      ["ksail registry status -o yaml", "the same as YAML (or -o json)"],
    ],
  );

export const remove = (registry: CommandUnknownOpts) =>
  examples(
    addRegistryOptions(
      registry
        .command("delete")
        .description("remove the registry container; the data volume only with --delete-volumes"),
    ).option("--delete-volumes", "also remove the data volume (every pushed artifact is lost)"),
    [
      ["ksail registry delete", "remove the container, keep the pushed versions in its volume"],
      ["ksail registry delete --delete-volumes", "remove the volume as well"],
    ],
  );
export type DeleteFlags = FlagsOf<typeof remove>;

export const gc = (registry: CommandUnknownOpts) =>
  examples(
    addRegistryOptions(
      registry
        .command("gc")
        .description("run the registry's garbage collection to reclaim space of deleted versions"),
    ),
    [["ksail registry gc", "reclaim the space of versions deleted with `workload prune`"]],
  );

export function registerRegistry(program: CommandUnknownOpts, ctx: CliContext): void {
  const registry = examples(
    program
      .command("registry")
      .description("the local OCI registry container on its own (no cluster needed)"),
    [
      ["ksail registry create", "the project's registry on 127.0.0.1, without a cluster"],
      ["ksail registry status -o json", "its container, port binding, volume and addresses"],
    ],
  );
  leaf(create(registry), ctx, () => import("../handlers/registry/create.js"));
  leaf(start(registry), ctx, () => import("../handlers/registry/start.js"));
  leaf(stop(registry), ctx, () => import("../handlers/registry/stop.js"));
  leaf(status(registry), ctx, () => import("../handlers/registry/status.js"));
  leaf(remove(registry), ctx, () => import("../handlers/registry/delete.js"));
  leaf(gc(registry), ctx, () => import("../handlers/registry/gc.js"));
}
