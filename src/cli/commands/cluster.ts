/** `ksail cluster create | delete | start | stop | list | info`, and the aliases `ksail up` / `ksail down`. */
import { Option, type Command } from "commander";
import { createOutput, type CliContext, type GlobalOptions } from "../context.js";
import type { Output } from "../../ui/output.js";
import type { GitOpsInstallHook, LifecycleOptions } from "../../cluster/lifecycle.js";
import type { Provisioner } from "../../cluster/provisioner.js";

interface ClusterFlags {
  distribution?: string;
  context?: string;
  kubeconfig?: string;
  output?: string;
}

const MIRROR_FLAG = "--mirror-registry <host=url>";
const MIRROR_HELP =
  "pull-through cache for a registry, e.g. docker.io=https://registry-1.docker.io (repeatable): a registry:3 container on 127.0.0.1 wired into the nodes";
const collect = (value: string, previous: string[] = []) => [...previous, value];

const FLUX_MANIFESTS_FLAG = "--flux-manifests <path|url>";
const FLUX_MANIFESTS_HELP =
  "Flux install manifests for offline use (default: the pinned Flux release, downloaded once and cached)";

const outputOption = () =>
  new Option("-o, --output <format>", "output format").choices(["human", "json"]).default("human");

function addClusterOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--distribution <name>",
        "Kind, K3d, or External (an existing kubeconfig context)",
      ).choices(["Kind", "K3d", "External"]),
    )
    .option("--context <name>", "kubeconfig context (External clusters)")
    .option("--kubeconfig <path>", "kubeconfig file (External clusters)")
    .addOption(outputOption());
}

async function prepare(
  ctx: CliContext,
  command: Command,
  flags: ClusterFlags,
): Promise<{ out: Output; options: LifecycleOptions }> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const out = createOutput(ctx, globals, flags.output);
  const { loadConfig } = await import("../../config/load.js");
  const external = flags.distribution === "External";
  const { config, baseDir } = await loadConfig({
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
    flags: {
      distribution: external ? undefined : flags.distribution,
      context: flags.context,
      kubeconfig: flags.kubeconfig,
    },
  });
  const { connectEngine } = await import("../../engine/docker.js");
  let engine: ReturnType<typeof connectEngine> | undefined;
  const lazyEngine = () => (engine ??= connectEngine(ctx.env));
  const provisioner = await createProvisioner(
    external ? "External" : config.spec.distribution,
    ctx.env,
    lazyEngine,
    config.spec.connection,
  );
  return {
    out,
    options: { config, baseDir, provisioner, engine: lazyEngine, env: ctx.env, progress: out },
  };
}

async function createProvisioner(
  distribution: "Kind" | "K3d" | "External",
  env: NodeJS.ProcessEnv,
  engine: LifecycleOptions["engine"],
  connection: { kubeconfig?: string | undefined; context?: string | undefined },
): Promise<Provisioner> {
  const { KindProvisioner, K3dProvisioner, ExternalProvisioner } =
    await import("../../cluster/provisioner.js");
  if (distribution === "Kind") return new KindProvisioner({ env, engine });
  if (distribution === "K3d") return new K3dProvisioner({ env, engine });
  return new ExternalProvisioner({
    env,
    engine,
    // Same default as kubectl: $KUBECONFIG, then ~/.kube/config.
    kubeconfig: connection.kubeconfig ?? env.KUBECONFIG ?? "~/.kube/config",
    ...(connection.context === undefined ? {} : { contextName: connection.context }),
  });
}

function createAction(ctx: CliContext) {
  return async (
    flags: ClusterFlags & { fluxManifests?: string; mirrorRegistry?: string[] },
    command: Command,
  ) => {
    const { out, options } = await prepare(ctx, command, flags);
    const { parseMirrorSpecs } = await import("../../registry/mirror.js");
    // spec.options.mirrorRegistries, then --mirror-registry (the same mirror twice is fine).
    options.mirrors = parseMirrorSpecs([
      ...options.config.spec.options.mirrorRegistries,
      ...(flags.mirrorRegistry ?? []),
    ]);
    const { createCluster } = await import("../../cluster/lifecycle.js");
    const installFlux: GitOpsInstallHook = async ({ config, kubeContext, progress }) => {
      const { KubeClient } = await import("../../k8s/client.js");
      const { bootstrapFlux } = await import("../../flux/bootstrap.js");
      const { cacheDirectory } = await import("../../flux/install.js");
      const { parseDuration } = await import("../../config/duration.js");
      const { kubeconfig, timeout } = config.spec.connection;
      const kube = KubeClient.connect({
        ...(kubeconfig ? { kubeconfig } : {}),
        ...(kubeContext ? { context: kubeContext } : {}),
      });
      await bootstrapFlux(
        kube,
        config,
        {
          cacheDir: cacheDirectory(ctx.env),
          timeoutMs: parseDuration(timeout) ?? 300_000,
          ...(flags.fluxManifests ? { manifests: flags.fluxManifests } : {}),
        },
        progress,
      );
    };
    const result = await createCluster(options, installFlux);
    out.result(result, () =>
      [
        `cluster ${result.name} (${result.distribution}) ready — kubectl context ${result.context || "(current)"}`,
        ...(result.registry
          ? [
              `registry: push to ${result.registry.hostAddress}, in cluster ${result.registry.inClusterAddress}`,
            ]
          : []),
        ...result.mirrors.map(
          (m) => `mirror:   ${m.host} → ${m.name} (${m.upstream}) on ${m.hostAddress}`,
        ),
      ].join("\n"),
    );
  };
}

function deleteAction(ctx: CliContext) {
  return async (flags: ClusterFlags & { deleteVolumes?: boolean }, command: Command) => {
    const { out, options } = await prepare(ctx, command, flags);
    const { deleteCluster } = await import("../../cluster/lifecycle.js");
    const result = await deleteCluster(options, { deleteVolumes: flags.deleteVolumes === true });
    out.result(result, () => {
      const lines = [
        result.cluster === "absent"
          ? `cluster ${result.name} did not exist`
          : result.cluster === "external"
            ? `cluster ${result.name} is external: left as it is`
            : `cluster ${result.name} deleted`,
      ];
      if (result.registry === "kept-in-use")
        lines.push(`registry kept: still used by ${result.users.join(", ")}`);
      if (result.registry === "removed") lines.push("registry container removed");
      for (const m of result.mirrors) {
        if (m.state === "removed")
          lines.push(`mirror ${m.name} removed${m.volumeRemoved ? " with its volume" : ""}`);
        if (m.state === "kept-in-use")
          lines.push(`mirror ${m.name} kept: still used by ${m.users.join(", ")}`);
      }
      if (result.volumeRemoved) lines.push("registry volume removed");
      else if (result.registry !== "disabled" && !flags.deleteVolumes)
        lines.push("registry volume kept (pass --delete-volumes to remove it)");
      return lines.join("\n");
    });
  };
}

export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program
    .command("cluster")
    .description("create, delete, start, stop and inspect the project's cluster");

  addClusterOptions(
    cluster
      .command("create")
      .description("registry → cluster → wiring → Flux (idempotent; alias: ksail up)"),
  )
    .option(FLUX_MANIFESTS_FLAG, FLUX_MANIFESTS_HELP)
    .option(MIRROR_FLAG, MIRROR_HELP, collect)
    .action(createAction(ctx));
  addClusterOptions(program.command("up").description("alias of `ksail cluster create`"))
    .option(FLUX_MANIFESTS_FLAG, FLUX_MANIFESTS_HELP)
    .option(MIRROR_FLAG, MIRROR_HELP, collect)
    .action(createAction(ctx));

  const deleteVolumes = () =>
    new Option("--delete-volumes", "also remove the registry's data volume (FR-015)");
  addClusterOptions(
    cluster
      .command("delete")
      .description(
        "delete the cluster and, unless shared, the registry container (alias: ksail down)",
      ),
  )
    .addOption(deleteVolumes())
    .action(deleteAction(ctx));
  addClusterOptions(program.command("down").description("alias of `ksail cluster delete`"))
    .addOption(deleteVolumes())
    .action(deleteAction(ctx));

  addClusterOptions(
    cluster.command("stop").description("stop the cluster and the registry; data is kept (FR-014)"),
  ).action(async (flags: ClusterFlags, command: Command) => {
    const { out, options } = await prepare(ctx, command, flags);
    const { stopCluster } = await import("../../cluster/lifecycle.js");
    const result = await stopCluster(options);
    out.result(result, () => `cluster ${result.name} stopped`);
  });

  addClusterOptions(
    cluster
      .command("start")
      .description("start the registry and the cluster, and restore the wiring"),
  ).action(async (flags: ClusterFlags, command: Command) => {
    const { out, options } = await prepare(ctx, command, flags);
    const { startCluster } = await import("../../cluster/lifecycle.js");
    const result = await startCluster(options);
    out.result(result, () => `cluster ${result.name} started`);
  });

  cluster
    .command("list")
    .description("list Kind and K3d clusters (whichever CLIs are installed)")
    .addOption(outputOption())
    .action(async (flags: { output?: string }, command: Command) => {
      const out = createOutput(ctx, command.optsWithGlobals<GlobalOptions>(), flags.output);
      const { findOnPath } = await import("../../cluster/tools.js");
      const { connectEngine } = await import("../../engine/docker.js");
      let engine: ReturnType<typeof connectEngine> | undefined;
      const lazyEngine = () => (engine ??= connectEngine(ctx.env));
      const rows: Array<{ name: string; distribution: string; context: string }> = [];
      for (const distribution of ["Kind", "K3d"] as const) {
        if (!findOnPath(distribution.toLowerCase(), ctx.env)) continue;
        const provisioner = await createProvisioner(distribution, ctx.env, lazyEngine, {
          kubeconfig: "",
        });
        for (const name of await provisioner.list())
          rows.push({ name, distribution, context: provisioner.context(name) });
      }
      const { formatTable } = await import("../../ui/output.js");
      out.result(rows, () =>
        rows.length === 0
          ? "no Kind or K3d clusters"
          : formatTable(
              ["NAME", "DISTRIBUTION", "CONTEXT"],
              rows.map((r) => [r.name, r.distribution, r.context]),
            ),
      );
    });

  addClusterOptions(
    cluster
      .command("info")
      .description("the project's cluster: distribution, context, nodes and registry"),
  ).action(async (flags: ClusterFlags, command: Command) => {
    const { out, options } = await prepare(ctx, command, flags);
    const { registrySpecFromConfig, registryStatus } = await import("../../registry/container.js");
    const { provisioner, config } = options;
    const name = config.metadata.name;
    const exists = await provisioner.exists(name);
    const nodes = exists ? await provisioner.nodes(name) : [];
    const registry =
      config.spec.localRegistry === "Enabled"
        ? await registryStatus(await options.engine(), registrySpecFromConfig(config))
        : undefined;
    const info = {
      name,
      distribution: provisioner.distribution,
      exists,
      context: provisioner.context(name),
      network: provisioner.network(name) ?? null,
      nodes,
      registry: registry ?? null,
    };
    out.result(info, () =>
      [
        `cluster:  ${name} (${provisioner.distribution}) ${exists ? "" : "— not created"}`.trimEnd(),
        `context:  ${info.context || "(current)"}`,
        `nodes:    ${nodes.map((n) => `${n.name}${n.running ? "" : " (stopped)"}`).join(", ") || "-"}`,
        `registry: ${registry ? `${registry.name} ${registry.state}, push to ${registry.hostAddress}, in cluster ${registry.inClusterAddress}` : "disabled"}`,
      ].join("\n"),
    );
  });
}
