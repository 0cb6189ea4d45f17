/** Finding and running the distribution CLIs (kind, k3d, kubectl) that ksail drives. */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { KsailError } from "../errors.js";

export const INSTALL_HINTS: Readonly<Record<string, string>> = {
  kind: "Install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation (e.g. `go install sigs.k8s.io/kind@v0.30.0`).",
  k3d: "Install k3d: https://k3d.io/#installation (e.g. `go install github.com/k3d-io/k3d/v5@latest`).",
  kubectl:
    "Install kubectl: https://kubernetes.io/docs/tasks/tools/ (Debian: `apt-get install kubectl`).",
};

/** The absolute path of `binary` on env.PATH, or undefined. */
export function findOnPath(binary: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function requireTool(binary: string, env: NodeJS.ProcessEnv): string {
  const path = findOnPath(binary, env);
  if (!path) {
    throw new KsailError("not-found", `${binary} is not installed (not found on PATH)`, {
      hint: INSTALL_HINTS[binary] ?? `Install ${binary} and make sure it is on PATH.`,
    });
  }
  return path;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunToolOptions {
  env: NodeJS.ProcessEnv;
  /** Written to the tool's stdin. */
  input?: string;
  /** Called with each stderr line as it arrives (tools print progress there). */
  onLine?: (line: string) => void;
}

/** Runs a tool to completion; never throws for a non-zero exit (see `runToolOrFail`). */
export function runTool(
  binary: string,
  args: string[],
  options: RunToolOptions,
): Promise<ToolResult> {
  const path = requireTool(binary, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, {
      env: options.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      if (options.onLine) {
        pending += text;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) options.onLine(line.trim());
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (child.stdin) {
      // A tool that exits without reading its input must not crash ksail with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Runs a tool and turns a non-zero exit into KsailError("failed") with its last lines. */
export async function runToolOrFail(
  binary: string,
  args: string[],
  options: RunToolOptions,
  what: string,
): Promise<ToolResult> {
  const result = await runTool(binary, args, options);
  if (result.code !== 0) {
    const lines = `${result.stderr}\n${result.stdout}`
      .split("\n")
      .filter((line) => line.trim() !== "");
    throw new KsailError(
      "failed",
      `${what} failed: \`${binary} ${args.join(" ")}\` exited with ${result.code}`,
      {
        details: lines.slice(-8),
      },
    );
  }
  return result;
}
