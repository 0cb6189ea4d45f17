/** `ksail flux install | uninstall | status | sync`, each declared once with its examples. */
import type { Command, CommandUnknownOpts, OptionValues } from "@commander-js/extra-typings";
import { CONFIG_SETTINGS } from "../../config/settings.js";
import type { CliContext } from "../context.js";
import {
  addKubeOptions,
  addNamespaceOption,
  addSyncOptions,
  examples,
  outputOption,
  settingOption,
  type FlagsOf,
  type None,
} from "../options.js";
import { leaf } from "../seam.js";

function addManifestOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .option(
      "--manifests <path|url>",
      "Flux install manifests (file, directory or URL) — for offline and air-gapped use",
    )
    .addOption(
      settingOption(
        CONFIG_SETTINGS.fluxVersion,
        "Flux release whose install manifests to use (default: spec.options.flux.version or the pinned release)",
      ),
    );
}

export type ManifestFlags = FlagsOf<typeof addManifestOptions<[], None, None>>;

export const install = (flux: CommandUnknownOpts) =>
  examples(
    addKubeOptions(
      addManifestOptions(
        flux
          .command("install")
          .description("install Flux into the cluster, or upgrade an older one"),
      ),
    )
      .option("--no-wait", "do not wait for the CRDs and controllers to be ready")
      .addOption(
        settingOption(
          CONFIG_SETTINGS.timeout,
          `how long to wait for readiness (default: $${CONFIG_SETTINGS.timeout.env}, else spec.connection.timeout, else ${CONFIG_SETTINGS.timeout.default})`,
        ),
      )
      .addOption(outputOption()),
    [
      ["ksail flux install", "the pinned release (downloaded once, then cached)"],
      ["ksail flux install --flux-version v2.9.5", "a given Flux release"],
      ["ksail flux install --manifests ./flux-install.yaml", "offline, from a local copy"],
    ],
  );
export type InstallFlags = FlagsOf<typeof install>;

export const uninstall = (flux: CommandUnknownOpts) =>
  examples(
    addKubeOptions(
      addManifestOptions(
        flux
          .command("uninstall")
          .description(
            "remove what `flux install` applied (CRDs and their objects only with --crds)",
          ),
      ),
    )
      .option(
        "--crds",
        "also delete the Flux CRDs — and with them every Flux object in the cluster",
      )
      .addOption(outputOption()),
    [
      ["ksail flux uninstall", "remove the controllers; CRDs and Flux objects stay"],
      ["ksail flux uninstall --crds", "remove the CRDs too, and with them every Flux object"],
    ],
  );
export type UninstallFlags = FlagsOf<typeof uninstall>;

export const status = (flux: CommandUnknownOpts) =>
  examples(
    addKubeOptions(
      flux.command("status").description("show the installed Flux version and its controllers"),
    ).addOption(outputOption()),
    [
      ["ksail flux status", "the installed version and whether each controller is ready"],
      ["ksail flux status -o json", "the same as JSON"],
    ],
  );
export type StatusFlags = FlagsOf<typeof status>;

export const sync = (flux: CommandUnknownOpts) =>
  examples(
    addSyncOptions(
      addNamespaceOption(
        addKubeOptions(
          flux.command("sync").description("apply the project's OCIRepository and Kustomization"),
        ),
      ),
    )
      .addOption(
        settingOption(
          CONFIG_SETTINGS.signingPublicKey,
          "make Flux verify cosign signatures with this public key (cosign.pub; default: spec.options.signing.publicKey)",
        ),
      )
      .addOption(outputOption()),
    [
      ["ksail flux sync", "the OCIRepository and Kustomization for the local registry"],
      [
        "ksail flux sync --semver '>=1.0.0' --target-namespace my-app",
        "follow 1.x and later, into my-app",
      ],
      [
        "ksail flux sync --registry oci://ghcr.io/my-org/my-app --secret-ref ghcr-pull",
        "follow a remote repository with a pull secret",
      ],
    ],
  );
export type SyncCommandFlags = FlagsOf<typeof sync>;

export function registerFlux(program: CommandUnknownOpts, ctx: CliContext): void {
  const flux = examples(
    program.command("flux").description("install Flux and connect it to the workload artifact"),
    [
      ["ksail flux install", "install the pinned Flux release"],
      ["ksail flux sync", "make Flux follow the project's artifact"],
      ["ksail flux status", "the installed version and its controllers"],
    ],
  );
  leaf(install(flux), ctx, () => import("../handlers/flux/install.js"));
  leaf(uninstall(flux), ctx, () => import("../handlers/flux/uninstall.js"));
  leaf(status(flux), ctx, () => import("../handlers/flux/status.js"));
  leaf(sync(flux), ctx, () => import("../handlers/flux/sync.js"));
}
