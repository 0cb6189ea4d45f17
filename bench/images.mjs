#!/usr/bin/env node
// ksail benchmark (issue 25): a code change in the project's own image, from the save to the
// Deployment carrying the new image digest, on the real process lab (etcd, kube-apiserver,
// kube-controller-manager, Flux's source-controller and kustomize-controller), the tests' own
// dockerd and one real registry. Two ways, in one run, interleaved:
//   - `ksail workload watch` (one long-lived process; the bench only saves the file),
//   - by hand: `docker build` + `docker push` + edit the image reference in the manifest +
//     `flux push artifact` + `flux reconcile kustomization --with-source`.
// Plus manifest-only saves under the same watch: the build stage must not start (0 ms).
// The process lab has no kubelet: "applied" is the bench's own API watch seeing the Deployment's
// pod template with the new image — not a pod Ready (the Kind system test runs the pod).
// Run: `npm run build && node --import tsx bench/images.mjs` (tsx: it imports the TypeScript lab).
// See bench/README.md ("Images benchmark").
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { kubeGet, watchObject } from "./lib/kube-watch.mjs";
import { max, median, min, mustRun, tail, timed } from "./lib/proc.mjs";
import { CM_NAME, DEPLOY_NAME, PROJECT_NAME, configMap, writeSource } from "./lib/loop-project.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
let KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const NAME = PROJECT_NAME;
const NS = "flux-system";
const DEPLOY_PATH = "/apis/apps/v1/namespaces/default/deployments";
const CM_PATH = "/api/v1/namespaces/default/configmaps";

const { values: opt } = parseArgs({
  options: {
    reps: { type: "string", default: "10" },
    "manifest-saves": { type: "string", default: "10" },
    keep: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results", "images.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(`usage: npm run build && node --import tsx bench/images.mjs [options]
  --reps N            code changes per way (default 10)
  --manifest-saves N  manifest-only saves under the watch (default 10)
  --keep              keep the temp dir (project, contexts, manifests)
  --out FILE          raw results JSON (default bench/results/images.json)`);
  process.exit(0);
}
const REPS = Number(opt.reps);
const MANIFEST_SAVES = Number(opt["manifest-saves"]);
const log = (msg) => console.error(`bench: ${msg}`);

async function loadLab() {
  try {
    const [kube, fluxLab, manifests, docker, app] = await Promise.all([
      import("../lab/k8s/lab.ts"),
      import("../lab/flux-lab.ts"),
      import("../lab/flux-install-manifests.ts"),
      import("../lab/docker.ts"),
      import("../lab/app-image.ts"),
    ]);
    return { ...kube, ...fluxLab, ...manifests, ...docker, ...app };
  } catch (error) {
    if (
      /** @type {{ code?: string } | undefined} */ (error)?.code === "ERR_UNKNOWN_FILE_EXTENSION"
    ) {
      throw new Error("run this benchmark as `node --import tsx bench/images.mjs`", {
        cause: error,
      });
    }
    throw error;
  }
}

/** The Flux CLI (built by lab/go-tools.sh when absent) and distribution v3 when built. */
async function goTools() {
  const script = join(ROOT, "lab", "go-tools.sh");
  const tools = {};
  const registry = await timed("bash", [script, "--print-path", "registry"]);
  if (registry.code === 0 && registry.stdout.trim())
    tools.registry = { path: registry.stdout.trim() };
  log("ensuring the flux CLI (lab/go-tools.sh flux) ...");
  const r = await timed("bash", [script, "flux"], { timeoutMs: 30 * 60_000 });
  for (const line of r.stdout.trim().split("\n")) {
    const [name, version, path] = line.split(" ");
    if (name === "flux" && path) tools.flux = { version, path };
  }
  if (!tools.flux)
    throw new Error(`lab/go-tools.sh did not provide the flux CLI:\n${tail(r.stderr)}`);
  return tools;
}

/** Measures a copy of the built CLI: a concurrent `npm run build` cannot pull dist/ away. */
async function snapshotKsail(work) {
  const dir = join(work, "ksail");
  await mkdir(join(dir, "bin"), { recursive: true });
  await cp(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
  await cp(join(ROOT, "bin", "ksail.js"), join(dir, "bin", "ksail.js"));
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return join(dir, "bin", "ksail.js");
}

/** The long-lived `ksail workload watch -o json`; every stdout line is one cycle. */
function startKsailWatch(project, env) {
  const child = spawn(process.execPath, [KSAIL_BIN, "workload", "watch", "-o", "json"], {
    cwd: project,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const cycles = [];
  let stderr = "";
  let waiter;
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    let report;
    try {
      report = JSON.parse(line);
    } catch {
      return;
    }
    cycles.push({ t: performance.now(), report });
    waiter?.();
  });
  const exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  return {
    cycles,
    get stderr() {
      return stderr;
    },
    async next(count, timeoutMs = 180_000) {
      const deadline = performance.now() + timeoutMs;
      while (cycles.length < count) {
        if (child.exitCode !== null)
          throw new Error(`ksail watch exited ${child.exitCode}:\n${tail(stderr)}`);
        if (performance.now() > deadline)
          throw new Error(`no watch cycle ${count} within ${timeoutMs} ms:\n${tail(stderr)}`);
        await new Promise((r) => {
          waiter = r;
          setTimeout(r, 200);
        });
      }
      return cycles[count - 1];
    },
    async stop() {
      child.kill("SIGINT");
      return exited;
    },
  };
}

const templateImage = (deployment) =>
  deployment?.spec?.template?.spec?.containers?.[0]?.image ?? undefined;

/** Save-relative time when the bench's watch first saw the Deployment with a matching image. */
function deploymentSeen(deployWatch, t0, matches) {
  const e = deployWatch.events.find((x) => x.t >= t0 && matches(templateImage(x.object)));
  return e ? e.t - t0 : undefined;
}

function cmSeen(cmWatch, t0, greeting) {
  const e = cmWatch.events.find((x) => x.t >= t0 && x.object?.data?.greeting === greeting);
  return e ? e.t - t0 : undefined;
}

async function until(what, check, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function nextVersion(registry) {
  const res = await fetch(`${registry.url}/v2/${NAME}/tags/list`);
  const tags = res.ok ? (/** @type {{ tags?: string[] }} */ (await res.json()).tags ?? []) : [];
  let best = [0, 0, 0];
  for (const t of tags) {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(t);
    if (!m) continue;
    const v = m.slice(1).map(Number);
    if (
      v[0] > best[0] ||
      (v[0] === best[0] && (v[1] > best[1] || (v[1] === best[1] && v[2] > best[2])))
    )
      best = v;
  }
  return `${best[0]}.${best[1]}.${best[2] + 1}`;
}

/** Builds started on the engine between two wall-clock times (its event log, untimed). */
async function engineEvents(engine, sinceMs, untilMs) {
  const r = await timed(
    "docker",
    [
      "events",
      "--since",
      (sinceMs / 1000).toFixed(3),
      "--until",
      (untilMs / 1000).toFixed(3),
      "--format",
      "{{.Type}} {{.Action}}",
    ],
    { env: engine.env },
  );
  return r.stdout.split("\n").filter(Boolean);
}

async function byHand({ project, lab, registry, tools, env, watches, i }) {
  const port = registry.registry.split(":")[1];
  const context = join(project, "web-cli");
  const manifests = join(project, "k8s-cli");
  const content = `by hand ${i}`;
  const version = await nextVersion(registry); // untimed, as in bench/watch.mjs
  const tag = `${registry.registry}/web-cli:${i}`;
  const steps = {};
  const step = async (name, file, args) => {
    const r = await timed(file, args, { cwd: project, env });
    if (r.code !== 0) throw new Error(`${name} failed:\n${tail(r.stderr || r.stdout)}`);
    steps[name] = r.ms;
    return r;
  };
  const t0 = performance.now();
  // The code change.
  await writeFile(join(context, "www", "index.html"), `${content}\n`);
  await step("docker build", "docker", ["build", "-q", "-t", tag, context]);
  const push = await step("docker push", "docker", ["push", tag]);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
  if (!digest) throw new Error(`docker push printed no digest:\n${push.stdout}`);
  // Edit the image reference, as the cluster pulls it.
  const image = `localhost:${port}/web-cli@${digest}`;
  const edit = performance.now();
  const web = join(manifests, "web.yaml");
  await writeFile(web, (await readFile(web, "utf8")).replace(/image: .*/, `image: ${image}`));
  steps.edit = performance.now() - edit;
  await step("flux push artifact", tools.flux.path, [
    "push",
    "artifact",
    `oci://${registry.registry}/${NAME}:${version}`,
    "--path",
    manifests,
    "--source",
    "bench",
    "--revision",
    version,
    "--insecure-registry",
  ]);
  await step("flux reconcile", tools.flux.path, [
    "reconcile",
    "kustomization",
    NAME,
    "-n",
    NS,
    "--with-source",
    "--timeout",
    "2m",
    "--kubeconfig",
    lab.kubeconfigPath,
    "--context",
    "ksail-lab",
  ]);
  const wallMs = performance.now() - t0;
  await until(
    "Deployment with the new image (by hand)",
    () => deploymentSeen(watches.deploy, t0, (x) => x === image) !== undefined,
  );
  return {
    savedToTemplateMs: deploymentSeen(watches.deploy, t0, (x) => x === image),
    wallMs,
    steps,
  };
}

async function viaWatch({ project, watcher, watches, i, seenImages }) {
  const count = watcher.cycles.length + 1;
  const t0 = performance.now();
  await writeFile(join(project, "web", "www", "index.html"), `ksail watch ${i}\n`);
  const cycle = await watcher.next(count);
  const r = cycle.report;
  if (r.outcome !== "applied" || !(r.built ?? []).includes("web"))
    throw new Error(`watch cycle after a code change: ${JSON.stringify(r)}`);
  const isNew = (x) => /\/web@sha256:[0-9a-f]{64}$/.test(x ?? "") && !seenImages.has(x);
  await until(
    "Deployment with the new image (watch)",
    () => deploymentSeen(watches.deploy, t0, isNew) !== undefined,
  );
  const e = watches.deploy.events.find((x) => x.t >= t0 && isNew(templateImage(x.object)));
  seenImages.add(templateImage(e.object));
  return {
    savedToTemplateMs: e.t - t0,
    savedToReportMs: cycle.t - t0,
    buildMs: r.timings.buildMs,
    buildSteps: r.buildSteps?.web ?? {},
    savedToPushedMs: r.timings.savedToPushedMs,
    validateMs: r.timings.validateMs,
    pushMs: r.timings.pushMs,
    fetchMs: r.timings.fetchMs,
    applyMs: r.timings.applyMs,
    version: r.version,
  };
}

async function manifestOnly({ project, watcher, watches, engine, i }) {
  const count = watcher.cycles.length + 1;
  const greeting = `manifest-only-${i}`;
  const wall0 = Date.now();
  const t0 = performance.now();
  await writeFile(join(project, "k8s", "settings.yaml"), configMap(greeting));
  const cycle = await watcher.next(count);
  await until(
    "ConfigMap change (manifest-only save)",
    () => cmSeen(watches.cm, t0, greeting) !== undefined,
  );
  const wall1 = Date.now();
  const r = cycle.report;
  if (r.outcome !== "applied")
    throw new Error(`watch cycle after a manifest save: ${JSON.stringify(r)}`);
  return {
    savedToAppliedMs: cmSeen(watches.cm, t0, greeting),
    buildMs: r.timings.buildMs ?? 0,
    built: r.built ?? [],
    engineEvents: (await engineEvents(engine, wall0, wall1)).length,
  };
}

async function measure(ctx) {
  const { project, env } = ctx;
  const runs = [];
  const watcher = startKsailWatch(project, env);
  const seenImages = new Set();
  try {
    const first = await watcher.next(1, 300_000);
    if (first.report.outcome !== "applied")
      throw new Error(
        `watch start cycle: ${JSON.stringify(first.report)}\n${tail(watcher.stderr)}`,
      );
    seenImages.add(templateImage((await kubeGet(ctx.lab, `${DEPLOY_PATH}/${DEPLOY_NAME}`)).json));
    log(`ksail watch is up (start cycle ${first.report.outcome} ${first.report.version})`);
    // One untimed run by hand first: the engine's and the registry's first-use costs.
    await byHand({ ...ctx, i: "warm-up" });
    for (let i = 0; i < Math.max(REPS, MANIFEST_SAVES); i++) {
      const order = i % 2 === 0 ? ["watch", "by hand"] : ["by hand", "watch"];
      if (i < REPS) {
        for (const way of order) {
          const run =
            way === "watch"
              ? await viaWatch({ ...ctx, watcher, i, seenImages })
              : await byHand({ ...ctx, i });
          runs.push({ way, i, ...run });
          log(
            `  #${i} ${way}: save → Deployment template has the new digest ${run.savedToTemplateMs?.toFixed(0)} ms`,
          );
        }
      }
      if (i < MANIFEST_SAVES) {
        const run = await manifestOnly({ ...ctx, watcher, i });
        runs.push({ way: "manifest-only", i, ...run });
        log(
          `  #${i} manifest-only save: build stage ${run.buildMs} ms, built [${run.built.join(", ")}], engine events ${run.engineEvents}, save → ConfigMap ${run.savedToAppliedMs?.toFixed(0)} ms`,
        );
      }
    }
  } finally {
    const code = await watcher.stop();
    if (code !== 0) log(`ksail watch exited ${code} on SIGINT:\n${tail(watcher.stderr)}`);
  }
  return runs;
}

const fmt = (ms) => (Number.isFinite(ms) ? (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)) : "-");
function stat(xs) {
  const v = xs.filter(Number.isFinite);
  return { median: median(v), min: min(v), max: max(v), n: v.length };
}

function report(runs) {
  const watch = runs.filter((r) => r.way === "watch");
  const hand = runs.filter((r) => r.way === "by hand");
  const manifest = runs.filter((r) => r.way === "manifest-only");
  const summary = {
    watch: stat(watch.map((r) => r.savedToTemplateMs)),
    byHand: stat(hand.map((r) => r.savedToTemplateMs)),
    byHandWall: stat(hand.map((r) => r.wallMs)),
    manifestOnly: {
      savedToApplied: stat(manifest.map((r) => r.savedToAppliedMs)),
      buildMs: manifest.map((r) => r.buildMs),
      built: manifest.flatMap((r) => r.built),
      engineEvents: manifest.map((r) => r.engineEvents),
    },
  };
  console.log(
    "\ncode change → the Deployment's pod template names the new digest (API server; no kubelet in the process lab)",
  );
  const rows = [["way", "n", "median", "min", "max"]];
  rows.push([
    "ksail workload watch",
    summary.watch.n,
    fmt(summary.watch.median),
    fmt(summary.watch.min),
    fmt(summary.watch.max),
  ]);
  rows.push([
    "by hand: docker build + push + edit + flux push artifact + flux reconcile ks --with-source",
    summary.byHand.n,
    fmt(summary.byHand.median),
    fmt(summary.byHand.min),
    fmt(summary.byHand.max),
  ]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  console.log(
    rows
      .map((r) =>
        r
          .map((cell, c) =>
            c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]),
          )
          .join("  "),
      )
      .join("\n"),
  );
  const ratio = summary.watch.median / summary.byHand.median;
  console.log(`ratio watch / by hand (medians): ${ratio.toFixed(2)}×`);
  const stage = (xs, f) => fmt(median(xs.map(f).filter(Number.isFinite)));
  console.log(
    `watch stages (medians): build ${stage(watch, (r) => r.buildMs)} ms · validate ${stage(watch, (r) => r.validateMs)} · push ${stage(watch, (r) => r.pushMs)} · save → pushed ${stage(watch, (r) => r.savedToPushedMs)} · fetch ${stage(watch, (r) => r.fetchMs)} · apply ${stage(watch, (r) => r.applyMs)}`,
  );
  const buildStepNames = ["hashMs", "checkMs", "buildMs", "pushMs", "digestMs"];
  console.log(
    `watch build stage steps (medians): ${buildStepNames.map((n) => `${n.replace(/Ms$/, "")} ${stage(watch, (r) => r.buildSteps[n])} ms`).join(" · ")}`,
  );
  const names = Object.keys(hand[0]?.steps ?? {});
  console.log(
    `by-hand steps (medians): ${names.map((n) => `${n} ${stage(hand, (r) => r.steps[n])} ms`).join(" · ")} · all commands ${fmt(summary.byHandWall.median)} ms`,
  );
  const m = summary.manifestOnly;
  console.log(
    `manifest-only saves under watch (n=${manifest.length}): build stage ${m.buildMs.join("/")} ms, images built: ${m.built.length === 0 ? "none" : m.built.join(", ")}, engine events during the cycle: ${m.engineEvents.join("/")}; save → ConfigMap changed median ${fmt(m.savedToApplied.median)} ms`,
  );
  summary.ratio = ratio;
  return summary;
}

async function main() {
  const t0 = Date.now();
  if (!existsSync(join(ROOT, "dist", "cli.js"))) throw new Error("run `npm run build` first");
  const labMod = await loadLab();
  labMod.requireBusybox();
  const tools = await goTools();
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-images-"));
  KSAIL_BIN = await snapshotKsail(work);
  if (!process.env.KSAIL_REGISTRY_BIN && tools.registry?.path && existsSync(tools.registry.path))
    process.env.KSAIL_REGISTRY_BIN = tools.registry.path;
  let lab;
  let registry;
  let engine;
  let watches = {};
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const w of Object.values(watches)) w.stop();
    await Promise.allSettled([lab?.stop(), registry?.stop(), engine?.stop()]);
    if (!opt.keep) await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  };
  const onSignal = (sig) => {
    log(`${sig}: stopping`);
    cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    log("starting the lab, a registry and a dockerd ...");
    [{ lab, registry }, engine] = await Promise.all([
      labMod.startFluxLab(),
      labMod.startDockerEngine(),
    ]);
    const project = join(work, "project");
    await mkdir(project);
    const env = {
      PATH: process.env.PATH,
      HOME: project,
      DOCKER_CONFIG: project,
      DOCKER_HOST: engine.dockerHost,
      NO_COLOR: "1",
    };
    const ksail = (args) => mustRun(process.execPath, [KSAIL_BIN, ...args], { cwd: project, env });
    // Long interval: no automatic reconcile lands inside a timed run.
    await ksail(labMod.labInitArgs(lab, registry, NAME, "1h"));
    await labMod.pointFluxAtLabRegistry(project, registry);
    const config = join(project, "ksail.yaml");
    const { parseDocument } = await import("yaml");
    const doc = parseDocument(await readFile(config, "utf8"));
    doc.setIn(["spec", "images"], [{ name: "web", context: "./web" }]);
    await writeFile(config, doc.toString());
    labMod.writeAppContext("ksail watch initial", {}, join(project, "web"));
    labMod.writeAppContext("by hand initial", {}, join(project, "web-cli"));
    const manifests = await labMod.writeLabInstallManifests(
      join(project, "install.yaml"),
      labMod.LAB_FLUX_VERSION,
    );
    await ksail(["flux", "install", "--manifests", manifests, "--timeout", "2m"]);
    await ksail(["flux", "sync"]);
    await writeSource(join(project, "k8s"), "initial", "web");
    await writeSource(join(project, "k8s-cli"), "by hand", "web");
    watches = {
      deploy: watchObject(lab, DEPLOY_PATH, DEPLOY_NAME),
      cm: watchObject(lab, CM_PATH, CM_NAME),
    };
    await Promise.all(Object.values(watches).map((w) => w.ready));
    const loadBefore = os.loadavg();
    log(`load average before: ${loadBefore.map((x) => x.toFixed(2)).join(" ")}`);
    const runs = await measure({ project, lab, registry, engine, tools, env, watches });
    const loadAfter = os.loadavg();
    const summary = report(runs);
    console.log(
      `load average: before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadAfter.map((x) => x.toFixed(2)).join(" ")} (${os.cpus().length} CPUs)`,
    );
    const json = {
      date: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - t0) / 1000),
      machine: { cpus: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadAfter },
      node: process.version,
      repetitions: REPS,
      unit: "ms from the bench writing the file (save) to the bench's own API watch seeing the Deployment's pod template with the new image (no kubelet: not pod Ready)",
      summary,
      runs,
    };
    await mkdir(dirname(opt.out), { recursive: true });
    await writeFile(opt.out, `${JSON.stringify(json, null, 2)}\n`);
    log(
      `raw results: ${relative(process.cwd(), opt.out)} (${Math.round((Date.now() - t0) / 1000)} s in all)`,
    );
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
});
