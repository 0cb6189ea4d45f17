#!/usr/bin/env node
// `ksail up` on Kind against the same result made by hand (issue 26 goal 7), in one run, runs
// alternating: kind's documented local-registry recipe (kind.sigs.k8s.io/docs/user/local-registry:
// `docker run registry` on 127.0.0.1, `kind create cluster` with the containerd config_path patch,
// a hosts.toml per node, `docker network connect kind`, the local-registry-hosting ConfigMap),
// then Flux's install (the same controller manifests `ksail up --flux-manifests` gets, applied
// server-side and waited for as `flux install` does: the flux CLI cannot download its release
// manifests here) and the OCIRepository/Kustomization `ksail workload gen flux` prints.
// Goal: ksail ≤ 1.0× the hand-made setup. Both use the Kind lab (lab/kind-lab.ts): run only as
//   flock /tmp/ksail-kind.lock node --import tsx bench/up.mjs [--runs 3]
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { median, timed } from "./lib/proc.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const PREFIX = "ksail-benchup-";
const run = promisify(execFile);

const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "1" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log("usage: flock /tmp/ksail-kind.lock node --import tsx bench/up.mjs [--runs 1]");
  process.exit(0);
}
const RUNS = Number(opt.runs);
const log = (/** @type {string} */ msg) => console.error(`bench: ${msg}`);
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const secs = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;

/** @type {{startKindLab: typeof import("../lab/kind-lab.ts").startKindLab, writeLabInstallManifests: typeof import("../lab/flux-install-manifests.ts").writeLabInstallManifests, LAB_FLUX_VERSION: string, freeTcpPort: typeof import("../lab/docker.ts").freeTcpPort}} */
let labApi;
try {
  const [kindLab, manifests, fluxLab, docker] = await Promise.all([
    import("../lab/kind-lab.ts"),
    import("../lab/flux-install-manifests.ts"),
    import("../lab/flux-lab.ts"),
    import("../lab/docker.ts"),
  ]);
  labApi = {
    startKindLab: kindLab.startKindLab,
    writeLabInstallManifests: manifests.writeLabInstallManifests,
    LAB_FLUX_VERSION: fluxLab.LAB_FLUX_VERSION,
    freeTcpPort: docker.freeTcpPort,
  };
} catch (error) {
  throw new Error("run this benchmark as `node --import tsx bench/up.mjs`", { cause: error });
}

/**
 * Runs one step and records its wall time under `name`.
 * @param {Record<string, number>} steps @param {string} name
 * @param {string} cmd @param {string[]} args @param {{env: NodeJS.ProcessEnv, input?: string}} o
 */
async function step(steps, name, cmd, args, o) {
  const started = performance.now();
  try {
    if (o.input === undefined) await run(cmd, args, { env: o.env, maxBuffer: 16 << 20 });
    else await pipeInto(cmd, args, o.input, o.env);
  } catch (error) {
    const e = /** @type {Error & {stderr?: string}} */ (error);
    throw new Error(`${name}: ${cmd} ${args.join(" ")} failed: ${e.stderr || e.message}`, {
      cause: error,
    });
  }
  steps[name] = (steps[name] ?? 0) + performance.now() - started;
}

/** @param {string} cmd @param {string[]} args @param {string} input @param {NodeJS.ProcessEnv} env */
function pipeInto(cmd, args, input, env) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env, maxBuffer: 16 << 20 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}

/**
 * kind's local-registry recipe, Flux's install and the sync objects, step by step.
 * @param {{env: NodeJS.ProcessEnv, kubectl: string, nodeImage: string}} lab
 * @param {string} work @param {string} fluxManifests @param {string} syncYaml
 */
async function byHand(lab, work, fluxManifests, syncYaml) {
  const name = `${PREFIX}hand`;
  const registry = `${name}-registry`;
  const port = await labApi.freeTcpPort();
  const kubeconfig = join(work, "hand.kubeconfig");
  const env = { ...lab.env, KUBECONFIG: kubeconfig };
  const config = join(work, "hand-kind.yaml");
  await writeFile(
    config,
    [
      "kind: Cluster",
      "apiVersion: kind.x-k8s.io/v1alpha4",
      "nodes:",
      "- role: control-plane",
      `  image: ${lab.nodeImage}`,
      "containerdConfigPatches:",
      "- |-",
      '  [plugins."io.containerd.grpc.v1.cri".registry]',
      '    config_path = "/etc/containerd/certs.d"',
      "",
    ].join("\n"),
  );
  /** @type {Record<string, number>} */
  const steps = {};
  const started = performance.now();
  await step(
    steps,
    "docker run registry",
    "docker",
    [
      "run",
      "-d",
      "--restart=always",
      "-p",
      `127.0.0.1:${port}:5000`,
      "--network",
      "bridge",
      "--name",
      registry,
      "--label",
      "dev.ksail.managed=bench",
      "registry:3",
    ],
    { env },
  );
  await step(
    steps,
    "kind create cluster",
    "kind",
    ["create", "cluster", "--name", name, "--config", config],
    {
      env,
    },
  );
  const node = `${name}-control-plane`;
  const dir = `/etc/containerd/certs.d/localhost:${port}`;
  await step(
    steps,
    "hosts.toml + network + ConfigMap",
    "docker",
    ["exec", node, "mkdir", "-p", dir],
    {
      env,
    },
  );
  await step(
    steps,
    "hosts.toml + network + ConfigMap",
    "docker",
    ["exec", "-i", node, "cp", "/dev/stdin", `${dir}/hosts.toml`],
    { env, input: `[host."http://${registry}:5000"]\n` },
  );
  await step(
    steps,
    "hosts.toml + network + ConfigMap",
    "docker",
    ["network", "connect", "kind", registry],
    {
      env,
    },
  );
  await step(
    steps,
    "hosts.toml + network + ConfigMap",
    lab.kubectl,
    ["--context", `kind-${name}`, "apply", "-f", "-"],
    {
      env,
      input: [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: local-registry-hosting",
        "  namespace: kube-public",
        "data:",
        "  localRegistryHosting.v1: |",
        `    host: "localhost:${port}"`,
        '    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"',
        "",
      ].join("\n"),
    },
  );
  await step(
    steps,
    "Flux install (apply + wait)",
    lab.kubectl,
    ["--context", `kind-${name}`, "apply", "--server-side", "-f", fluxManifests],
    { env },
  );
  await step(
    steps,
    "Flux install (apply + wait)",
    lab.kubectl,
    [
      "--context",
      `kind-${name}`,
      "-n",
      "flux-system",
      "wait",
      "--for=condition=Available",
      "deployment",
      "--all",
      "--timeout=10m",
    ],
    { env },
  );
  await step(
    steps,
    "OCIRepository + Kustomization",
    lab.kubectl,
    ["--context", `kind-${name}`, "apply", "--server-side", "-f", "-"],
    { env, input: syncYaml.replaceAll("__REGISTRY__", registry) },
  );
  const ms = performance.now() - started;
  await run("kind", ["delete", "cluster", "--name", name], { env }).catch(() => undefined);
  await run("docker", ["rm", "-f", registry], { env }).catch(() => undefined);
  return { ms, steps };
}

/**
 * `ksail up` in a fresh project, its own step lines as it prints them.
 * @param {{env: NodeJS.ProcessEnv, nodeImage: string}} lab
 * @param {string} work @param {string} fluxManifests @param {number} rep
 */
async function withKsail(lab, work, fluxManifests, rep) {
  const name = `${PREFIX}ksail${rep}`;
  const project = await mkdtemp(join(work, "project-"));
  const kubeconfig = join(project, "kubeconfig");
  const env = { ...lab.env, KUBECONFIG: kubeconfig };
  const ksail = (/** @type {string[]} */ ...args) =>
    timed(process.execPath, [KSAIL_BIN, ...args], { cwd: project, env });
  const port = await labApi.freeTcpPort();
  const init = await ksail(
    "init",
    "--name",
    name,
    "--distribution",
    "Kind",
    "--gitops-engine",
    "Flux",
    "--registry-port",
    String(port),
  );
  if (init.code !== 0) throw new Error(`ksail init failed:\n${init.stderr}`);
  const { parse, stringify, parseDocument } = await import("yaml");
  const configPath = join(project, "ksail.yaml");
  const config = parseDocument(await readFile(configPath, "utf8"));
  config.setIn(["spec", "options", "localRegistry", "name"], `${name}-registry`);
  await writeFile(configPath, config.toString());
  const kindPath = join(project, "kind.yaml");
  const kind = parse(await readFile(kindPath, "utf8"));
  kind.nodes[0].image = lab.nodeImage;
  await writeFile(kindPath, stringify(kind));
  const gen = await ksail("workload", "gen", "flux");
  if (gen.code !== 0) throw new Error(`ksail workload gen flux failed:\n${gen.stderr}`);
  const up = await ksail("up", "--flux-manifests", fluxManifests);
  const lines = up.stderr.split("\n").filter((l) => /^\s*✓/.test(l));
  const down = await ksail("down", "--delete-volumes");
  if (up.code !== 0) throw new Error(`ksail up failed (exit ${up.code}):\n${up.stderr}`);
  if (down.code !== 0) log(`ksail down failed:\n${down.stderr}`);
  // The hand-made side applies the same objects, with its own registry's name.
  const syncYaml = gen.stdout.replaceAll(`${name}-registry`, "__REGISTRY__");
  return { ms: up.ms, lines, syncYaml };
}

async function main() {
  const lab = await labApi.startKindLab({ prefix: PREFIX });
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-up-"));
  /** @type {number[]} */ const ksailMs = [];
  /** @type {number[]} */ const handMs = [];
  /** @type {string[]} */ const loads = [];
  /** @type {Record<string, number>} */ let handSteps = {};
  /** @type {string[]} */ let ksailLines = [];
  try {
    const fluxManifests = await labApi.writeLabInstallManifests(
      join(work, "flux-install.yaml"),
      labApi.LAB_FLUX_VERSION,
      { inCluster: true },
    );
    let syncYaml = "";
    for (let rep = 0; rep < RUNS; rep++) {
      const order = rep % 2 === 0 ? ["ksail", "hand"] : ["hand", "ksail"];
      if (!syncYaml) order.sort((a) => (a === "ksail" ? -1 : 1)); // gen flux: the objects first
      for (const side of order) {
        log(`run ${rep + 1}/${RUNS}: ${side} (load ${load()})`);
        if (side === "ksail") {
          const r = await withKsail(lab, work, fluxManifests, rep);
          ksailMs.push(r.ms);
          ksailLines = r.lines;
          syncYaml = r.syncYaml;
        } else {
          const r = await byHand(lab, work, fluxManifests, syncYaml);
          handMs.push(r.ms);
          handSteps = r.steps;
        }
        loads.push(load());
      }
    }
  } finally {
    await lab.stop().catch((error) => log(`stopping the Kind lab: ${error.message}`));
    await rm(work, { recursive: true, force: true });
  }
  const ratio = median(ksailMs) / median(handMs);
  console.log(
    `\nup benchmark: ${RUNS} run(s) each, alternating; load after each: ${loads.join(" | ")}`,
  );
  console.log(
    `  ksail up (registry + Kind + wiring + Flux + sync)   median ${secs(median(ksailMs))}  [${ksailMs.map(secs).join(", ")}]`,
  );
  console.log(
    `  by hand (kind's recipe + Flux install + sync)       median ${secs(median(handMs))}  [${handMs.map(secs).join(", ")}]`,
  );
  console.log(`  ksail's steps (last run):\n    ${ksailLines.map((l) => l.trim()).join("\n    ")}`);
  console.log(
    `  by hand, steps (last run):\n    ${Object.entries(handSteps)
      .map(([k, v]) => `${k}: ${secs(v)}`)
      .join("\n    ")}`,
  );
  console.log(
    `  goal 7 (ksail up ≤ 1.0× by hand): ${ratio <= 1 ? "pass" : "MISS"} — ratio ${ratio.toFixed(2)}×`,
  );
}

main().catch((error) => {
  console.error(`bench: ${error.stack ?? error}`);
  process.exit(1);
});
