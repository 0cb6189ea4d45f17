// Starts one real distribution registry as a plain process on a free 127.0.0.1 port with its own
// temporary storage, and stops it again.
import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { tail, timed } from "./proc.mjs";

export const DEBIAN_REGISTRY = "/usr/bin/docker-registry";

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/**
 * @param {{binary: string | null, workDir: string}} opts  binary: the distribution v3 `registry`
 *   binary, or null to use Debian's docker-registry 2.8 instead.
 */
export async function startRegistry({ binary, workDir }) {
  let bin = binary;
  let impl = "distribution v3";
  if (!bin || !existsSync(bin)) {
    if (!existsSync(DEBIAN_REGISTRY)) {
      throw new Error(
        "no registry binary: lab/go-tools.sh did not produce distribution v3, and " +
          `${DEBIAN_REGISTRY} is absent (apt-get install -y docker-registry)`,
      );
    }
    console.warn(
      `bench: distribution v3 binary missing, falling back to Debian's ${DEBIAN_REGISTRY} (2.8)`,
    );
    bin = DEBIAN_REGISTRY;
    impl = "distribution 2.8 (Debian docker-registry)";
  }
  const storage = join(workDir, "registry-data");
  await mkdir(storage, { recursive: true });
  const port = await freePort();
  const config = join(workDir, "registry-config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storage}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const logPath = join(workDir, "registry.log");
  const logFd = openSync(logPath, "a");
  // OTEL_TRACES_EXPORTER=none: distribution v3 otherwise sets up an OTLP exporter that retries.
  const child = spawn(bin, ["serve", config], {
    stdio: ["ignore", logFd, logFd],
    env: { ...process.env, OTEL_TRACES_EXPORTER: "none" },
  });
  closeSync(logFd);
  // Set by the exit handler below (a cast, so that the checker does not narrow it to null).
  let exited = /** @type {{ code: number | null, signal: NodeJS.Signals | null } | null} */ (null);
  child.on("exit", (code, signal) => (exited = { code, signal }));

  const url = `http://127.0.0.1:${port}/v2/`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      throw new Error(
        `registry exited (${exited.code ?? exited.signal}) during start-up:\n` +
          tail(readFileSync(logPath, "utf8")),
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `registry did not answer ${url} within 15 s:\n${tail(readFileSync(logPath, "utf8"))}`,
      );
    }
    await sleep(25);
  }

  const version = await versionOf(bin);
  return {
    host: `127.0.0.1:${port}`,
    port,
    pid: child.pid,
    impl,
    binary: bin,
    version,
    storage,
    logPath,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = sleep(5000).then(() => "timeout");
      if ((await Promise.race([done, t])) === "timeout") {
        child.kill("SIGKILL");
        await done;
      }
    },
  };
}

async function versionOf(bin) {
  try {
    const r = await timed(bin, ["--version"], { timeoutMs: 5000 });
    return (r.stdout || r.stderr).trim().split("\n")[0];
  } catch {
    return "unknown";
  }
}
