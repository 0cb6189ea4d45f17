/**
 * Daily use as a new user meets it (issue 21): errors at the edges, the short commands, init on
 * an existing project, wording. The built CLI as a process, against a real registry.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
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
function holdingProxy(
  target: string,
  hold: (req: IncomingMessage) => boolean,
): Promise<HoldingProxy> {
  let proxy: HoldingProxy;
  return interceptingProxy(target, (req) => {
    if (!hold(req)) return false;
    proxy.onHeld();
    return true;
  }).then((p) => (proxy = Object.assign(p, { onHeld: () => {} })));
}

/**
 * An HTTP proxy to `target`; `intercept` may answer a request itself (and return true), the
 * others are forwarded.
 */
async function interceptingProxy(
  target: string,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ address: string; stop(): Promise<void> }> {
  const [host, port] = target.split(":");
  const server: Server = createServer((req, res) => {
    if (intercept(req, res)) return;
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
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("init for a newcomer and on an existing project", () => {
  it("writes a resolvable schema line, port 5001, an empty manifest folder and the next step", async () => {
    const dir = await tempDir();
    const run = await runKsail(["init"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^created {5}ksail\.yaml$/m);
    assert.match(run.stdout, /^created {5}k8s\/$/m);
    assert.match(run.stderr, /Next: `ksail up`, then add manifests to k8s\/ and run `ksail watch`/);
    const text = await readFile(join(dir, "ksail.yaml"), "utf8");
    // The same line on every machine: a path relative to ksail.yaml (as the YAML language server
    // resolves it), not into one installation of ksail.
    const schema = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
    assert.equal(schema, ".ksail/ksail.schema.json", text);
    assert.match(run.stdout, /^created {5}\.ksail\/ksail\.schema\.json$/m);
    assert.equal(
      await readFile(join(dir, schema), "utf8"),
      await readFile(new URL("../../schemas/ksail.schema.json", import.meta.url), "utf8"),
      "the schema beside ksail.yaml is ksail's schema",
    );
    assert.match(text, /^ {6}hostPort: 5001$/m);
    // No kustomization: Flux's generated one applies every manifest under k8s/.
    assert.deepEqual(await readdir(join(dir, "k8s")), []);
  });

  it("ksail schema writes the schema beside an older ksail.yaml and points only its schema line there", async () => {
    const dir = await tempDir();
    assert.equal((await runKsail(["init", "--name", "older"], { cwd: dir })).code, 0);
    await rm(join(dir, ".ksail"), { recursive: true });
    // What an earlier ksail wrote: an absolute file URL into one machine's installation.
    const older = (await readFile(join(dir, "ksail.yaml"), "utf8")).replace(
      /^# yaml-language-server: .*$/m,
      "# yaml-language-server: $schema=file:///usr/lib/node_modules/ksail/schemas/ksail.schema.json",
    );
    await writeFile(join(dir, "ksail.yaml"), `${older}# my note\n`);
    // Such a file keeps working as it is.
    const before = await runKsail(["workload", "gen", "flux"], { cwd: dir });
    assert.equal(before.code, 0, before.stderr);

    await mkdir(join(dir, "k8s", "apps"), { recursive: true });
    const run = await runKsail(["schema"], { cwd: join(dir, "k8s", "apps") });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^created {5}\.\.\/\.\.\/\.ksail\/ksail\.schema\.json$/m);
    assert.match(run.stdout, /^patched {5}\.\.\/\.\.\/ksail\.yaml \(schema comment updated/m);
    const text = await readFile(join(dir, "ksail.yaml"), "utf8");
    assert.equal(
      text,
      older.replace(
        /^# yaml-language-server: .*$/m,
        "# yaml-language-server: $schema=.ksail/ksail.schema.json",
      ) + "# my note\n",
      "only the schema line changed",
    );
    const printed = await runKsail(["schema", "--stdout"], { cwd: dir });
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, await readFile(join(dir, ".ksail", "ksail.schema.json"), "utf8"));
    assert.equal(
      (await runKsail(["schema"], { cwd: dir })).stdout.split("\n")[0],
      "unchanged   .ksail/ksail.schema.json",
    );
    const after = await runKsail(["workload", "gen", "flux"], { cwd: dir });
    assert.equal(after.stdout, before.stdout);

    const nowhere = await runKsail(["schema"], { cwd: await tempDir() });
    assert.equal(nowhere.code, 8, nowhere.stderr);
    assert.match(nowhere.stderr, /no ksail\.yaml at ksail\.yaml/);
    assert.match(nowhere.stderr, /ksail schema --stdout/);
  });

  it("--force patches only ksail's wiring: extra nodes, port mappings, comments and the port stay", async () => {
    const dir = await tempDir();
    assert.equal((await runKsail(["init", "--name", "first"], { cwd: dir })).code, 0);
    const kind = `# my cluster, my way
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: first # the old name
nodes:
  - role: control-plane
    # ingress
    extraPortMappings:
      - containerPort: 30080
        hostPort: 8080
  - role: worker
  - role: worker
`;
    await writeFile(join(dir, "kind.yaml"), kind);
    const ksailYaml = (await readFile(join(dir, "ksail.yaml"), "utf8"))
      .replace("hostPort: 5001", "hostPort: 5000 # AirPlay is off here")
      .replace("  options:\n", "  # tuned by hand\n  options:\n");
    await writeFile(join(dir, "ksail.yaml"), ksailYaml);

    const run = await runKsail(["init", "--force", "--name", "second"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^patched {5}ksail\.yaml \(metadata\.name: first → second; /m);
    assert.match(
      run.stdout,
      /^patched {5}kind\.yaml \(name: first → second; containerdConfigPatches: \+ config_path/m,
    );
    assert.match(run.stdout, /^skipped {5}k8s\/ /m);
    const kindAfter = await readFile(join(dir, "kind.yaml"), "utf8");
    assert.equal(
      kindAfter,
      `${kind.replace("name: first # the old name", "name: second # the old name")}containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
`,
    );
    const after = await readFile(join(dir, "ksail.yaml"), "utf8");
    assert.match(after, /^ {6}hostPort: 5000 # AirPlay is off here$/m);
    assert.match(after, /^ {2}# tuned by hand$/m);
    assert.match(after, /^ {2}name: second$/m);
    assert.match(after, /^ {4}context: kind-second$/m);
    // Nothing was replaced, so nothing needed a backup.
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith(".bak")),
      [],
    );

    const again = await runKsail(["init", "--force", "--name", "second"], { cwd: dir });
    assert.match(again.stdout, /^unchanged {3}ksail\.yaml$/m);
    assert.match(again.stdout, /^unchanged {3}kind\.yaml$/m);
  });

  it("--force replaces a cluster config it cannot patch and keeps it as .bak", async () => {
    const dir = await tempDir();
    assert.equal((await runKsail(["init", "--distribution", "k3d"], { cwd: dir })).code, 0);
    await writeFile(join(dir, "k3d.yaml"), "servers: [1\n");
    const run = await runKsail(["init", "--force"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^replaced {4}k3d\.yaml \(not valid YAML: .*previous content kept in k3d\.yaml\.bak\)$/m,
    );
    assert.equal(await readFile(join(dir, "k3d.yaml.bak"), "utf8"), "servers: [1\n");
    assert.match(await readFile(join(dir, "k3d.yaml"), "utf8"), /localhost:5001:/);
  });

  it("--force --registry-port moves k3d's registry mirror to the new port", async () => {
    const dir = await tempDir();
    assert.equal((await runKsail(["init", "--distribution", "k3d"], { cwd: dir })).code, 0);
    const before = await readFile(join(dir, "k3d.yaml"), "utf8");
    await writeFile(
      join(dir, "k3d.yaml"),
      `# agents for the load test\n${before.replace("agents: 0", "agents: 3")}`,
    );
    const run = await runKsail(["init", "--force", "--registry-port", "5055"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /registries\.config: - mirror localhost:5001/);
    const after = await readFile(join(dir, "k3d.yaml"), "utf8");
    assert.match(after, /^# agents for the load test$/m);
    assert.match(after, /^agents: 3$/m);
    assert.match(after, /localhost:5055:/);
    assert.doesNotMatch(after, /localhost:5001:/);
  });
});

describe("the daily commands at the top", () => {
  it("push, diff, status, reconcile and watch run as their workload commands do", async () => {
    const dir = await manifests();
    const registry = `oci://${lab.registry}/short`;
    const push = await runKsail(["push", "--registry", registry, "--path", dir, "-o", "json"], {
      cwd: dir,
    });
    assert.equal(push.code, 0, push.stderr);
    assert.equal((JSON.parse(push.stdout) as { version: string }).version, "0.0.1");
    const diff = await runKsail(["diff", "--registry", registry, "--path", dir], { cwd: dir });
    assert.equal(diff.code, 0, diff.stderr);
    await writeFile(join(dir, "cm.yaml"), CONFIGMAP.replace("a: b", "a: c"));
    const differs = await runKsail(["diff", "--registry", registry, "--path", dir], { cwd: dir });
    assert.equal(differs.code, 1, differs.stderr);
    assert.match(differs.stdout, /^\+ +a: c$/m);
    for (const name of ["push", "reconcile", "watch", "status", "diff"]) {
      const short = await runKsail([name, "--help"], { cwd: dir });
      const long = await runKsail(["workload", name, "--help"], { cwd: dir });
      assert.equal(short.code, 0, short.stderr);
      const options = (text: string) =>
        text.slice(text.indexOf("Options:"), text.indexOf("Examples:"));
      assert.equal(options(short.stdout), options(long.stdout), name);
      assert.match(short.stdout, new RegExp(`short\\s+for\\s+\`ksail\\s+workload\\s+${name}\``));
      assert.match(short.stdout, new RegExp(`^  ksail ${name}\\b`, "m"));
    }
  });

  it("help lists them first, describes up by what it does, and completion offers them", async () => {
    const dir = await tempDir();
    const help = await runKsail(["--help"], { cwd: dir });
    const daily = help.stdout.slice(help.stdout.indexOf("Daily"));
    for (const name of ["push", "reconcile", "watch", "status", "diff"]) {
      assert.match(daily, new RegExp(`^  ${name} `, "m"));
    }
    assert.match(help.stdout, /^ {2}up \[options\] +start the local registry, create the cluster/m);
    assert.doesNotMatch(help.stdout, /alias of/);
    const completion = await runKsail(["completion", "bash"], { cwd: dir });
    assert.equal(completion.code, 0, completion.stderr);
    // bash itself completes `ksail p` and `ksail push --re` with the generated script.
    const complete = (words: string[]) => {
      const script = join(dir, "ksail.bash");
      return writeFile(script, completion.stdout).then(() => {
        const run = spawnSync(
          "bash",
          [
            "-c",
            `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); ` +
              `COMP_CWORD=${words.length - 1}; _ksail; printf '%s\\n' "\${COMPREPLY[@]}"`,
          ],
          { encoding: "utf8" },
        );
        assert.equal(run.status, 0, run.stderr);
        return run.stdout.split("\n").filter(Boolean);
      });
    };
    assert.deepEqual(await complete(["ksail", "p"]), ["push"]);
    assert.deepEqual(await complete(["ksail", "push", "--re"]), [
      "--registry",
      "--request-timeout",
      "--revision",
      "--reproducible",
    ]);
  });
});

describe("wording", () => {
  it("counts in the right number, says finished steps in the past tense, names the command's help", async () => {
    const dir = await manifests();
    await rm(join(dir, "kustomization.yaml"));
    const registry = `oci://${lab.registry}/words`;
    const push = await runKsail(["push", "--registry", registry, "--path", dir], { cwd: dir });
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stderr, /✓ Read 1 file from /);
    assert.match(push.stderr, /\(1 file, \d+ bytes\)/);
    assert.match(push.stderr, /✓ Listed versions of /);
    assert.match(push.stderr, /✓ Uploaded 2 blobs, 0 already present/);
    assert.doesNotMatch(push.stderr, /\(s\)|\b1 files\b/);
    await writeFile(join(dir, "cm.yaml"), CONFIGMAP.replace("a: b", "a: c"));
    assert.equal(
      (await runKsail(["push", "--registry", registry, "--path", dir], { cwd: dir })).code,
      0,
    );
    const prune = await runKsail(
      ["workload", "prune", "--keep", "1", "--dry-run", "--registry", registry],
      {
        cwd: dir,
      },
    );
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, /^1 version would be deleted, /m);

    const usage = await runKsail(["workload", "push", "--bogus"], { cwd: dir });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^See 'ksail workload push --help'\.$/m);
    const top = await runKsail(["wrkload"], { cwd: dir });
    assert.match(top.stderr, /^See 'ksail --help'\.$/m);
  });

  it("requests that fail together are retried with one line per round, not one each", async () => {
    const dir = await manifests();
    // The first two upload starts (config and layer blob, sent side by side) get a 503.
    let refused = 0;
    const proxy = await interceptingProxy(lab.registry, (req, res) => {
      if (req.method !== "POST" || !(req.url ?? "").includes("/blobs/uploads/") || refused >= 2)
        return false;
      refused++;
      res.writeHead(503).end();
      return true;
    });
    try {
      const push = await runKsail(
        ["push", "--registry", `oci://${proxy.address}/retries`, "--path", dir],
        { cwd: dir },
      );
      assert.equal(push.code, 0, push.stderr);
      assert.equal(refused, 2);
      const retries = push.stderr.split("\n").filter((l) => l.includes("retrying"));
      assert.equal(retries.length, 1, push.stderr);
      assert.match(retries[0]!, /retrying \(2\) in \d+ms: HTTP 503/);
    } finally {
      await proxy.stop();
    }
  });

  it("a skipped garbage collection is said once, on stderr, without `?.`", async () => {
    const project = await tempDir();
    const port = lab.registry.split(":")[1]!;
    const init = await runKsail(["init", "--name", "gc-words", "--registry-port", port], {
      cwd: project,
    });
    assert.equal(init.code, 0, init.stderr);
    await writeFile(join(project, "k8s", "cm.yaml"), CONFIGMAP);
    assert.equal((await runKsail(["push"], { cwd: project })).code, 0);
    await writeFile(join(project, "k8s", "cm.yaml"), CONFIGMAP.replace("a: b", "a: c"));
    assert.equal((await runKsail(["push"], { cwd: project })).code, 0);
    const env = { DOCKER_HOST: `unix://${join(project, "no-engine.sock")}` };
    const prune = await runKsail(["workload", "prune", "--keep", "1"], { cwd: project, env });
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, /^1 version deleted, /m);
    assert.doesNotMatch(prune.stdout, /garbage collection/i);
    assert.equal(prune.stderr.match(/garbage collection skipped/gi)?.length, 1, prune.stderr);
    assert.doesNotMatch(prune.stderr, /\?\./);
  });
});

describe("conventions a kubectl or flux user expects", () => {
  it("`ksail` alone prints the help on stdout and exits 0", async () => {
    const dir = await tempDir();
    const run = await runKsail([], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, /^Usage: ksail \[options\] \[command\]/);
  });

  it("validation positions are relative to the working directory (k8s/bad.yaml:3:1)", async () => {
    const project = await tempDir();
    assert.equal((await runKsail(["init", "--name", "positions"], { cwd: project })).code, 0);
    await writeFile(
      join(project, "k8s", "bad.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\ndata:\n  a: b\n",
    );
    const registry = `oci://${lab.registry}/positions`;
    const run = await runKsail(["push", "--registry", registry], { cwd: project });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^ {2}k8s\/bad\.yaml:3:1: missing metadata\.name$/m);
    // From inside k8s/ the file is just bad.yaml.
    const inside = await runKsail(["push", "--registry", registry], { cwd: join(project, "k8s") });
    assert.match(inside.stderr, /^ {2}bad\.yaml:3:1: missing metadata\.name$/m);
  });

  it("global flags have their own help section, not a leaf's options", async () => {
    const dir = await tempDir();
    const run = await runKsail(["workload", "push", "--help"], { cwd: dir });
    const options = run.stdout.slice(
      run.stdout.indexOf("Options:"),
      run.stdout.indexOf("Global options:"),
    );
    const global = run.stdout.slice(
      run.stdout.indexOf("Global options:"),
      run.stdout.indexOf("Examples:"),
    );
    assert.ok(options.length > 0 && global.length > 0, run.stdout);
    for (const flag of ["--config <path>", "-q, --quiet", "--verbose"]) {
      assert.ok(global.includes(flag), flag);
      assert.ok(!options.includes(flag), flag);
    }
    assert.ok(options.includes("--bump <part>"));
  });
});

describe("the schema within reach", () => {
  it("an unknown field is reported at its own line, with the field it likely means", async () => {
    const dir = await tempDir();
    assert.equal((await runKsail(["init", "--name", "typo"], { cwd: dir })).code, 0);
    const text = await readFile(join(dir, "ksail.yaml"), "utf8");
    await writeFile(
      join(dir, "ksail.yaml"),
      text
        .replace("  sourceDirectory: k8s", "  sourceDir: k8s")
        .replace("    timeout: 5m", "    timeout: 5m\n    contxt: x"),
    );
    const lines = (await readFile(join(dir, "ksail.yaml"), "utf8")).split("\n");
    const at = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;
    const run = await runKsail(["workload", "versions"], { cwd: dir });
    assert.equal(run.code, 8, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `ksail\\.yaml:${at("sourceDir:")}:3: spec\\.sourceDir: unknown field; did you mean sourceDirectory\\?`,
      ),
    );
    assert.match(
      run.stderr,
      new RegExp(
        `ksail\\.yaml:${at("contxt:")}:5: spec\\.connection\\.contxt: unknown field; did you mean context\\?`,
      ),
    );
  });
});

describe("a remote repository without retyping", () => {
  it("spec.registry in ksail.yaml, or KSAIL_REGISTRY, names the repository every workload command uses", async () => {
    const project = await tempDir();
    assert.equal((await runKsail(["init", "--name", "remote-app"], { cwd: project })).code, 0);
    const path = join(project, "ksail.yaml");
    await writeFile(
      path,
      (await readFile(path, "utf8")).replace(
        "  gitOpsEngine: Flux\n",
        `  gitOpsEngine: Flux\n  registry: oci://${lab.registry}/team/remote-app # the shared one\n`,
      ),
    );
    await writeFile(join(project, "k8s", "cm.yaml"), CONFIGMAP);
    const push = await runKsail(["push", "-o", "json"], { cwd: project });
    assert.equal(push.code, 0, push.stderr);
    assert.equal(
      (JSON.parse(push.stdout) as { repository: string }).repository,
      `${lab.registry}/team/remote-app`,
    );
    const versions = await runKsail(["workload", "versions"], { cwd: project });
    assert.match(versions.stdout, /^0\.0\.1 \(latest\) /m);
    // gen flux follows it too (an HTTPS registry in real use; this loopback one is plain HTTP).
    const gen = await runKsail(["workload", "gen", "flux"], { cwd: project });
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, new RegExp(`url: oci://${lab.registry}/team/remote-app`));

    // KSAIL_REGISTRY wins over the file, as every KSAIL_* does.
    const env = { KSAIL_REGISTRY: `oci://${lab.registry}/team/from-env` };
    const fromEnv = await runKsail(["push", "-o", "json"], { cwd: project, env });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(
      (JSON.parse(fromEnv.stdout) as { repository: string }).repository,
      `${lab.registry}/team/from-env`,
    );
  });

  it("without a ksail.yaml: KSAIL_REGISTRY plus --path works, and the error says so", async () => {
    const dir = await manifests();
    const bare = await runKsail(["push", "--path", dir], { cwd: dir });
    assert.equal(bare.code, 8, bare.stderr);
    assert.match(
      bare.stderr,
      /--registry oci:\/\/HOST\/REPOSITORY \(or KSAIL_REGISTRY\) and --path DIR/,
    );
    const env = { KSAIL_REGISTRY: `oci://${lab.registry}/bare` };
    const push = await runKsail(["push", "--path", dir], { cwd: dir, env });
    assert.equal(push.code, 0, push.stderr);
    const versions = await runKsail(["workload", "versions", "-o", "json"], { cwd: dir, env });
    assert.equal(versions.code, 0, versions.stderr);
    assert.equal((JSON.parse(versions.stdout) as { items: unknown[] }).items.length, 1);
  });
});
