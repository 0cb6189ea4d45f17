/**
 * The real sops CLI (github.com/getsops/sops/v3, built from its Go module by lab/go-tools.sh into
 * ${KSAIL_LAB_CACHE:-~/.cache/ksail-lab}/bin/sops-<version>): the oracle of ksail's SOPS format
 * (src/secrets). Tests that need it fail, never skip, with the build command when it is missing.
 */
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const GO_TOOLS = fileURLToPath(new URL("./go-tools.sh", import.meta.url));
export const SOPS_BUILD_COMMAND = "nice bash lab/go-tools.sh sops";

/** Path of the cached sops binary, or an Error whose message is the build command. */
export function sopsBinary(): string {
  const result = spawnSync("bash", [GO_TOOLS, "--print-path", "sops"], { encoding: "utf8" });
  const path = result.stdout.trim();
  if (result.status !== 0 || !path)
    throw new Error(
      `the sops CLI is not built: run \`${SOPS_BUILD_COMMAND}\` (needs Go; cached outside the repo)\n${result.stderr}`,
    );
  return path;
}

export interface SopsRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs sops in `cwd` with only the given age key file (no $SOPS_AGE_KEY of the machine, no
 * version check over the network), for at most `timeoutMs`.
 */
export function runSops(
  binary: string,
  args: string[],
  options: { cwd: string; keyFile?: string; timeoutMs?: number },
): Promise<SopsRun> {
  return new Promise((resolve) => {
    execFile(
      binary,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: options.cwd,
          XDG_CONFIG_HOME: `${options.cwd}/.config`,
          SOPS_DISABLE_VERSION_CHECK: "1",
          ...(options.keyFile === undefined ? {} : { SOPS_AGE_KEY_FILE: options.keyFile }),
        },
      },
      (error, stdout, stderr) => {
        const code =
          error === null ? 0 : typeof error.code === "number" ? error.code : (error.code ?? 1);
        resolve({ code: code as number | null, stdout, stderr });
      },
    );
  });
}
