/** `ksail init` and `ksail schema`. */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { CONFIG_SETTINGS } from "../../config/settings.js";
import { examples, outputOption, settingChoice, settingOption, type FlagsOf } from "../options.js";
import { leaf } from "../seam.js";

export const init = (program: CommandUnknownOpts) => {
  const s = CONFIG_SETTINGS;
  return examples(
    program
      .command("init")
      .description(
        "start a project: write ksail.yaml and the Kind or K3d cluster config, and make the manifest folder k8s/",
      )
      .addOption(
        settingOption(
          s.name,
          "project name; also the artifact repository name (default: directory name)",
        ),
      )
      .addOption(settingChoice(s.distribution, "Kubernetes distribution"))
      .addOption(
        settingOption(s.distributionConfig, "cluster config file (default: kind.yaml or k3d.yaml)"),
      )
      .addOption(settingChoice(s.gitopsEngine, "GitOps engine (default: Flux)"))
      .addOption(settingOption(s.sourceDirectory, "manifest directory (default: k8s)"))
      .addOption(settingChoice(s.localRegistry, "local OCI registry (default: Enabled with Flux)"))
      .addOption(
        settingOption(
          s.registryPort,
          "host port of the local registry on 127.0.0.1 (default: 5001)",
        ),
      )
      .addOption(settingOption(s.fluxInterval, "Flux reconcile interval (default: 1m)"))
      .addOption(
        settingOption(s.kubeconfig, "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)"),
      )
      .addOption(
        settingOption(s.context, "kubeconfig context (default: kind-<name> or k3d-<name>)"),
      )
      .option("-d, --directory <dir>", "project directory", ".")
      .option(
        "--force",
        "patch ksail's settings into an existing ksail.yaml and cluster config, keeping your other fields and comments (and the values ksail.yaml sets unless flags change them); lists every change; the manifest folder is never touched",
      )
      .addOption(outputOption()),
    [
      ["ksail init", "a Kind + Flux project with the local registry, named after this directory"],
      [
        "ksail init --name my-app --distribution k3d --registry-port 5002",
        "a K3d project called my-app whose registry listens on 127.0.0.1:5002",
      ],
      [
        "ksail init -d ./my-app --force",
        "patch ksail's wiring into the existing files again, keeping your values and comments",
      ],
    ],
  );
};
export type InitFlags = FlagsOf<typeof init>;

export const schema = (program: CommandUnknownOpts) =>
  examples(
    program
      .command("schema")
      .description(
        "write ksail.yaml's JSON Schema to .ksail/ksail.schema.json beside it and point its yaml-language-server line there (or print it with --stdout)",
      )
      .option("--stdout", "print the schema instead of writing it")
      .addOption(outputOption()),
    [
      ["ksail schema", "after an upgrade: the schema of this ksail version, for your editor"],
      ["ksail schema --stdout > ksail.schema.json", "the schema somewhere else"],
    ],
  );
export type SchemaFlags = FlagsOf<typeof schema>;

export function registerInit(program: CommandUnknownOpts, ctx: CliContext): void {
  leaf(init(program), ctx, () => import("../handlers/init.js"));
  leaf(schema(program), ctx, () => import("../handlers/schema.js"));
}
