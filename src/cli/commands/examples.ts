/**
 * The `Examples:` blocks of the `workload` and `flux` commands, by command path (the other
 * command files declare theirs next to the command).
 */
import type { Command } from "commander";
import { examples } from "../options.js";

type Examples = [invocation: string, comment: string][];

export const WORKLOAD_EXAMPLES: Record<string, Examples> = {
  workload: [
    ["ksail workload push", "validate spec.sourceDirectory and push it as the next version"],
    ["ksail workload reconcile --push", "push, then make Flux apply it now and wait"],
    ["ksail workload versions", "what is in the registry"],
  ],
  "workload push": [
    ["ksail workload push", "the next patch version (0.0.1, 0.0.2, …) of spec.sourceDirectory"],
    ["ksail workload push --bump minor", "the next minor version instead"],
    [
      "ksail workload push --version 1.0.0 --path ./deploy",
      "an exact version of another directory",
    ],
    [
      "ksail workload push --registry oci://ghcr.io/my-org/my-app",
      "to a remote repository (credentials from ~/.docker/config.json)",
    ],
  ],
  "workload versions": [
    ["ksail workload versions", "every version with digest, creation time, size and source"],
    ["ksail workload versions -o json | jq -r '.items[].version'", "just the version numbers"],
  ],
  "workload pull": [
    ["ksail workload pull --dest ./out", "extract the latest version into ./out"],
    ["ksail workload pull 0.0.3 --dest ./v3", "extract version 0.0.3"],
  ],
  "workload diff": [
    ["ksail workload diff", "directory vs the latest pushed version, file by file"],
    ["ksail workload diff 0.0.3", "directory vs version 0.0.3"],
    [
      "ksail workload diff --cluster",
      "directory vs the cluster, as flux diff kustomization shows it (► drifted, created, deleted)",
    ],
  ],
  "workload prune": [
    ["ksail workload prune --keep 5 --dry-run", "what would be deleted, deleting nothing"],
    ["ksail workload prune --keep 5", "delete all but the newest 5 versions and reclaim the space"],
    [
      "ksail workload prune --keep 3 --older-than 168h",
      "keep 3, and delete only versions older than a week",
    ],
  ],
  "workload gen": [["ksail workload gen flux", "the OCIRepository and Kustomization as YAML"]],
  "workload gen flux": [
    ["ksail workload gen flux", "the OCIRepository and Kustomization ksail applies, as YAML"],
    [
      "ksail workload gen flux --registry oci://ghcr.io/my-org/my-app --secret-ref ghcr-pull > flux-sync.yaml",
      "for a cluster that pulls from a remote registry",
    ],
  ],
  "workload reconcile": [
    ["ksail workload reconcile", "make Flux fetch and apply the latest version now, and wait"],
    ["ksail workload reconcile --push", "push the directory first"],
    ["ksail workload reconcile --timeout 5m -o json", "wait longer; the result as JSON"],
  ],
  "workload watch": [
    ["ksail workload watch", "push + reconcile every save of spec.sourceDirectory"],
    ["ksail workload watch --no-reconcile", "push only, no cluster needed"],
    ["ksail workload watch --prune-keep 10", "keep the registry to the newest 10 versions"],
    ["ksail workload watch -o json | jq -c .", "one JSON object per cycle on stdout"],
  ],
  "workload keygen": [
    [
      "COSIGN_PASSWORD=… ksail workload keygen",
      "cosign.key (encrypted with that password) and cosign.pub in this directory",
    ],
    ["ksail workload keygen --output-dir ~/.ksail/keys", "somewhere else"],
  ],
  "workload verify": [
    ["ksail workload verify --key cosign.pub", "is the latest version signed with this key?"],
    ["ksail workload verify 0.0.3 --key cosign.pub -o json", "version 0.0.3, as JSON"],
  ],
  "workload status": [
    ["ksail workload status", "Ready, revision and message of the OCIRepository and Kustomization"],
    ["ksail workload status -o json", 'as {"items": [...]} with "ready": true|false'],
  ],
};

export const FLUX_EXAMPLES: Record<string, Examples> = {
  flux: [
    ["ksail flux install", "install the pinned Flux release"],
    ["ksail flux sync", "make Flux follow the project's artifact"],
    ["ksail flux status", "the installed version and its controllers"],
  ],
  "flux install": [
    ["ksail flux install", "the pinned release (downloaded once, then cached)"],
    ["ksail flux install --flux-version v2.9.5", "a given Flux release"],
    ["ksail flux install --manifests ./flux-install.yaml", "offline, from a local copy"],
  ],
  "flux uninstall": [
    ["ksail flux uninstall", "remove the controllers; CRDs and Flux objects stay"],
    ["ksail flux uninstall --crds", "remove the CRDs too, and with them every Flux object"],
  ],
  "flux status": [
    ["ksail flux status", "the installed version and whether each controller is ready"],
    ["ksail flux status -o json", "the same as JSON"],
  ],
  "flux sync": [
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
};

/** Adds the blocks of `table` to the commands under `root` that it names by path. */
export function applyExamples(root: Command, table: Record<string, Examples>): void {
  const visit = (command: Command, path: string) => {
    const entries = table[path];
    if (entries) examples(command, entries);
    for (const sub of command.commands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  for (const command of root.commands) visit(command, command.name());
}
