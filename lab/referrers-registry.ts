/**
 * A registry with the OCI 1.1 referrers API, for the referrers path of cosign v3 bundles: the
 * distribution registry (Debian's 2.8 and distribution v3 alike) has none, so this runs
 * go-containerregistry's registry (lab/referrers-registry, built by `lab/go-tools.sh
 * referrers-registry`) as a child process on a free 127.0.0.1 port. Manifests live in its
 * memory, blobs in a temp dir. Tests that need it fail, never skip, when it is not built.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";

const GO_TOOLS = fileURLToPath(new URL("./go-tools.sh", import.meta.url));
export const REFERRERS_REGISTRY_BUILD_COMMAND = "bash lab/go-tools.sh referrers-registry";

export interface ReferrersRegistry {
  /** "127.0.0.1:PORT" */
  registry: string;
  stop(): Promise<void>;
}

export function referrersRegistryBinary(): string {
  const result = spawnSync("bash", [GO_TOOLS, "--print-path", "referrers-registry"], {
    encoding: "utf8",
  });
  const path = result.stdout.trim();
  if (result.status !== 0 || !path) {
    throw new Error(
      `the referrers registry is not built: run \`${REFERRERS_REGISTRY_BUILD_COMMAND}\` (needs Go; seconds)\n${result.stderr}`,
    );
  }
  return path;
}

export async function startReferrersRegistry(): Promise<ReferrersRegistry> {
  const bin = referrersRegistryBinary();
  const dir = await mkdtemp(join(tmpdir(), "ksail-referrers-registry-"));
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    const child = spawn(bin, ["--address", `127.0.0.1:${port}`, "--disk", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    const deadline = Date.now() + 15_000;
    let up = false;
    while (!exited && Date.now() < deadline) {
      if ((await probe(port)) === 200) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (up) {
      return {
        registry: `127.0.0.1:${port}`,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            await new Promise<void>((resolve) => {
              child.once("exit", () => resolve());
              child.kill("SIGTERM");
            });
          }
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill("SIGKILL");
    if (/address already in use/i.test(stderr) && tries < 5) continue;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`the referrers registry (${bin}) did not start\n${stderr}`);
  }
}

function probe(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/v2/", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}
