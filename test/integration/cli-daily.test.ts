/**
 * Daily use as a new user meets it (issue 21): errors at the edges, the short commands, init on
 * an existing project, wording. The built CLI as a process, against a real registry.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const BIN = fileURLToPath(new URL("../../bin/ksail.js", import.meta.url));
const CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  a: b\n";

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-daily-"));
  temps.push(dir);
  return dir;
}

let lab: LabRegistry;
before(async () => {
  lab = await startRegistry();
});
after(async () => {
  await lab?.stop();
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

/** A manifest directory with one ConfigMap (and its kustomization), pushed nowhere yet. */
async function manifests(): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, "cm.yaml"), CONFIGMAP);
  await writeFile(
    join(dir, "kustomization.yaml"),
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n",
  );
  return dir;
}

describe("errors at the edges", () => {
  it("a missing version names the newest one and `versions` (exit 6), for pull, diff and verify", async () => {
    const dir = await manifests();
    const registry = `oci://${lab.registry}/edges`;
    const push = await runKsail(["workload", "push", "--registry", registry, "--path", dir], {
      cwd: dir,
    });
    assert.equal(push.code, 0, push.stderr);
    const key = await tempDir();
    const keygen = await runKsail(["workload", "keygen", "--output-dir", key], {
      cwd: key,
      env: { COSIGN_PASSWORD: "" },
    });
    assert.equal(keygen.code, 0, keygen.stderr);
    const runs = [
      ["workload", "pull", "9.9.9", "--dest", join(dir, "out")],
      ["workload", "diff", "7.7.7", "--path", dir],
      ["workload", "verify", "1.2.3", "--key", join(key, "cosign.pub")],
    ];
    for (const args of runs) {
      const run = await runKsail([...args, "--registry", registry], { cwd: dir });
      assert.equal(run.code, 6, `${args.join(" ")}\n${run.stderr}`);
      const version = args[2];
      assert.match(
        run.stderr,
        new RegExp(
          `error: version ${version} not found in ${lab.registry}/edges; newest: 0\\.0\\.1 \\(latest\\)`,
        ),
      );
      assert.match(run.stderr, /hint: See `ksail workload versions`/);
      assert.doesNotMatch(run.stderr, /MANIFEST_UNKNOWN|HTTP 404|\{"Tag"/);
    }
  });

  it("output into a closed pipe ends quietly (141, as SIGPIPE), with no stack trace", async () => {
    for (const args of [["--help"], ["workload", "push", "--help"]]) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      // The reader goes away before ksail writes: every write meets EPIPE.
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      assert.equal(stderr, "", `${args.join(" ")} printed on stderr`);
      assert.equal(code, 141);
    }
  });

  it("Ctrl-C during a push says interrupted and that latest was not moved; versions shows it", async () => {
    const dir = await manifests();
    const repo = "interrupt";
    const first = await runKsail(
      ["workload", "push", "--registry", `oci://${lab.registry}/${repo}`, "--path", dir],
      { cwd: dir },
    );
    assert.equal(first.code, 0, first.stderr);
    await writeFile(join(dir, "cm.yaml"), CONFIGMAP.replace("a: b", "a: c"));
    // Between ksail and the registry: the PUT that moves `latest` is held until the test ends.
    const proxy = await holdingProxy(
      lab.registry,
      (req) => req.method === "PUT" && (req.url ?? "").endsWith("/manifests/latest"),
    );
    try {
      let sawHeld: () => void = () => {};
      const held = new Promise<void>((resolve) => (sawHeld = resolve));
      proxy.onHeld = () => sawHeld();
      const run = runKsail(
        ["workload", "push", "--registry", `oci://${proxy.address}/${repo}`, "--path", dir],
        { cwd: dir, onSpawn: (child) => void held.then(() => child.kill("SIGINT")) },
      );
      const interrupted = await run;
      assert.equal(interrupted.code, 130, interrupted.stderr);
      assert.match(interrupted.stderr, /✗ interrupted \(Tag version, /);
      assert.match(
        interrupted.stderr,
        new RegExp(
          `warning: ${proxy.address}/${repo}:0\\.0\\.2 was pushed but latest was not moved to it`,
        ),
      );
    } finally {
      await proxy.stop();
    }
    const versions = await runKsail(
      ["workload", "versions", "--registry", `oci://${lab.registry}/${repo}`],
      { cwd: dir },
    );
    assert.equal(versions.code, 0, versions.stderr);
    assert.match(versions.stdout, /^0\.0\.1 \(latest\) /m);
    assert.match(versions.stdout, /^0\.0\.2 /m);
    assert.match(versions.stderr, /latest is 0\.0\.1, behind the highest version 0\.0\.2/);
  });

  it("keygen over an existing key names --force before asking for a password", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "cosign.key"), "old key\n");
    // No COSIGN_PASSWORD and no terminal: were the password asked for first, that would fail.
    const run = await runKsail(["workload", "keygen"], { cwd: dir });
    assert.equal(run.code, 7, run.stderr);
    assert.match(run.stderr, /cosign\.key already exists/);
    assert.match(run.stderr, /--force/);
    assert.doesNotMatch(run.stderr, /password/i);
    assert.equal(await readFile(join(dir, "cosign.key"), "utf8"), "old key\n");
    await assert.rejects(access(join(dir, "cosign.pub")));
    const forced = await runKsail(["workload", "keygen", "--force"], {
      cwd: dir,
      env: { COSIGN_PASSWORD: "" },
    });
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(await readFile(join(dir, "cosign.key"), "utf8"), /PRIVATE KEY/);
  });
});

interface HoldingProxy {
  address: string;
  onHeld: () => void;
  stop(): Promise<void>;
}

/** An HTTP proxy to `target` that never answers the requests `hold` picks (until stop()). */
async function holdingProxy(
  target: string,
  hold: (req: IncomingMessage) => boolean,
): Promise<HoldingProxy> {
  const [host, port] = target.split(":");
  const proxy: HoldingProxy = { address: "", onHeld: () => {}, stop: async () => {} };
  const server: Server = createServer((req, res) => {
    if (hold(req)) {
      proxy.onHeld();
      return;
    }
    const upstream = request(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
