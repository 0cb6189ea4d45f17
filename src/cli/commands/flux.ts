/** `ksail flux install | uninstall | status | sync`. */
import { Option, type Command } from "commander";
import { createOutput, type CliContext, type GlobalOptions } from "../context.js";
import { addKubeOptions, connectKube, parseTimeout, type KubeFlags } from "../kube.js";
import type { FluxSyncOverrides } from "../../flux/resources.js";

interface ManifestFlags extends KubeFlags {
  manifests?: string;
  fluxVersion?: string;
  output?: string;
}

const outputOption = () =>
  new Option("-o, --output <format>", "output format").choices(["human", "json"]).default("human");

function addManifestOptions(command: Command): Command {
  return command
    .option(
      "--manifests <path|url>",
      "Flux install manifests (file, directory or URL) — for offline and air-gapped use",
    )
    .option(
      "--flux-version <version>",
      "Flux release whose install manifests to use (default: spec.options.flux.version or the pinned release)",
    );
}

async function manifestsFor(ctx: CliContext, flags: ManifestFlags, configured: string | undefined) {
  const { loadInstallManifests, cacheDirectory } = await import("../../flux/install.js");
  const version = flags.fluxVersion ?? configured;
  return loadInstallManifests({
    ...(flags.manifests === undefined ? {} : { source: flags.manifests }),
    ...(version === undefined ? {} : { version }),
    cacheDir: cacheDirectory(ctx.env),
  });
}

export function registerFlux(program: Command, ctx: CliContext): void {
  const flux = program
    .command("flux")
    .description("install Flux and connect it to the workload artifact");

  addKubeOptions(
    addManifestOptions(
      flux
        .command("install")
        .description("install Flux into the cluster, or upgrade an older one (FR-002, FR-016)"),
    ),
  )
    .option("--no-wait", "do not wait for the CRDs and controllers to be ready")
    .option("--timeout <duration>", "how long to wait for readiness", "5m")
    .addOption(outputOption())
    .action(async (flags: ManifestFlags & { wait: boolean; timeout: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(ctx, globals, flags.output);
      const timeoutMs = await parseTimeout(flags.timeout);
      const { loaded, kube } = await connectKube(ctx, globals, flags);
      const manifests = await out.step(
        "Load Flux manifests",
        () => manifestsFor(ctx, flags, loaded.config.spec.options.flux.version),
        (m) => `Loaded Flux ${m.version} manifests (${m.objects.length} objects) from ${m.origin}`,
      );
      const { installFlux } = await import("../../flux/install.js");
      const result = await installFlux(kube, manifests, { wait: flags.wait, timeoutMs }, out);
      out.result(result, () => {
        switch (result.action) {
          case "kept-newer":
            return `Flux ${result.previousVersion} is newer than ${result.version}: left as it is`;
          case "unchanged":
            return `Flux ${result.version} already installed`;
          case "upgraded":
            return `Flux upgraded from ${result.previousVersion} to ${result.version}`;
          default:
            return `Flux ${result.version} installed`;
        }
      });
    });

  addKubeOptions(
    addManifestOptions(
      flux
        .command("uninstall")
        .description(
          "remove what `flux install` applied (CRDs and their objects only with --crds)",
        ),
    ),
  )
    .option("--crds", "also delete the Flux CRDs — and with them every Flux object in the cluster")
    .addOption(outputOption())
    .action(async (flags: ManifestFlags & { crds?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(ctx, globals, flags.output);
      const { loaded, kube } = await connectKube(ctx, globals, flags);
      const manifests = await manifestsFor(ctx, flags, loaded.config.spec.options.flux.version);
      const { uninstallFlux } = await import("../../flux/install.js");
      const result = await uninstallFlux(kube, manifests, { crds: flags.crds === true }, out);
      out.result(
        result,
        () =>
          `Deleted ${result.deleted} objects${result.keptCrds ? `; kept ${result.keptCrds} CRDs (pass --crds to delete them)` : ""}`,
      );
    });

  addKubeOptions(
    flux.command("status").description("show the installed Flux version and its controllers"),
  )
    .addOption(outputOption())
    .action(async (flags: KubeFlags & { output?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(ctx, globals, flags.output);
      const { loaded, kube } = await connectKube(ctx, globals, flags);
      const { fluxStatus } = await import("../../flux/install.js");
      const { formatTable } = await import("../../ui/output.js");
      const status = await fluxStatus(kube, loaded.config.spec.options.flux.namespace);
      out.result(status, () =>
        !status.installed
          ? "Flux is not installed (run `ksail flux install`)"
          : [
              `Flux ${status.version ?? "(version not labelled)"}`,
              formatTable(
                ["CONTROLLER", "READY", "IMAGE"],
                status.controllers.map((c) => [c.name, String(c.ready), c.image]),
              ),
            ].join("\n"),
      );
      if (!status.installed || status.controllers.some((c) => !c.ready)) ctx.exitCode = 1;
    });

  addSyncOptions(
    addKubeOptions(
      flux
        .command("sync")
        .description("apply the project's OCIRepository and Kustomization (FR-008, FR-009)"),
    ),
  )
    .addOption(outputOption())
    .action(async (flags: KubeFlags & SyncFlags & { output?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(ctx, globals, flags.output);
      const { loaded, kube } = await connectKube(ctx, globals, flags);
      const { syncSpecFromConfig } = await import("../../flux/resources.js");
      const spec = syncSpecFromConfig(loaded.config, syncOverrides(flags));
      const { applyFluxSync } = await import("../../flux/sync.js");
      await applyFluxSync(kube, spec, out);
      out.result(
        spec,
        () => `OCIRepository and Kustomization ${spec.namespace}/${spec.name} follow ${spec.url}`,
      );
    });
}

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
