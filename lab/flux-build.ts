/**
 * Flux's build as the oracle of validation: `flux build kustomization --dry-run` runs kustomize
 * exactly as kustomize-controller does (including the generated kustomization.yaml of a
 * directory without one). The Flux CLI is v2.9.5 built from Go modules by lab/go-tools.sh.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

export const FLUX_BUILD_COMMAND = "bash lab/go-tools.sh flux";

/** The cached Flux CLI; throws with the command that builds it when it is missing. */
export function fluxBinary(): string {
  const cache = process.env.KSAIL_LAB_CACHE ?? join(homedir(), ".cache", "ksail-lab");
  const path = join(cache, "bin", "flux");
  if (!existsSync(path))
    throw new Error(`the Flux CLI is missing (${path}): build it with \`${FLUX_BUILD_COMMAND}\``);
  return path;
}

export interface FluxBuild {
  ok: boolean;
  output: string;
}

/**
 * Builds `dir` (the artifact's contents) as the root of a Flux Kustomization. `workDir` receives
 * the Kustomization file. Bounded in time; never give it an alias bomb (it exhausts memory).
 */
export async function fluxBuild(flux: string, dir: string, workDir: string): Promise<FluxBuild> {
  const ksFile = join(workDir, "flux-kustomization.yaml");
  await writeFile(
    ksFile,
    [
      "apiVersion: kustomize.toolkit.fluxcd.io/v1",
      "kind: Kustomization",
      "metadata:",
      "  name: corpus",
      "  namespace: flux-system",
      "spec:",
      "  interval: 10m",
      "  path: ./",
      "  prune: true",
      "  sourceRef:",
      "    kind: OCIRepository",
      "    name: corpus",
      "",
    ].join("\n"),
  );
  const args = [
    "build",
    "kustomization",
    "corpus",
    "--path",
    dir,
    "--kustomization-file",
    ksFile,
    "--dry-run",
  ];
  return new Promise((resolve) => {
    execFile(
      flux,
      args,
      {
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
        // No cluster: a dry run must not need one.
        env: {
          PATH: process.env.PATH ?? "",
          HOME: workDir,
          KUBECONFIG: join(workDir, "no-kubeconfig"),
        },
      },
      (error, stdout, stderr) => {
        resolve({
          ok: error === null,
          output: error === null ? stdout : `${stderr}${error.killed ? " (timed out)" : ""}`,
        });
      },
    );
  });
}
