/**
 * The real cosign CLI (github.com/sigstore/cosign/v2 and /v3, built from their Go modules by
 * lab/go-tools.sh into ${KSAIL_LAB_CACHE:-~/.cache/ksail-lab}/bin/cosign-<version> and
 * cosign3-<version>): the peer that defines cosign's key and signature formats (v2: the legacy
 * .sig tag; v3: Sigstore bundles attached as OCI referrers). Tests that need it fail, never skip, with the
 * build command when it is missing.
 */
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const GO_TOOLS = fileURLToPath(new URL("./go-tools.sh", import.meta.url));
export const COSIGN_BUILD_COMMAND = "nice bash lab/go-tools.sh cosign";
export const COSIGN3_BUILD_COMMAND = "nice bash lab/go-tools.sh cosign3";

/** Path of the cached cosign v2 binary, or an Error whose message is the build command. */
export function cosignBinary(): string {
  return cachedTool("cosign", COSIGN_BUILD_COMMAND);
}

/** Path of the cached cosign v3 binary (bundles, referrers), or an Error with the build command. */
export function cosign3Binary(): string {
  return cachedTool("cosign3", COSIGN3_BUILD_COMMAND);
}

function cachedTool(name: string, buildCommand: string): string {
  const result = spawnSync("bash", [GO_TOOLS, "--print-path", name], { encoding: "utf8" });
  const path = result.stdout.trim();
  if (result.status !== 0 || !path) {
    throw new Error(
      `the ${name} CLI is not built: run \`${buildCommand}\` (needs Go; a big build, several minutes; cached outside the repo)\n${result.stderr}`,
    );
  }
  return path;
}

export interface CosignRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs cosign with a private HOME (no Sigstore TUF cache or docker config of the machine) and
 * the given password, for at most `timeoutMs`.
 */
export function runCosign(
  binary: string,
  args: string[],
  options: { home: string; cwd?: string; password?: string; timeoutMs?: number },
): Promise<CosignRun> {
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      {
        cwd: options.cwd ?? options.home,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 4 * 1024 * 1024,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: options.home,
          DOCKER_CONFIG: options.home,
          TUF_ROOT: `${options.home}/.sigstore`,
          ...(options.password === undefined ? {} : { COSIGN_PASSWORD: options.password }),
        },
      },
      (error, stdout, stderr) => {
        const code =
          error === null
            ? 0
            : typeof error.code === "number"
              ? error.code
              : error.signal
                ? null
                : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
