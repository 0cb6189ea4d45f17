/**
 * The real `kind` CLI (sigs.k8s.io/kind v0.30.0, built from Go modules by lab/go-tools.sh into
 * ${KSAIL_LAB_CACHE:-~/.cache/ksail-lab}/bin/kind-v0.30.0). Tests that need it fail, never skip,
 * with the build command when it is missing.
 */
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const GO_TOOLS = fileURLToPath(new URL("./go-tools.sh", import.meta.url));
export const KIND_BUILD_COMMAND = "bash lab/go-tools.sh kind";

/** Path of the cached kind binary, or an Error whose message is the build command. */
export function kindBinary(): string {
  const result = spawnSync("bash", [GO_TOOLS, "--print-path", "kind"], { encoding: "utf8" });
  const path = result.stdout.trim();
  if (result.status !== 0 || !path) {
    throw new Error(
      `the kind CLI is not built: run \`${KIND_BUILD_COMMAND}\` (needs Go; ~10 s, cached outside the repo)\n${result.stderr}`,
    );
  }
  return path;
}

/** kind drives the docker CLI; without it kind fails before reading any config. */
export function dockerCliPath(): string {
  const result = spawnSync("sh", ["-c", "command -v docker"], { encoding: "utf8" });
  const path = result.stdout.trim();
  if (result.status !== 0 || !path)
    throw new Error("the docker CLI is missing: run `apt-get install -y docker.io`");
  return path;
}

export interface KindRun {
  code: number | null;
  output: string;
}

/** Runs kind with the given environment (stdout and stderr together, as a user sees them). */
export function runKind(
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<KindRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
