/**
 * `ksail workload build | push | versions | pull | diff | rollback | prune | gen flux | reconcile | watch | keygen |
 * verify | status`. Each leaf is declared once — flags, help and examples — and its handler takes
 * the declaration's type (`…Flags = FlagsOf<typeof …>`).
 */
import { Option, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { CONFIG_SETTINGS } from "../../config/settings.js";
import type { CliContext } from "../context.js";
import {
  addKubeOptions,
  addNamespaceOption,
  addPathOption,
  addSyncOptions,
  addTargetOptions,
  examples,
  outputOption,
  settingChoice,
  wideOutputOption,
  settingOption,
  type FlagsOf,
} from "../options.js";
import { leaf } from "../seam.js";

/** --signature-format for the commands that sign (push, reconcile --push, watch). */
const signatureFormatOption = () =>
  settingChoice(
    CONFIG_SETTINGS.signatureFormat,
    "with a signing key: bundle (cosign v3's Sigstore bundle as an OCI referrer; what Flux 2.9 verifies) or legacy (cosign v2's .sig tag) (default: spec.options.signing.format, else bundle)",
  );

export const push = (workload: CommandUnknownOpts, name = "workload push") =>
  examples(
    addPathOption(
      addTargetOptions(
        workload
          .command("push")
          .description("validate the manifest directory and push it as a new version"),
      ),
    )
      .option("--version <semver>", "exact version to push (versions are immutable)")
      .addOption(
        new Option("--bump <part>", "which part of the highest version to increase").choices([
          "patch",
          "minor",
          "major",
        ] as const),
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
        "--created <time>",
        "org.opencontainers.image.created (RFC 3339; default: the commit time of a clean git work tree, else now)",
      )
      .option(
        "--reproducible",
        "leave org.opencontainers.image.created out: the same directory always gives the same digest",
      )
      .option("--ignore <pattern...>", "extra .gitignore-style patterns to leave out")
      .option("--no-latest", "do not move the latest tag")
      .addOption(
        settingOption(
          CONFIG_SETTINGS.signingKey,
          "sign the pushed version with this cosign private key (default: spec.options.signing.key; password from COSIGN_PASSWORD)",
        ),
      )
      .addOption(signatureFormatOption())
      .addOption(
        new Option(
          CONFIG_SETTINGS.allowPlaintextSecrets.flag,
          "push Secrets that are not SOPS-encrypted and files holding private keys anyway, with a warning (default: spec.options.secrets.allowPlaintext)",
        ),
      )
      .addOption(outputOption()),
    [
      [`ksail ${name}`, "the next patch version (0.0.1, 0.0.2, …) of spec.sourceDirectory"],
      [`ksail ${name} --bump minor`, "the next minor version instead"],
      [`ksail ${name} --version 1.0.0 --path ./deploy`, "an exact version of another directory"],
      [
        `ksail ${name} --registry oci://ghcr.io/my-org/my-app`,
        "to a remote repository (credentials from ~/.docker/config.json)",
      ],
    ],
  );
export type PushFlags = FlagsOf<typeof push>;

export const build = (workload: CommandUnknownOpts) =>
  examples(
    addTargetOptions(
      workload
        .command("build")
        .argument("[name...]", "images of spec.images to build (default: all)")
        .description(
          "build the project's images (spec.images) and push them as <registry>/<name>:<content hash>",
        ),
    )
      .addOption(outputOption())
      .addHelpText(
        "after",
        `
Each image is built by Docker or Podman (DOCKER_HOST, else the default sockets) from its context
after .dockerignore, and pushed by the engine to the artifact's registry. A tag the registry
already holds is not built again. push, reconcile --push and watch build first and pin the
digests in the version. Exit codes: 1 the build failed (its last lines are shown; nothing
pushed), 6 no Docker or Podman, 8 no spec.images.`,
      ),
    [
      ["ksail workload build", "build and push every image of spec.images that changed"],
      ["ksail workload build web -q", "only web, without the build output"],
      ["ksail workload build -o json | jq -r '.items[].image'", "the pinned references"],
    ],
  );
export type BuildFlags = FlagsOf<typeof build>;

export const versions = (workload: CommandUnknownOpts) =>
  examples(
    addTargetOptions(
      workload.command("versions").description("list every pushed version with its metadata"),
    )
      .option(
        "--key <path>",
        "check each version's signature with this public key (cosign.pub); without it SIGNED says a signature exists",
      )
      .addOption(wideOutputOption()),
    [
      ["ksail workload versions", "every version with its digest, age, size and signature"],
      ["ksail workload versions -o wide", "with creation time, source and revision too"],
      ["ksail workload versions -o json | jq -r '.items[].version'", "just the version numbers"],
    ],
  );
export type VersionsFlags = FlagsOf<typeof versions>;

export const pull = (workload: CommandUnknownOpts) =>
  examples(
    addTargetOptions(
      workload
        .command("pull")
        .argument("[version]", "version to pull (default: latest)")
        .description("download a version into an empty directory"),
    )
      .requiredOption("--dest <dir>", "directory to extract into (must be empty or absent)")
      .addOption(outputOption()),
    [
      ["ksail workload pull --dest ./out", "extract the latest version into ./out"],
      ["ksail workload pull 0.0.3 --dest ./v3", "extract version 0.0.3"],
    ],
  );
export type PullFlags = FlagsOf<typeof pull>;

export const diff = (workload: CommandUnknownOpts, name = "workload diff") =>
  examples(
    addNamespaceOption(
      addKubeOptions(
        addPathOption(
          addTargetOptions(
            workload
              .command("diff")
              .argument("[from]", "version or tag to compare from (default: latest)")
              .argument("[to]", "version or tag to compare to (default: the manifest directory)")
              .description(
                "compare two versions, a version and the manifest directory, or with --cluster the directory and the cluster, object by object (exit 1 when they differ)",
              ),
          ),
        ),
      ),
    )
      .option("--brief", "name the added, removed and changed objects only, no field diff")
      .option("--files", "compare file by file (a unified diff of each changed file)")
      .option(
        "--cluster",
        "show what applying the directory would change in the cluster, object by object (server-side dry run as kustomize-controller)",
      )
      .addOption(outputOption())
      .addHelpText(
        "after",
        `
Objects are built as Flux builds them (kustomization resources, namespace, namePrefix/nameSuffix)
and compared field by field: key order, comments, file layout and moves are no change; Secret
values are masked. -o json|yaml: {"items":[{"kind","namespace","name","change","fields":[…]}]}.

Exit codes: 0 no differences, 1 differences, 2 cannot build this kustomization (patches,
generators… — use --files, or flux diff kustomization for --cluster), 6 no such version.`,
      ),
    [
      [`ksail ${name}`, "the latest version → the directory, object by object"],
      [`ksail ${name} 0.0.7 0.0.9`, "what changed between two versions"],
      [`ksail ${name} 0.0.7 --brief`, "version 0.0.7 → the directory, names only"],
      [`ksail ${name} --files`, "the latest version → the directory, file by file"],
      [
        `ksail ${name} --cluster`,
        "directory vs the cluster, as flux diff kustomization shows it (► drifted, created, deleted)",
      ],
    ],
  );
export type DiffFlags = FlagsOf<typeof diff>;

export const rollback = (workload: CommandUnknownOpts) =>
  examples(
    addNamespaceOption(
      addKubeOptions(
        addTargetOptions(
          workload
            .command("rollback")
            .argument(
              "[version]",
              "version to apply (default: the version before the one the cluster runs)",
            )
            .description(
              "pin the cluster to one pushed version now (by digest), reconcile and check what is applied; --resume follows the newest again",
            ),
        ),
      ),
    )
      .option("--resume", "unpin: follow the newest version again, reconcile and check")
      .option(
        "--key <path>",
        "verify the version's cosign signature with this public key first (default: spec.options.signing.publicKey)",
      )
      .option("--timeout <duration>", "how long to wait for Flux", "2m")
      .addOption(outputOption())
      .addHelpText(
        "after",
        `
While pinned, push, reconcile --push and watch warn that Flux will not apply new versions, status
says "pinned to 0.0.7 (latest is 0.0.9)" and prune keeps the pinned version.

Exit codes: 0 applied, and the inventory holds exactly the version's objects; 1 Flux failed or the
inventory differs (missing and unexpected objects named); 6 no such version (the nearest are
listed); 10 timed out.`,
      ),
    [
      ["ksail workload rollback", "back to the version before the one the cluster runs"],
      ["ksail workload rollback 0.0.7", "apply exactly 0.0.7 now, and stay there"],
      ["ksail workload rollback --resume", "follow the newest version again"],
    ],
  );
export type RollbackFlags = FlagsOf<typeof rollback>;

export const prune = (workload: CommandUnknownOpts) =>
  examples(
    addTargetOptions(
      workload.command("prune").description("delete old versions and reclaim registry space"),
    )
      .requiredOption("--keep <n>", "number of newest versions to keep (≥ 1)")
      .option(
        "--older-than <duration>",
        "only delete versions created longer ago than this, e.g. 168h",
      )
      .option("--dry-run", "show what would be deleted, delete nothing")
      .addOption(outputOption()),
    [
      ["ksail workload prune --keep 5 --dry-run", "what would be deleted, deleting nothing"],
      [
        "ksail workload prune --keep 5",
        "delete all but the newest 5 versions and reclaim the space",
      ],
      [
        "ksail workload prune --keep 3 --older-than 168h",
        "keep 3, and delete only versions older than a week",
      ],
    ],
  );
export type PruneFlags = FlagsOf<typeof prune>;

export const genFlux = (gen: CommandUnknownOpts) =>
  examples(
    addNamespaceOption(
      addSyncOptions(
        gen
          .command("flux")
          .description("print the OCIRepository and Kustomization that follow the artifact"),
      ),
    ).addOption(
      settingOption(
        CONFIG_SETTINGS.signingPublicKey,
        "add spec.verify and the Secret with this cosign public key (default: spec.options.signing.publicKey)",
      ),
    ),
    [
      ["ksail workload gen flux", "the OCIRepository and Kustomization ksail applies, as YAML"],
      [
        "ksail workload gen flux --registry oci://ghcr.io/my-org/my-app --secret-ref ghcr-pull > flux-sync.yaml",
        "for a cluster that pulls from a remote registry",
      ],
    ],
  );
export type GenFluxFlags = FlagsOf<typeof genFlux>;

export const reconcile = (workload: CommandUnknownOpts, name = "workload reconcile") =>
  examples(
    addNamespaceOption(
      addKubeOptions(
        addPathOption(
          addTargetOptions(
            workload
              .command("reconcile")
              .description(
                "make Flux fetch and apply the workload now, wait, and report the result",
              ),
          ),
        ),
      ),
    )
      .option("--push", "push the manifest directory first (as `workload push` does)")
      .addOption(
        settingOption(
          CONFIG_SETTINGS.signingKey,
          "with --push: sign the pushed version with this cosign private key (default: spec.options.signing.key)",
        ),
      )
      .addOption(signatureFormatOption())
      .addOption(
        new Option(
          CONFIG_SETTINGS.allowPlaintextSecrets.flag,
          "with --push: push Secrets that are not SOPS-encrypted and private keys anyway, with a warning",
        ),
      )
      .option("--timeout <duration>", "how long to wait for Flux", "2m")
      .addOption(outputOption()),
    [
      [`ksail ${name}`, "make Flux fetch and apply the latest version now, and wait"],
      [`ksail ${name} --push`, "push the directory first"],
      [`ksail ${name} --timeout 5m -o json`, "wait longer; the result as JSON"],
    ],
  );
export type ReconcileFlags = FlagsOf<typeof reconcile>;

export const watch = (workload: CommandUnknownOpts, name = "workload watch") =>
  examples(
    addNamespaceOption(
      addKubeOptions(
        addPathOption(
          addTargetOptions(
            workload
              .command("watch")
              .description(
                "on every save: validate, push the next version and make Flux apply it, until Ctrl-C",
              ),
          ),
        ),
      ),
    )
      .option("--ignore <pattern...>", "extra .gitignore-style patterns to leave out")
      .option("--debounce <duration>", "wait this long after the last change of a burst", "75ms")
      .option("--no-reconcile", "only push; no cluster needed")
      .option("--timeout <duration>", "how long each cycle waits for Flux", "2m")
      .option("--prune-keep <n>", "after each push, delete all but the newest N versions")
      .addOption(
        settingOption(
          CONFIG_SETTINGS.signingKey,
          "sign every pushed version with this cosign private key (default: spec.options.signing.key)",
        ),
      )
      .addOption(
        new Option(
          CONFIG_SETTINGS.allowPlaintextSecrets.flag,
          "push Secrets that are not SOPS-encrypted and private keys anyway, with a warning (default: spec.options.secrets.allowPlaintext)",
        ),
      )
      .addOption(signatureFormatOption())
      .addOption(outputOption())
      .addHelpText(
        "after",
        `
Each cycle prints one line on stderr: the changed files, the version and the timings (validate,
push, fetch, apply, total from save). An invalid save pushes nothing; Flux's failures and an
unreachable registry or cluster are reported and the loop goes on. Ctrl-C exits 0.`,
      ),
    [
      [`ksail ${name}`, "push + reconcile every save of spec.sourceDirectory"],
      [`ksail ${name} --no-reconcile`, "push only, no cluster needed"],
      [`ksail ${name} --prune-keep 10`, "keep the registry to the newest 10 versions"],
      [`ksail ${name} -o json | jq -c .`, "one JSON object per cycle on stdout"],
    ],
  );
export type WatchFlags = FlagsOf<typeof watch>;

export const keygen = (workload: CommandUnknownOpts) =>
  examples(
    workload
      .command("keygen")
      .description(
        "write a cosign key pair (cosign.key encrypted with COSIGN_PASSWORD, cosign.pub) for signing versions",
      )
      .option("--output-dir <dir>", "directory for cosign.key and cosign.pub", ".")
      .option("--force", "replace existing cosign.key and cosign.pub")
      .addOption(outputOption()),
    [
      [
        "COSIGN_PASSWORD=… ksail workload keygen",
        "cosign.key (encrypted with that password) and cosign.pub in this directory",
      ],
      ["ksail workload keygen --output-dir ~/.ksail/keys", "somewhere else"],
    ],
  );
export type KeygenFlags = FlagsOf<typeof keygen>;

export const verify = (workload: CommandUnknownOpts) =>
  examples(
    addTargetOptions(
      workload
        .command("verify")
        .argument("[version]", "version, tag or digest to verify (default: latest)")
        .description(
          "check a pushed version's cosign signature, and those of the images it pins (spec.images), with a public key (exit 1 when one is unsigned or does not verify)",
        ),
    )
      .option("--key <path>", "public key (cosign.pub; default: spec.options.signing.publicKey)")
      .addOption(outputOption()),
    [
      ["ksail workload verify --key cosign.pub", "is the latest version signed with this key?"],
      ["ksail workload verify 0.0.3 --key cosign.pub -o json", "version 0.0.3, as JSON"],
    ],
  );
export type VerifyFlags = FlagsOf<typeof verify>;

export const status = (workload: CommandUnknownOpts, name = "workload status") =>
  examples(
    addNamespaceOption(
      addKubeOptions(
        workload.command("status").description("show the OCIRepository and Kustomization state"),
      ),
    ).addOption(wideOutputOption()),
    [
      [`ksail ${name}`, "Ready, revision and message of the OCIRepository and Kustomization"],
      [`ksail ${name} -o wide`, "with the Ready reason, the interval and what each follows"],
      [`ksail ${name} -o json`, 'as {"items": [...]} with "ready": true|false'],
    ],
  );
export type StatusFlags = FlagsOf<typeof status>;

const SECRET_FILES = "SOPS YAML files (the creation rule of .sops.yaml decides the recipients)";

export const secretsKeygen = (secrets: CommandUnknownOpts) =>
  examples(
    secrets
      .command("keygen")
      .description(
        "add an age key where sops looks for it ($SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt) and a .sops.yaml for the source directory; prints the public key only",
      )
      .addOption(outputOption()),
    [
      [
        "ksail workload secrets keygen",
        "age1… and .sops.yaml (unless one exists: the rule to add)",
      ],
    ],
  );
export type SecretsKeygenFlags = FlagsOf<typeof secretsKeygen>;

export const secretsEncrypt = (secrets: CommandUnknownOpts) =>
  examples(
    secrets
      .command("encrypt")
      .argument("<files...>", SECRET_FILES)
      .description("encrypt files in place with SOPS (age), as `sops -e -i` does")
      .addOption(outputOption()),
    [["ksail workload secrets encrypt k8s/db-secret.yaml", "data and stringData become ENC[…]"]],
  );
export type SecretsEncryptFlags = FlagsOf<typeof secretsEncrypt>;

export const secretsDecrypt = (secrets: CommandUnknownOpts) =>
  examples(
    secrets
      .command("decrypt")
      .argument("<file>", "a SOPS YAML file")
      .description("print the decrypted file (MAC checked), as `sops -d` does"),
    [["ksail workload secrets decrypt k8s/db-secret.yaml | less", "read it"]],
  );
export type SecretsDecryptFlags = FlagsOf<typeof secretsDecrypt>;

export const secretsEdit = (secrets: CommandUnknownOpts) =>
  examples(
    secrets
      .command("edit")
      .argument("<file>", "a SOPS YAML file")
      .description(
        "open the decrypted file in $SOPS_EDITOR or $EDITOR and encrypt it again on save (nothing written when the editor fails or the YAML is invalid)",
      ),
    [["EDITOR=nano ksail workload secrets edit k8s/db-secret.yaml", "change a value"]],
  );
export type SecretsEditFlags = FlagsOf<typeof secretsEdit>;

export const secretsRotate = (secrets: CommandUnknownOpts) =>
  examples(
    secrets
      .command("rotate")
      .argument("<files...>", SECRET_FILES)
      .description(
        "encrypt files again with a new data key for the recipients .sops.yaml names now (add or retire keys)",
      )
      .addOption(outputOption()),
    [["ksail workload secrets rotate k8s/*.yaml", "after changing the age recipients"]],
  );
export type SecretsRotateFlags = FlagsOf<typeof secretsRotate>;

export function registerWorkload(program: CommandUnknownOpts, ctx: CliContext): void {
  const workload = examples(
    program
      .command("workload")
      .description("package, push and inspect your manifests as versioned OCI artifacts"),
    [
      ["ksail workload push", "validate spec.sourceDirectory and push it as the next version"],
      ["ksail workload reconcile --push", "push, then make Flux apply it now and wait"],
      ["ksail workload versions", "what is in the registry"],
    ],
  );
  leaf(build(workload), ctx, () => import("../handlers/workload/build.js"));
  leaf(push(workload), ctx, () => import("../handlers/workload/push.js"));
  leaf(versions(workload), ctx, () => import("../handlers/workload/versions.js"));
  leaf(pull(workload), ctx, () => import("../handlers/workload/pull.js"));
  leaf(diff(workload), ctx, () => import("../handlers/workload/diff.js"));
  leaf(rollback(workload), ctx, () => import("../handlers/workload/rollback.js"));
  leaf(prune(workload), ctx, () => import("../handlers/workload/prune.js"));
  const gen = examples(workload.command("gen").description("generate objects for the workload"), [
    ["ksail workload gen flux", "the OCIRepository and Kustomization as YAML"],
  ]);
  leaf(genFlux(gen), ctx, () => import("../handlers/workload/gen-flux.js"));
  leaf(reconcile(workload), ctx, () => import("../handlers/workload/reconcile.js"));
  leaf(watch(workload), ctx, () => import("../handlers/workload/watch.js"));
  leaf(keygen(workload), ctx, () => import("../handlers/workload/keygen.js"));
  leaf(verify(workload), ctx, () => import("../handlers/workload/verify.js"));
  leaf(status(workload), ctx, () => import("../handlers/workload/status.js"));
  const secrets = examples(
    workload
      .command("secrets")
      .description("SOPS-encrypted Secrets that Flux decrypts: age keys, encrypt, decrypt, edit"),
    [
      ["ksail workload secrets keygen", "once per machine and project"],
      ["ksail workload secrets encrypt k8s/db-secret.yaml", "before the first push"],
    ],
  );
  const handler = () => import("../handlers/workload/secrets.js");
  leaf(secretsKeygen(secrets), ctx, async () => ({ run: (await handler()).keygen }));
  leaf(secretsEncrypt(secrets), ctx, async () => ({ run: (await handler()).encrypt }));
  leaf(secretsDecrypt(secrets), ctx, async () => ({ run: (await handler()).decrypt }));
  leaf(secretsEdit(secrets), ctx, async () => ({ run: (await handler()).edit }));
  leaf(secretsRotate(secrets), ctx, async () => ({ run: (await handler()).rotate }));
}
