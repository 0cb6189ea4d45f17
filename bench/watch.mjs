#!/usr/bin/env node
// ksail benchmark: save → applied for a one-line edit on the real process lab (etcd,
// kube-apiserver, kube-controller-manager, Flux's source-controller and kustomize-controller)
// and one real registry. Three ways to get an edit applied, in one run, order rotated:
//   - `ksail workload watch` (one long-lived process; the bench only saves the file),
//   - `ksail workload reconcile --push` (one process per edit),
//   - `flux push artifact` + `flux reconcile kustomization --with-source` (the Flux CLI).
// "Applied" = the bench's own watch on the ConfigMap sees the new value in the API server.
// Run: `npm run build && node --import tsx bench/watch.mjs` (tsx: it imports the TypeScript lab).
// See bench/README.md ("Watch benchmark") for what is measured and why it is fair.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { watchObject } from "./lib/kube-watch.mjs";
import { max, median, min, mustRun, rotate, tail, timed } from "./lib/proc.mjs";
import { CM_NAME, PROJECT_NAME, configMap, writeSource } from "./lib/loop-project.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
let KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const NAME = PROJECT_NAME;
const NS = "flux-system";
const REQUESTED_AT = "reconcile.fluxcd.io/requestedAt";
const OCI_PATH = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/ocirepositories`;
const KS_PATH = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${NS}/kustomizations`;
const CM_PATH = "/api/v1/namespaces/default/configmaps";

const { values: opt } = parseArgs({
  options: {
    reps: { type: "string", default: "20" },
    "leak-cycles": { type: "string", default: "300" },
    "no-flux": { type: "boolean", default: false },
    "heap-snapshots": { type: "string" },
    "watch-node-options": { type: "string", default: "" },
    keep: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results", "watch.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(`usage: npm run build && node --import tsx bench/watch.mjs [options]
  --reps N     edits per tool (default 20; the median needs >= 10)
  --leak-cycles N  watch cycles of the leak run after the timed edits (default 300; 0 = none)
  --no-flux    do not build or run the Flux CLI peer
  --watch-node-options FLAGS  more Node options for the watch process only (e.g.
               "--max-semi-space-size=4" to see how much of its RSS is V8's young generation)
  --heap-snapshots DIR  the watch process writes a heap snapshot at every leak probe (compare them
               in Chrome DevTools' Memory tab, or with bench/lib/heap-compare.mjs)
  --keep       keep the temp dir (project, manifests)
  --out FILE   raw results JSON (default bench/results/watch.json)`);
  process.exit(0);
}
const REPS = Number(opt.reps);
const LEAK_CYCLES = Number(opt["leak-cycles"]);
const PROBE = join(ROOT, "bench", "lib", "resource-probe.mjs");
const WITH_FLUX = !opt["no-flux"];
const log = (msg) => console.error(`bench: ${msg}`);

async function loadLab() {
  try {
    const [kube, fluxLab, manifests] = await Promise.all([
      import("../lab/k8s/lab.ts"),
      import("../lab/flux-lab.ts"),
      import("../lab/flux-install-manifests.ts"),
    ]);
    return { ...kube, ...fluxLab, ...manifests };
  } catch (error) {
    if (
      /** @type {{ code?: string } | undefined} */ (error)?.code === "ERR_UNKNOWN_FILE_EXTENSION"
    ) {
      throw new Error("run this benchmark as `node --import tsx bench/watch.mjs`", {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The Flux CLI (built by lab/go-tools.sh when absent) and, when already built, distribution v3
 * as the registry; without it the lab's default registry (Debian's docker-registry) serves.
 */
async function goTools() {
  const script = join(ROOT, "lab", "go-tools.sh");
  const tools = {};
  const registry = await timed("bash", [script, "--print-path", "registry"]);
  if (registry.code === 0 && registry.stdout.trim())
    tools.registry = { path: registry.stdout.trim() };
  if (!WITH_FLUX) return tools;
  log("ensuring the flux CLI (lab/go-tools.sh flux) ...");
  const r = await timed("bash", [script, "flux"], { timeoutMs: 30 * 60_000 });
  for (const line of r.stdout.trim().split("\n")) {
    const [name, version, path] = line.split(" ");
    if (name === "flux" && path) tools.flux = { version, path };
  }
  if (!tools.flux) {
    throw new Error(`lab/go-tools.sh did not provide the flux CLI:\n${tail(r.stderr)}`);
  }
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
    env: {
      ...env,
      NODE_OPTIONS:
        `--expose-gc --import=${pathToFileURL(PROBE).href} ${opt["watch-node-options"]}`.trim(),
      ...(opt["heap-snapshots"] ? { KSAIL_PROBE_SNAPSHOTS: opt["heap-snapshots"] } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const cycles = [];
  const probes = [];
  let stderr = "";
  let waiter;
  child.stderr.setEncoding("utf8");
  createInterface({ input: child.stderr }).on("line", (line) => {
    const probe = /^ksail-resource-probe (\{.*\})$/.exec(line);
    if (probe) {
      probes.push(JSON.parse(probe[1]));
      waiter?.();
    } else stderr += `${line}\n`;
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
    async next(count, timeoutMs = 60_000) {
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
    /** RSS, open fds and timers of the watch process (SIGUSR2 to the preloaded probe). */
    async probe() {
      const count = probes.length + 1;
      child.kill("SIGUSR2");
      // A heap snapshot of a loaded machine takes a while.
      const deadline = performance.now() + (opt["heap-snapshots"] ? 120_000 : 10_000);
      while (probes.length < count) {
        if (performance.now() > deadline) throw new Error("the resource probe did not answer");
        await new Promise((r) => {
          waiter = r;
          setTimeout(r, 100);
        });
      }
      return probes[count - 1];
    },
    async stop() {
      child.kill("SIGINT");
      return exited;
    },
  };
}

/** Spawn-relative (save-relative) time when the bench's watch first saw `greeting`. */
function seen(cmWatch, t0, greeting) {
  const e = cmWatch.events.find((x) => x.t >= t0 && x.object?.data?.greeting === greeting);
  return e ? e.t - t0 : undefined;
}

async function until(what, check, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** When the OCIRepository request annotation with a new value first arrived after t0. */
function requestSeen(ociWatch, t0) {
  let prior;
  for (const e of ociWatch.events)
    if (e.t < t0) prior = e.object?.metadata?.annotations?.[REQUESTED_AT];
  const e = ociWatch.events.find(
    (x) => x.t >= t0 && x.object?.metadata?.annotations?.[REQUESTED_AT] !== prior,
  );
  return e ? e.t - t0 : undefined;
}

/** When the OCIRepository first reported an artifact whose revision ends with `digest`. */
function fetchedSeen(ociWatch, t0, digest) {
  const e = ociWatch.events.find(
    (x) => x.t >= t0 && x.object?.status?.artifact?.revision?.endsWith(digest ?? "\0"),
  );
  return e ? e.t - t0 : undefined;
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

async function measure({ project, lab, registry, tools, env, watches }) {
  const dirWatch = join(project, "k8s");
  const dirOther = join(project, "k8s-cli");
  await writeSource(dirOther, "cli-initial");
  const runs = [];
  let leak;
  const watcher = startKsailWatch(project, env);
  try {
    const first = await watcher.next(1, 120_000);
    if (first.report.outcome !== "applied")
      throw new Error(
        `watch start cycle: ${JSON.stringify(first.report)}\n${tail(watcher.stderr)}`,
      );
    log(`ksail watch is up (start cycle ${first.report.outcome} ${first.report.version})`);
    const toolNames = ["watch", "reconcile --push", ...(WITH_FLUX ? ["flux"] : [])];
    for (let i = 0; i < REPS; i++) {
      for (const tool of rotate(toolNames, i)) {
        const greeting = `${tool.replace(/\W+/g, "-")}-${i}`;
        let run;
        if (tool === "watch") {
          const count = watcher.cycles.length + 1;
          const t0 = performance.now();
          await writeFile(join(dirWatch, "settings.yaml"), configMap(greeting));
          const cycle = await watcher.next(count);
          await until(
            "ConfigMap change (watch)",
            () => seen(watches.cm, t0, greeting) !== undefined,
          );
          const r = cycle.report;
          if (r.outcome !== "applied") throw new Error(`watch cycle: ${JSON.stringify(r)}`);
          run = {
            savedToAppliedMs: seen(watches.cm, t0, greeting),
            savedToReportMs: cycle.t - t0,
            savedToPushedMs: r.timings.savedToPushedMs,
            validateMs: r.timings.validateMs,
            pushMs: r.timings.pushMs,
            fetchMs: r.timings.fetchMs,
            applyMs: r.timings.applyMs,
            requestSeenMs: requestSeen(watches.oci, t0),
            fetchedSeenMs: fetchedSeen(watches.oci, t0, r.digest),
            version: r.version,
          };
        } else if (tool === "reconcile --push") {
          const t0 = performance.now();
          await writeFile(join(dirOther, "settings.yaml"), configMap(greeting));
          const x = await timed(
            process.execPath,
            [KSAIL_BIN, "workload", "reconcile", "--push", "--path", dirOther, "-o", "json"],
            { cwd: project, env },
          );
          if (x.code !== 0) throw new Error(`ksail reconcile --push failed:\n${tail(x.stderr)}`);
          await until(
            "ConfigMap change (reconcile)",
            () => seen(watches.cm, t0, greeting) !== undefined,
          );
          const pushed = JSON.parse(x.stdout).pushed;
          run = {
            savedToAppliedMs: seen(watches.cm, t0, greeting),
            wallMs: x.ms,
            requestSeenMs: requestSeen(watches.oci, t0),
            fetchedSeenMs: fetchedSeen(watches.oci, t0, pushed?.digest),
          };
        } else {
          const version = await nextVersion(registry); // untimed, as in bench/reconcile.mjs
          const t0 = performance.now();
          await writeFile(join(dirOther, "settings.yaml"), configMap(greeting));
          const push = await timed(
            tools.flux.path,
            [
              "push",
              "artifact",
              `oci://${registry.registry}/${NAME}:${version}`,
              "--path",
              dirOther,
              "--source",
              "bench",
              "--revision",
              version,
              "--insecure-registry",
            ],
            { cwd: project, env },
          );
          if (push.code !== 0) throw new Error(`flux push artifact failed:\n${tail(push.stderr)}`);
          const rec = await timed(
            tools.flux.path,
            [
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
            ],
            { cwd: project, env },
          );
          if (rec.code !== 0) throw new Error(`flux reconcile failed:\n${tail(rec.stderr)}`);
          await until(
            "ConfigMap change (flux)",
            () => seen(watches.cm, t0, greeting) !== undefined,
          );
          run = {
            savedToAppliedMs: seen(watches.cm, t0, greeting),
            wallMs: performance.now() - t0,
            pushMs: push.ms,
            requestSeenMs: requestSeen(watches.oci, t0),
          };
        }
        runs.push({ tool, i, ...run });
        log(`  #${i} ${tool}: save → applied ${run.savedToAppliedMs?.toFixed(0)} ms`);
      }
    }
    if (LEAK_CYCLES > 0) leak = await leakRun(watcher, dirWatch);
  } finally {
    const code = await watcher.stop();
    if (code !== 0) log(`ksail watch exited ${code} on SIGINT:\n${tail(watcher.stderr)}`);
  }
  return { runs, leak };
}

/**
 * LEAK_CYCLES saves, one cycle each (waited for), with the watch process's RSS, open fds and
 * timers probed after cycle 20, every 100 and after the last (issue 26 goal 5). The goal is on
 * RSS as V8 leaves it (what a user sees); the probe then forces a GC and reports the heap still
 * referenced, which tells a leak from V8 sizing its heap.
 */
async function leakRun(watcher, dir) {
  log(`leak run: ${LEAK_CYCLES} more watch cycles ...`);
  const samples = [];
  for (let i = 1; i <= LEAK_CYCLES; i++) {
    const count = watcher.cycles.length + 1;
    await writeFile(join(dir, "settings.yaml"), configMap(`leak-${i}`));
    const cycle = await watcher.next(count);
    if (cycle.report.outcome !== "applied")
      throw new Error(`leak run cycle ${i}: ${JSON.stringify(cycle.report)}`);
    if (i === 20 || i === LEAK_CYCLES || i % 100 === 0) {
      samples.push({ cycle: i, ...(await watcher.probe()) });
      log(`  after ${i} cycles: ${JSON.stringify(samples.at(-1))}`);
    }
  }
  return samples;
}

function fmt(ms) {
  return Number.isFinite(ms) ? (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)) : "-";
}

function stat(xs) {
  const v = xs.filter(Number.isFinite);
  return { median: median(v), min: min(v), max: max(v), n: v.length };
}

function report(runs, leak) {
  const by = (tool) => runs.filter((r) => r.tool === tool);
  const summary = {};
  for (const tool of ["watch", "reconcile --push", "flux"]) {
    const xs = by(tool);
    if (!xs.length) continue;
    summary[tool] = {
      savedToApplied: stat(xs.map((r) => r.savedToAppliedMs)),
      savedToPushed: stat(xs.map((r) => r.savedToPushedMs)),
      // The controllers' own share: from the OCIRepository request (ksail's or flux's
      // annotation) to the ConfigMap's new value, as the bench's watch saw them.
      controllers: stat(xs.map((r) => r.savedToAppliedMs - r.requestSeenMs)),
      fetch: stat(xs.map((r) => r.fetchedSeenMs - r.requestSeenMs)),
      saveToRequest: stat(xs.map((r) => r.requestSeenMs)),
    };
  }
  const w = summary.watch;
  const rows = [
    [
      "tool",
      "n",
      "save→applied med",
      "min",
      "max",
      "save→request med",
      "controllers med",
      "ratio to reconcile --push",
    ],
  ];
  for (const [tool, s] of Object.entries(summary)) {
    rows.push([
      tool === "flux" ? "flux push artifact + flux reconcile ks --with-source" : `ksail ${tool}`,
      s.savedToApplied.n,
      fmt(s.savedToApplied.median),
      fmt(s.savedToApplied.min),
      fmt(s.savedToApplied.max),
      fmt(s.saveToRequest.median),
      fmt(s.controllers.median),
      summary["reconcile --push"]
        ? `${(s.savedToApplied.median / summary["reconcile --push"].savedToApplied.median).toFixed(2)}`
        : "",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  console.log(
    `\n${rows.map((r) => r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join("  ")).join("\n")}\n`,
  );
  const goals = [];
  if (w) {
    const rp = summary["reconcile --push"];
    const flux = summary.flux;
    // Where the watch's time goes, per stage (medians of the per-save figures).
    const stage = (f) => fmt(median(by("watch").map(f).filter(Number.isFinite)));
    console.log(
      `ksail watch stages (medians): save → cycle start ${stage((r) => r.savedToPushedMs - r.pushMs - r.validateMs)} ms` +
        ` · validate ${stage((r) => r.validateMs)} · push ${stage((r) => r.pushMs)}` +
        ` · pushed → Flux asked ${stage((r) => r.requestSeenMs - r.savedToPushedMs)}` +
        ` · fetch ${stage((r) => r.fetchMs)} · apply ${stage((r) => r.applyMs)}` +
        ` · save → pushed ${fmt(w.savedToPushed.median)} ms`,
    );
    console.log(
      `controllers' floor (request seen → ConfigMap changed, medians): watch ${fmt(w.controllers.median)} ms` +
        `${rp ? ` · reconcile --push ${fmt(rp.controllers.median)} ms` : ""}` +
        `${flux ? ` · flux ${fmt(flux.controllers.median)} ms` : ""}` +
        ` (source-controller fetch ${fmt(w.fetch.median)} ms)`,
    );
    if (flux) {
      goals.push([
        `watch ≤ 0.8× the Flux recipe: ${fmt(w.savedToApplied.median)} ms vs flux push artifact + reconcile --with-source ${fmt(flux.savedToApplied.median)} ms (${(w.savedToApplied.median / flux.savedToApplied.median).toFixed(2)}×)`,
        w.savedToApplied.median <= 0.8 * flux.savedToApplied.median,
      ]);
    }
    if (rp) {
      goals.push([
        `watch ≤ 0.6× reconcile --push: ${fmt(w.savedToApplied.median)} ms vs ${fmt(rp.savedToApplied.median)} ms (${(w.savedToApplied.median / rp.savedToApplied.median).toFixed(2)}×)`,
        w.savedToApplied.median <= 0.6 * rp.savedToApplied.median,
      ]);
    }
  }
  if (leak?.length) {
    const first = leak.find((x) => x.cycle === 20) ?? leak[0];
    const last = leak.at(-1);
    const mib = (bytes) => (bytes / 1048576).toFixed(1);
    if (last.heapUsedAfterGcBytes !== undefined) {
      console.log(
        `watch process memory, cycle ${first.cycle} → ${last.cycle}: RSS ${mib(first.rssBytes)} → ${mib(last.rssBytes)} MiB` +
          ` (anonymous ${mib(first.rssAnonBytes)} → ${mib(last.rssAnonBytes)}, file-backed ${mib(first.rssFileBytes)} → ${mib(last.rssFileBytes)})` +
          ` · heap used ${mib(first.heapUsedBytes)} → ${mib(last.heapUsedBytes)} MiB, after a forced GC ${mib(first.heapUsedAfterGcBytes)} → ${mib(last.heapUsedAfterGcBytes)}` +
          ` · V8 new space ${mib(first.spaces?.new_space?.[0])} → ${mib(last.spaces?.new_space?.[0])} MiB, old space ${mib(first.spaces?.old_space?.[0])} → ${mib(last.spaces?.old_space?.[0])}` +
          ` · external after GC ${mib(first.externalAfterGcBytes)} → ${mib(last.externalAfterGcBytes)} · RSS after GC ${mib(first.rssAfterGcBytes)} → ${mib(last.rssAfterGcBytes)}`,
      );
    }
    goals.push([
      `no leak over ${last.cycle} cycles: RSS ${mib(first.rssBytes)} → ${mib(last.rssBytes)} MiB (≤ +20 MiB), fds ${first.fds} → ${last.fds}, timers ${first.timers} → ${last.timers}`,
      last.rssBytes <= first.rssBytes + 20 * 1048576 &&
        last.fds <= first.fds &&
        last.timers <= first.timers,
    ]);
  }
  for (const [goal, met] of goals) console.log(`${met ? "pass" : "MISS"}: ${goal}`);
  summary.goals = goals.map(([goal, met]) => ({ goal, met }));
  return summary;
}

async function main() {
  const t0 = Date.now();
  if (!existsSync(join(ROOT, "dist", "cli.js"))) throw new Error("run `npm run build` first");
  const labMod = await loadLab();
  const tools = await goTools();
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-watch-"));
  KSAIL_BIN = await snapshotKsail(work);
  if (!process.env.KSAIL_REGISTRY_BIN && tools.registry?.path && existsSync(tools.registry.path))
    process.env.KSAIL_REGISTRY_BIN = tools.registry.path;
  let lab;
  let registry;
  let watches = {};
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const w of Object.values(watches)) w.stop();
    await Promise.allSettled([lab?.stop(), registry?.stop()]);
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
    log("starting the lab and a registry ...");
    ({ lab, registry } = await labMod.startFluxLab());
    const project = join(work, "project");
    await mkdir(project);
    const env = { PATH: process.env.PATH, HOME: project, DOCKER_CONFIG: project, NO_COLOR: "1" };
    const ksail = (args) => mustRun(process.execPath, [KSAIL_BIN, ...args], { cwd: project, env });
    // Long interval: no automatic reconcile lands inside a timed run.
    await ksail(labMod.labInitArgs(lab, registry, NAME, "1h"));
    await labMod.pointFluxAtLabRegistry(project, registry);
    const manifests = await labMod.writeLabInstallManifests(
      join(project, "install.yaml"),
      labMod.LAB_FLUX_VERSION,
    );
    await ksail(["flux", "install", "--manifests", manifests, "--timeout", "2m"]);
    await ksail(["flux", "sync"]);
    await writeSource(join(project, "k8s"), "initial");
    watches = {
      oci: watchObject(lab, OCI_PATH, NAME),
      ks: watchObject(lab, KS_PATH, NAME),
      cm: watchObject(lab, CM_PATH, CM_NAME),
    };
    await Promise.all(Object.values(watches).map((w) => w.ready));
    const loadBefore = os.loadavg();
    const { runs, leak } = await measure({ project, lab, registry, tools, env, watches });
    const summary = report(runs, leak);
    const json = {
      date: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - t0) / 1000),
      machine: { cpus: os.cpus().length, loadavgBefore: loadBefore, loadavgAfter: os.loadavg() },
      node: process.version,
      repetitions: REPS,
      unit: "ms from the bench writing the file (save) to the bench's own API watch seeing the new ConfigMap value",
      summary,
      runs,
      leak,
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
