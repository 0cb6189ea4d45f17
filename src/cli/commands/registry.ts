/** `ksail registry create | start | stop | status | delete | gc`: the local registry on its own. */
import { Option, type Command } from "commander";
import { createOutput, parseInteger, type CliContext, type GlobalOptions } from "../context.js";
import type { Output } from "../../ui/output.js";
import type { Engine } from "../../engine/docker.js";
import type { RegistrySpec, RegistryStatus } from "../../registry/container.js";

interface RegistryFlags {
  port?: string;
  name?: string;
  image?: string;
  output?: string;
}

const outputOption = () =>
  new Option("-o, --output <format>", "output format").choices(["human", "json"]).default("human");

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

async function prepare(
  ctx: CliContext,
  command: Command,
  flags: RegistryFlags,
): Promise<{ out: Output; engine: Engine; spec: RegistrySpec }> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const out = createOutput(ctx, globals, flags.output);
  const hostPort = flags.port === undefined ? undefined : parseInteger(flags.port, "--port", 1);
  if (hostPort !== undefined && hostPort > 65535) {
    const { KsailError } = await import("../../errors.js");
    throw new KsailError("usage", `--port must be at most 65535, got ${hostPort}`);
  }
  const { loadConfig } = await import("../../config/load.js");
  const { registrySpecFromConfig } = await import("../../registry/container.js");
  const { connectEngine } = await import("../../engine/docker.js");
  const { config } = await loadConfig({
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
  });
  const spec = registrySpecFromConfig(config, {
    ...(hostPort === undefined ? {} : { hostPort }),
    ...(flags.name === undefined ? {} : { name: flags.name }),
    ...(flags.image === undefined ? {} : { image: flags.image }),
  });
  const engine = await connectEngine(ctx.env);
  return { out, engine, spec };
}

/** What `status -o json` prints (and the other commands return). */
export function statusJson(status: RegistryStatus): Record<string, unknown> {
  return {
    name: status.name,
    image: status.image,
    hostBinding: status.hostBinding ?? null,
    volume: status.volume,
    volumeExists: status.volumeExists,
    exists: status.exists,
    running: status.running,
    state: status.state,
    hostAddress: status.hostAddress,
    inClusterAddress: status.inClusterAddress,
    networks: status.networks,
  };
}

function describeStatus(status: RegistryStatus): string {
  if (!status.exists) {
    return [
      `registry ${status.name}: not created`,
      `volume:  ${status.volume} (${status.volumeExists ? "exists, data kept" : "absent"})`,
    ].join("\n");
  }
  return [
    `registry ${status.name}: ${status.state}`,
    `image:      ${status.image}`,
    `binding:    ${status.hostBinding ?? "-"}`,
    `push to:    ${status.hostAddress}`,
    `in cluster: ${status.inClusterAddress}`,
    `volume:     ${status.volume}`,
    `networks:   ${status.networks.join(", ") || "-"}`,
  ].join("\n");
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
  ).action(async (flags: RegistryFlags, command: Command) => {
    const { out, engine, spec } = await prepare(ctx, command, flags);
    const { ensureRegistry } = await import("../../registry/container.js");
    const result = await ensureRegistry(engine, spec, out);
    out.result({ action: result.action, ...statusJson(result.status) }, () =>
      result.action === "unchanged"
        ? `registry ${spec.name} already running at ${result.status.hostAddress}`
        : `registry ${spec.name} ${result.action}: push to ${result.status.hostAddress}, in cluster ${result.status.inClusterAddress}`,
    );
  });

  addRegistryOptions(
    registry.command("start").description("start the stopped registry container"),
    false,
  ).action(async (flags: RegistryFlags, command: Command) => {
    const { out, engine, spec } = await prepare(ctx, command, flags);
    const { startRegistry } = await import("../../registry/container.js");
    const result = await startRegistry(engine, spec, out);
    out.result({ action: result.action, ...statusJson(result.status) }, () =>
      result.action === "unchanged"
        ? `registry ${spec.name} already running at ${result.status.hostAddress}`
        : `registry ${spec.name} started at ${result.status.hostAddress}`,
    );
  });

  addRegistryOptions(
    registry.command("stop").description("stop the registry container; its data stays (FR-014)"),
    false,
  ).action(async (flags: RegistryFlags, command: Command) => {
    const { out, engine, spec } = await prepare(ctx, command, flags);
    const { stopRegistry } = await import("../../registry/container.js");
    const result = await stopRegistry(engine, spec.name, out);
    out.result({ name: spec.name, ...result }, () =>
      !result.exists
        ? `registry ${spec.name} does not exist`
        : result.stopped
          ? `registry ${spec.name} stopped`
          : `registry ${spec.name} was not running`,
    );
  });

  addRegistryOptions(
    registry
      .command("status")
      .description("show the registry container, its binding, volume and addresses"),
    false,
  ).action(async (flags: RegistryFlags, command: Command) => {
    const { out, engine, spec } = await prepare(ctx, command, flags);
    const { registryStatus } = await import("../../registry/container.js");
    const status = await registryStatus(engine, spec);
    out.result(statusJson(status), () => describeStatus(status));
  });

  addRegistryOptions(
    registry
      .command("delete")
      .description(
        "remove the registry container; the data volume only with --delete-volumes (FR-015)",
      ),
    false,
  )
    .option("--delete-volumes", "also remove the data volume (every pushed artifact is lost)")
    .action(async (flags: RegistryFlags & { deleteVolumes?: boolean }, command: Command) => {
      const { out, engine, spec } = await prepare(ctx, command, flags);
      const { deleteRegistry } = await import("../../registry/container.js");
      const result = await deleteRegistry(
        engine,
        spec.name,
        { deleteVolume: flags.deleteVolumes === true, volume: spec.volume },
        out,
      );
      out.result({ name: spec.name, ...result }, () => {
        const lines = [
          result.containerRemoved
            ? `registry ${spec.name} removed`
            : `registry ${spec.name} did not exist`,
        ];
        if (result.volumeRemoved) lines.push(`volume ${result.volume} removed`);
        else if (!flags.deleteVolumes)
          lines.push(`volume ${result.volume} kept (pass --delete-volumes to remove it)`);
        return lines.join("\n");
      });
    });

  addRegistryOptions(
    registry
      .command("gc")
      .description(
        "run the registry's garbage collection to reclaim space of deleted versions (FR-018)",
      ),
    false,
  ).action(async (flags: RegistryFlags, command: Command) => {
    const { out, engine, spec } = await prepare(ctx, command, flags);
    const { garbageCollect } = await import("../../registry/garbage-collect.js");
    const output = await out.step(`garbage collection in ${spec.name}`, () =>
      garbageCollect(engine, spec.name),
    );
    const deleted = output
      .split("\n")
      .filter((line) => /blob eligible for deletion/i.test(line)).length;
    out.result(
      { name: spec.name, blobsDeleted: deleted, output },
      () => `${deleted} blob(s) deleted`,
    );
  });
}
