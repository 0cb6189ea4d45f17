/** `ksail workload push | versions | pull | diff | prune`. */
import { Option, type Command } from "commander";
import { createOutput, parseInteger, type CliContext, type GlobalOptions } from "../context.js";
import type { Output } from "../../ui/output.js";
import type { RegistryClient } from "../../oci/client.js";
import type { WorkloadTarget } from "../../workload/target.js";
import type { PushResult } from "../../workload/push.js";
import { addKubeOptions, connectKube, parseTimeout, type KubeFlags } from "../kube.js";
import { addSyncOptions, syncOverrides, type SyncFlags } from "./flux.js";

interface TargetFlags {
  registry?: string;
  path?: string;
  insecure?: boolean;
  output?: string;
}

const outputOption = () =>
  new Option("-o, --output <format>", "output format").choices(["human", "json"]).default("human");

function addTargetOptions(command: Command, withPath: boolean): Command {
  command
    .option(
      "--registry <oci-url>",
      "repository to use, e.g. oci://ghcr.io/org/app (default: the local registry from ksail.yaml)",
    )
    .option("--insecure", "allow plain HTTP to a non-loopback registry");
  if (withPath)
    command.option("--path <dir>", "manifest directory (default: spec.sourceDirectory)");
  return command;
}

async function prepare(
  ctx: CliContext,
  command: Command,
  flags: TargetFlags,
  needsSource: boolean,
): Promise<{
  out: Output;
  target: WorkloadTarget;
  client: RegistryClient;
  globals: GlobalOptions;
}> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const out = createOutput(ctx, globals, flags.output);
  const { resolveTarget } = await import("../../workload/target.js");
  const { RegistryClient } = await import("../../oci/client.js");
  const target = await resolveTarget({
    ...(flags.registry === undefined ? {} : { registry: flags.registry }),
    ...(flags.path === undefined ? {} : { path: flags.path }),
    ...(globals.config === undefined ? {} : { configPath: globals.config }),
    cwd: ctx.cwd,
    env: ctx.env,
    needsSource,
  });
  const client = new RegistryClient({
    insecureRegistries: flags.insecure ? [target.repository.registry] : [],
    onEvent: (event) => {
      if (event.type === "retry") {
        out.info(`  retrying (${event.attempt}) in ${event.delayMs}ms: ${event.reason}`);
      }
    },
  });
  return { out, target, client, globals };
}

export function registerWorkload(program: Command, ctx: CliContext): void {
  const workload = program
    .command("workload")
    .description("package, push and inspect your manifests as versioned OCI artifacts");

  addTargetOptions(
    workload
      .command("push")
      .description(
        "validate the manifest directory and push it as a new version (FR-006, FR-007, FR-017)",
      ),
    true,
  )
    .option("--version <semver>", "exact version to push (versions are immutable)")
    .addOption(
      new Option("--bump <part>", "which part of the highest version to increase").choices([
        "patch",
        "minor",
        "major",
      ]),
    )
    .option(
      "--source <url>",
      "org.opencontainers.image.source (default: git remote or directory path)",
    )
    .option(
      "--revision <rev>",
      "org.opencontainers.image.revision (default: <branch>@sha1:<commit> or content digest)",
    )
    .option(
      "--created [time]",
      "add org.opencontainers.image.created (RFC 3339; default now) — changes the manifest digest",
    )
    .option("--ignore <pattern...>", "extra .gitignore-style patterns to leave out")
    .option("--no-latest", "do not move the latest tag")
    .addOption(outputOption())
    .action(async (flags: TargetFlags & Record<string, unknown>, command: Command) => {
      if (flags.version !== undefined && flags.bump !== undefined) {
        const { KsailError } = await import("../../errors.js");
        throw new KsailError("usage", "--version and --bump cannot be used together");
      }
      const { out, target, client } = await prepare(ctx, command, flags, true);
      const { pushWorkload } = await import("../../workload/push.js");
      const validationCache = await openCache(ctx);
      const created =
        flags.created === true ? new Date().toISOString() : (flags.created as string | undefined);
      const result = await pushWorkload(
        client,
        {
          repository: target.repository,
          sourceDir: target.sourceDir,
          ...(flags.version === undefined ? {} : { version: flags.version as string }),
          ...(flags.bump === undefined ? {} : { bump: flags.bump as "patch" }),
          ...(flags.source === undefined ? {} : { source: flags.source as string }),
          ...(flags.revision === undefined ? {} : { revision: flags.revision as string }),
          ...(created === undefined ? {} : { created }),
          ...(flags.ignore === undefined ? {} : { ignore: flags.ignore as string[] }),
          tagLatest: flags.latest !== false,
          validationCache,
          exclusive: await repositoryLock(ctx, out),
        },
        out,
      );
      out.result(result, () =>
        result.unchanged
          ? `${result.repository}:${result.version} unchanged\ndigest: ${result.digest}`
          : `${result.repository}:${result.version}\ndigest: ${result.digest}`,
      );
    });

  addTargetOptions(
    workload.command("versions").description("list every pushed version with its metadata"),
    false,
  )
    .addOption(outputOption())
    .action(async (flags: TargetFlags, command: Command) => {
      const { out, target, client } = await prepare(ctx, command, flags, false);
      const { listVersions } = await import("../../workload/versions.js");
      const { formatBytes, formatTable } = await import("../../ui/output.js");
      const versions = await listVersions(client, target.repository);
      out.result(versions, () =>
        versions.length === 0
          ? `no versions in ${target.repository.registry}/${target.repository.repository}`
          : formatTable(
              ["VERSION", "DIGEST", "CREATED", "SIZE", "SOURCE", "REVISION"],
              versions.map((v) => [
                v.latest ? `${v.version} (latest)` : v.version,
                v.digest.slice(0, 19),
                v.created ?? "-",
                formatBytes(v.size),
                v.source ?? "-",
                v.revision ?? "-",
              ]),
            ),
      );
    });

  addTargetOptions(
    workload
      .command("pull")
      .argument("[version]", "version to pull (default: latest)")
      .description("download a version into an empty directory"),
    false,
  )
    .requiredOption("--dest <dir>", "directory to extract into (must be empty or absent)")
    .addOption(outputOption())
    .action(
      async (
        version: string | undefined,
        flags: TargetFlags & { dest: string },
        command: Command,
      ) => {
        const { out, target, client } = await prepare(ctx, command, flags, false);
        const { resolve } = await import("node:path");
        const { pullWorkload } = await import("../../workload/pull.js");
        const result = await pullWorkload(
          client,
          target.repository,
          version,
          resolve(ctx.cwd, flags.dest),
          out,
        );
        out.result(result, () => result.files.join("\n"));
      },
    );

  addTargetOptions(
    workload
      .command("diff")
      .argument("[version]", "pushed version to compare with (default: latest)")
      .description(
        "compare the manifest directory with a pushed version (exit 1 when they differ)",
      ),
    true,
  )
    .addOption(outputOption())
    .action(async (version: string | undefined, flags: TargetFlags, command: Command) => {
      const { out, target, client } = await prepare(ctx, command, flags, true);
      const { diffWorkload } = await import("../../workload/diff.js");
      const result = await diffWorkload(client, target.repository, version, target.sourceDir, out);
      if (result.changes.length > 0) ctx.exitCode = 1;
      out.result(result, () =>
        result.changes.length === 0
          ? `no differences between ${target.sourceDir} and ${result.reference}`
          : result.changes.map((c) => c.patch ?? `Binary file ${c.path} ${c.status}\n`).join(""),
      );
    });

  addTargetOptions(
    workload
      .command("prune")
      .description("delete old versions and reclaim registry space (FR-018)"),
    false,
  )
    .requiredOption("--keep <n>", "number of newest versions to keep (≥ 1)")
    .option(
      "--older-than <duration>",
      "only delete versions created longer ago than this, e.g. 168h",
    )
    .option("--dry-run", "show what would be deleted, delete nothing")
    .addOption(outputOption())
    .action(
      async (
        flags: TargetFlags & { keep: string; olderThan?: string; dryRun?: boolean },
        command: Command,
      ) => {
        const keep = parseInteger(flags.keep, "--keep", 1);
        const { parseDuration } = await import("../../config/duration.js");
        const olderThanMs =
          flags.olderThan === undefined ? undefined : parseDuration(flags.olderThan);
        if (flags.olderThan !== undefined && olderThanMs === undefined) {
          const { KsailError } = await import("../../errors.js");
          throw new KsailError(
            "usage",
            `--older-than must be a duration such as 24h or 30m, got "${flags.olderThan}"`,
          );
        }
        const { out, target, client } = await prepare(ctx, command, flags, false);
        const { pruneWorkload } = await import("../../workload/prune.js");
        const local = target.localRegistry;
        const gc = local
          ? async () =>
              (await import("../../registry/garbage-collect.js")).garbageCollectContainer(
                local.name,
                ctx.env,
              )
          : undefined;
        const result = await pruneWorkload(
          client,
          target.repository,
          {
            keep,
            ...(olderThanMs === undefined ? {} : { olderThanMs }),
            dryRun: flags.dryRun === true,
          },
          out,
          gc,
        );
        const { formatBytes } = await import("../../ui/output.js");
        out.result(result, () => {
          const verb = result.dryRun ? "would delete" : "deleted";
          const lines = result.deleted.map(
            (v) => `${verb} ${v.version} (${v.digest.slice(0, 19)})`,
          );
          lines.push(...result.kept.map((k) => `kept    ${k.version} (${k.reason})`));
          lines.push(`${result.deleted.length} version(s) ${verb}, ${formatBytes(result.bytes)}`);
          if (result.garbageCollection === "registry-managed") {
            lines.push(
              `${result.repository.split("/")[0]} is not ksail's local registry: its own garbage collection reclaims the space.`,
            );
          }
          return lines.join("\n");
        });
      },
    );

  registerWorkloadFlux(workload, ctx);
}

/** `ksail workload gen flux | reconcile | status`: the Flux side of the workload. */
export function registerWorkloadFlux(workload: Command, ctx: CliContext): void {
  const gen = workload.command("gen").description("generate objects for the workload");
  addSyncOptions(
    gen
      .command("flux")
      .description("print the OCIRepository and Kustomization that follow the artifact"),
  ).action(async (flags: SyncFlags, command: Command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const { loadConfig } = await import("../../config/load.js");
    const { syncSpecFromConfig, fluxSyncYaml } = await import("../../flux/resources.js");
    const { config } = await loadConfig({
      ...(globals.config === undefined ? {} : { configPath: globals.config }),
      cwd: ctx.cwd,
      env: ctx.env,
    });
    ctx.stdout.write(fluxSyncYaml(syncSpecFromConfig(config, syncOverrides(flags))));
  });

  addKubeOptions(
    addTargetOptions(
      workload
        .command("reconcile")
        .description(
          "make Flux fetch and apply the workload now, wait, and report the result (FR-012, FR-013)",
        ),
      true,
    ),
  )
    .option("--push", "push the manifest directory first (as `workload push` does)")
    .option("--timeout <duration>", "how long to wait for Flux", "2m")
    .addOption(outputOption())
    .action(
      async (
        flags: TargetFlags & KubeFlags & { push?: boolean; timeout: string },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const out = createOutput(ctx, globals, flags.output);
        const timeoutMs = await parseTimeout(flags.timeout);
        const started = performance.now();
        let pushed: PushResult | undefined;
        if (flags.push) {
          const { target, client } = await prepare(ctx, command, flags, true);
          const { pushWorkload } = await import("../../workload/push.js");
          pushed = await pushWorkload(
            client,
            {
              repository: target.repository,
              sourceDir: target.sourceDir,
              validationCache: await openCache(ctx),
              exclusive: await repositoryLock(ctx, out),
            },
            out,
          );
        }
        const { loaded, kube } = await connectKube(ctx, globals, flags);
        const { reconcileWorkload } = await import("../../flux/reconcile.js");
        const result = await reconcileWorkload(
          kube,
          {
            name: loaded.config.metadata.name,
            namespace: loaded.config.spec.options.flux.namespace,
          },
          { timeoutMs },
          out,
        );
        const { formatElapsed } = await import("../../ui/output.js");
        const ms = performance.now() - started;
        out.result({ ...result, ms, ...(pushed ? { pushed } : {}) }, () =>
          [
            ...(pushed
              ? [
                  `pushed   ${pushed.repository}:${pushed.version}${pushed.unchanged ? " (unchanged)" : ""}`,
                ]
              : []),
            ...result.steps.map(
              (s) =>
                `${s.kind === "OCIRepository" ? "fetched " : "applied "} ${s.revision ?? "-"}  (${s.kind} ${s.namespace}/${s.name})`,
            ),
            `reconciled in ${formatElapsed(ms)}`,
          ].join("\n"),
        );
      },
    );

  addKubeOptions(
    workload.command("status").description("show the OCIRepository and Kustomization state"),
  )
    .addOption(outputOption())
    .action(async (flags: KubeFlags & { output?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(ctx, globals, flags.output);
      const { loaded, kube } = await connectKube(ctx, globals, flags);
      const { workloadStatus } = await import("../../flux/sync.js");
      const { formatTable } = await import("../../ui/output.js");
      const status = await workloadStatus(kube, {
        name: loaded.config.metadata.name,
        namespace: loaded.config.spec.options.flux.namespace,
      });
      out.result(status, () =>
        formatTable(
          ["KIND", "NAME", "READY", "REVISION", "MESSAGE"],
          status.map((s) => [
            s.kind,
            `${s.namespace}/${s.name}`,
            s.exists ? (s.suspended ? "Suspended" : s.ready) : "NotFound",
            s.revision ?? "-",
            s.message ?? "",
          ]),
        ),
      );
      if (status.some((s) => s.ready !== "True")) ctx.exitCode = 1;
    });
}

/** The on-disk validation cache under ksail's cache directory. */
async function openCache(ctx: CliContext) {
  const { openValidationCache, validationCachePath } = await import("../../validate/cache.js");
  const { cacheDirectory } = await import("../../util/cache-dir.js");
  return openValidationCache(validationCachePath(cacheDirectory(ctx.env)));
}

/** Pushes from this machine to one repository take turns (a lock file in the cache dir). */
async function repositoryLock(ctx: CliContext, out: Output) {
  const { withFileLock } = await import("../../util/file-lock.js");
  const { cacheDirectory } = await import("../../util/cache-dir.js");
  const { createHash } = await import("node:crypto");
  const { join } = await import("node:path");
  return <T>(repository: string, run: () => Promise<T>): Promise<T> => {
    const key = createHash("sha256").update(repository).digest("hex").slice(0, 24);
    return withFileLock(join(cacheDirectory(ctx.env), "locks", `${key}.lock`), run, {
      onWait: () => out.info(`Waiting for another push to ${repository} to finish…`),
    });
  };
}
