/**
 * A Kubernetes API server that accepts connections and never answers (issue 10 item 7): the
 * built CLI, as a process, against a TCP listener on 127.0.0.1 that reads and never writes,
 * and against a TLS server that completes the handshake and then stalls. `workload reconcile
 * --timeout 10s` must end with exit 10 and `workload status` must fail naming the server —
 * not hang. Measured times are printed, not asserted; a run still going after 90 s is killed
 * and fails the test.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServer as createTlsServer } from "node:tls";
import { runKsail, type KsailRun } from "../../lab/ksail.js";

const KILL_AFTER_MS = 90_000;

interface SilentServer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** Accepts and reads, never writes. */
async function listen(server: Server): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  server.on("connection", (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let dir: string;
let tcp: SilentServer;
let tls: SilentServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ksail-silent-"));
  tcp = await listen(createServer());
  // A self-signed certificate: the handshake completes, then nothing.
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "pipe" },
    );
  } catch (error) {
    throw new Error("openssl is needed for this test: run `apt-get install -y openssl`", {
      cause: error,
    });
  }
  const tlsServer = createTlsServer({
    key: await readFile(join(dir, "key.pem")),
    cert: await readFile(join(dir, "cert.pem")),
  });
  tls = await listen(tlsServer);
  // The 'connection' event counts TCP accepts; TLS sessions that finished their handshake too.
  tlsServer.on("secureConnection", (socket) => socket.on("error", () => undefined));
});

after(async () => {
  await tcp?.close();
  await tls?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A project whose kubeconfig points at 127.0.0.1:port. */
async function project(name: string, port: number): Promise<string> {
  const project = join(dir, name);
  await mkdir(join(project, "k8s"), { recursive: true });
  await writeFile(
    join(project, "kubeconfig"),
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: silent",
      "    cluster:",
      `      server: https://127.0.0.1:${port}`,
      "      insecure-skip-tls-verify: true",
      "users:",
      "  - name: silent",
      "    user:",
      "      token: not-a-secret",
      "contexts:",
      "  - name: silent",
      "    context: { cluster: silent, user: silent }",
      "current-context: silent",
      "",
    ].join("\n"),
  );
  await writeFile(
    join(project, "ksail.yaml"),
    [
      "apiVersion: ksail.dev/v1alpha1",
      "kind: Cluster",
      "metadata:",
      "  name: silent",
      "spec:",
      "  gitOpsEngine: Flux",
      "  connection:",
      `    kubeconfig: ${join(project, "kubeconfig")}`,
      "    context: silent",
      "",
    ].join("\n"),
  );
  return project;
}

function ksail(args: string[], cwd: string): Promise<KsailRun> {
  return runKsail(args, {
    cwd,
    onSpawn: (child) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
      child.on("exit", () => clearTimeout(timer));
    },
  });
}

for (const kind of ["tcp", "tls"] as const) {
  const label =
    kind === "tcp"
      ? "a server that accepts TCP and never answers"
      : "a server that completes the TLS handshake and then stalls";
  describe(label, () => {
    const server = () => (kind === "tcp" ? tcp : tls);

    it("workload reconcile --timeout 10s exits 10 and names the server", async () => {
      const cwd = await project(`reconcile-${kind}`, server().port);
      const run = await ksail(["workload", "reconcile", "--timeout", "10s"], cwd);
      console.log(
        `reconcile against ${kind} silent server: exit ${run.code} after ${Math.round(run.ms)} ms`,
      );
      assert.equal(run.signal, null, `still running after ${KILL_AFTER_MS / 1000} s: killed`);
      assert.equal(run.code, 10, run.stderr);
      assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${server().port}`));
      assert.match(run.stderr, /Kubernetes API server/);
      // While it waits, it says for what and on which server.
      assert.match(
        run.stderr,
        new RegExp(
          `Waiting for the Kubernetes API server at https://127\\.0\\.0\\.1:${server().port}`,
        ),
      );
      assert.ok(server().connections > 0, "ksail never connected");
    });

    it("workload status fails (timeout) naming the server instead of hanging", async () => {
      const cwd = await project(`status-${kind}`, server().port);
      const run = await ksail(["workload", "status"], cwd);
      console.log(
        `status against ${kind} silent server: exit ${run.code} after ${Math.round(run.ms)} ms`,
      );
      assert.equal(run.signal, null, `still running after ${KILL_AFTER_MS / 1000} s: killed`);
      assert.ok(run.code === 10 || run.code === 4, `exit ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${server().port}`));
      assert.match(run.stderr, /did not answer|cannot reach|timed out/);
      assert.match(run.stderr, /Waiting for the Kubernetes API server/);
    });
  });
}
