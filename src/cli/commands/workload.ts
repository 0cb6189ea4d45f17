/** `ksail workload push | versions | pull | diff | rollback | prune | gen flux | reconcile | watch | keygen | verify | status`. */
import { Option, type Command } from "commander";
import type { CliContext } from "../context.js";
import { addKubeOptions, addSyncOptions, addTargetOptions, outputOption } from "../options.js";
import { lazy } from "../seam.js";

export function registerWorkload(program: Command, ctx: CliContext): void {
  const workload = program
    .command("workload")
    .description("package, push and inspect your manifests as versioned OCI artifacts");

  addTargetOptions(
    workload
      .command("push")
      .description("validate the manifest directory and push it as a new version"),
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
      "--created <time>",
      "org.opencontainers.image.created (RFC 3339; default: the commit time of a clean git work tree, else now)",
    )
    .option(
      "--reproducible",
      "leave org.opencontainers.image.created out: the same directory always gives the same digest",
    )
    .option("--ignore <pattern...>", "extra .gitignore-style patterns to leave out")
    .option("--no-latest", "do not move the latest tag")
    .option(
      "--sign-key <path>",
      "sign the pushed version with this cosign private key (default: spec.options.signing.key; password from COSIGN_PASSWORD)",
    )
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/push.js")));

  addTargetOptions(
    workload.command("versions").description("list every pushed version with its metadata"),
    false,
  )
    .option(
      "--key <path>",
      "check each version's signature with this public key (cosign.pub); without it SIGNED says a signature exists",
    )
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/versions.js")));

  addTargetOptions(
    workload
      .command("pull")
      .argument("[version]", "version to pull (default: latest)")
      .description("download a version into an empty directory"),
    false,
  )
    .requiredOption("--dest <dir>", "directory to extract into (must be empty or absent)")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/pull.js")));

  addKubeOptions(
    addTargetOptions(
      workload
        .command("diff")
        .argument("[from]", "version or tag to compare from (default: latest)")
        .argument("[to]", "version or tag to compare to (default: the manifest directory)")
        .description(
          "compare two versions, a version and the manifest directory, or with --cluster the directory and the cluster, object by object (exit 1 when they differ)",
        ),
      true,
    ),
  )
    .option("--brief", "name the added, removed and changed objects only, no field diff")
    .option("--files", "compare file by file (unified diff of each changed file)")
    .option(
      "--cluster",
      "show what applying the directory would change in the cluster, object by object (server-side dry run as kustomize-controller)",
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      `
Objects are built as Flux builds them (kustomization resources, namespace, namePrefix/nameSuffix)
and compared field by field: key order, comments, file layout and moves are no change. Secret
values are masked. -o json|yaml: {"items":[{"kind","namespace","name","change","fields":[…]}]}.

Examples:
  ksail workload diff                  # latest → the manifest directory
  ksail workload diff 0.0.7 0.0.9      # what changed between two versions
  ksail workload diff 0.0.7 --brief    # names only
  ksail workload diff --files          # file by file, as a unified diff

Exit codes: 0 no differences, 1 differences, 2 --cluster cannot build this kustomization (patches,
generators, name prefixes… — use flux diff kustomization for those), 6 no such version.`,
    )
    .action(lazy(ctx, () => import("../handlers/workload/diff.js")));

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
      false,
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
While pinned, \`push\`, \`reconcile --push\` and \`watch\` warn that Flux will not apply new versions,
\`status\` says "pinned to 0.0.7 (latest is 0.0.9)" and \`prune\` keeps the pinned version.

Exit codes: 0 applied and the inventory holds exactly the version's objects, 1 Flux failed or the
inventory differs (missing/unexpected objects named), 6 no such version (the nearest are listed),
10 timed out.`,
    )
    .action(lazy(ctx, () => import("../handlers/workload/rollback.js")));

  addTargetOptions(
    workload.command("prune").description("delete old versions and reclaim registry space"),
    false,
  )
    .requiredOption("--keep <n>", "number of newest versions to keep (≥ 1)")
    .option(
      "--older-than <duration>",
      "only delete versions created longer ago than this, e.g. 168h",
    )
    .option("--dry-run", "show what would be deleted, delete nothing")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/prune.js")));

  const gen = workload.command("gen").description("generate objects for the workload");
  addSyncOptions(
    gen
      .command("flux")
      .description("print the OCIRepository and Kustomization that follow the artifact"),
  )
    .option(
      "--verify-key <path>",
      "add spec.verify and the Secret with this cosign public key (default: spec.options.signing.publicKey)",
    )
    .action(lazy(ctx, () => import("../handlers/workload/gen-flux.js")));

  addKubeOptions(
    addTargetOptions(
      workload
        .command("reconcile")
        .description("make Flux fetch and apply the workload now, wait, and report the result"),
      true,
    ),
  )
    .option("--push", "push the manifest directory first (as `workload push` does)")
    .option(
      "--sign-key <path>",
      "with --push: sign the pushed version with this cosign private key (default: spec.options.signing.key)",
    )
    .option("--timeout <duration>", "how long to wait for Flux", "2m")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/reconcile.js")));

  addKubeOptions(
    addTargetOptions(
      workload
        .command("watch")
        .description(
          "on every save: validate, push the next version and make Flux apply it, until Ctrl-C",
        ),
      true,
    ),
  )
    .option("--ignore <pattern...>", "extra .gitignore-style patterns to leave out")
    .option("--debounce <duration>", "wait this long after the last change of a burst", "75ms")
    .option("--no-reconcile", "only push; no cluster needed")
    .option("--timeout <duration>", "how long each cycle waits for Flux", "2m")
    .option("--prune-keep <n>", "after each push, delete all but the newest N versions")
    .option(
      "--sign-key <path>",
      "sign every pushed version with this cosign private key (default: spec.options.signing.key)",
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      `
Each cycle prints one line on stderr: the changed files, the version and the timings (validate,
push, fetch, apply, total from save). An invalid save pushes nothing; Flux's failures and an
unreachable registry or cluster are reported and the loop goes on. Ctrl-C exits 0.`,
    )
    .action(lazy(ctx, () => import("../handlers/workload/watch.js")));

  workload
    .command("keygen")
    .description(
      "write a cosign key pair (cosign.key encrypted with COSIGN_PASSWORD, cosign.pub) for signing versions",
    )
    .option("--output-dir <dir>", "directory for cosign.key and cosign.pub", ".")
    .option("--force", "replace existing cosign.key and cosign.pub")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/keygen.js")));

  addTargetOptions(
    workload
      .command("verify")
      .argument("[version]", "version, tag or digest to verify (default: latest)")
      .description(
        "check a pushed version's cosign signature with a public key (exit 1 when unsigned or it does not verify)",
      ),
    false,
  )
    .option("--key <path>", "public key (cosign.pub; default: spec.options.signing.publicKey)")
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/verify.js")));

  addKubeOptions(
    workload.command("status").description("show the OCIRepository and Kustomization state"),
  )
    .addOption(outputOption())
    .action(lazy(ctx, () => import("../handlers/workload/status.js")));
}
