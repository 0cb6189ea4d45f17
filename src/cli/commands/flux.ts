/** `ksail flux install | uninstall | status | sync`. */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { addKubeOptions, addSyncOptions, outputOption } from "../options.js";
import { lazy } from "../seam.js";

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

export function registerFlux(program: Command, ctx: CliContext): void {
  const flux = program
    .command("flux")
    .description("install Flux and connect it to the workload artifact");

  addKubeOptions(
    addManifestOptions(
      flux.command("install").description("install Flux into the cluster, or upgrade an older one"),
    ),
  )
    .option("--no-wait", "do not wait for the CRDs and controllers to be ready")
    .option("--timeout <duration>", "how long to wait for readiness", "5m")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/flux/install.js")));

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
    .action(lazy(ctx, () => import("../handlers/flux/uninstall.js")));

  addKubeOptions(
    flux.command("status").description("show the installed Flux version and its controllers"),
  )
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/flux/status.js")));

  addSyncOptions(
    addKubeOptions(
      flux.command("sync").description("apply the project's OCIRepository and Kustomization"),
    ),
  )
    .option(
      "--verify-key <path>",
      "make Flux verify cosign signatures with this public key (cosign.pub; default: spec.options.signing.publicKey)",
    )
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/flux/sync.js")));
}
