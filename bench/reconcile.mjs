#!/usr/bin/env node
// ksail benchmark: `ksail workload reconcile` against the real process lab (etcd, kube-apiserver,
// kube-controller-manager, Flux's source-controller and kustomize-controller) and one real
// registry, compared with the Flux CLI's own `flux reconcile kustomization --with-source`.
// Run: `npm run build && node --import tsx bench/reconcile.mjs` (tsx: it imports the TypeScript
// lab from lab/). See bench/README.md for what is compared and why it is fair.
import { existsSync } from "node:fs";
import { cp, mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { kubeGet, watchObject } from "./lib/kube-watch.mjs";
import { timed, mustRun, median, min, max, rotate, tail } from "./lib/proc.mjs";
import { CM_NAME, PROJECT_NAME, configMap, writeSource } from "./lib/loop-project.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KSAIL_DIST = join(ROOT, "dist", "cli.js");
// The launcher of the ksail snapshot this run measures (see snapshotKsail).
let KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const NAME = PROJECT_NAME;
const NS = "flux-system";
const REQUESTED_AT = "reconcile.fluxcd.io/requestedAt";
const OCI_PATH = `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/ocirepositories`;
const KS_PATH = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${NS}/kustomizations`;
const CM_PATH = "/api/v1/namespaces/default/configmaps";

const { values: opt } = parseArgs({
  options: {
    reps: { type: "string", default: "7" },
    "reps-push": { type: "string", default: "7" },
    only: { type: "string", default: "unchanged,new,push" },
    "no-flux": { type: "boolean", default: false },
    timeout: { type: "string", default: "2m" },
    keep: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results", "reconcile.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(`usage: npm run build && node --import tsx bench/reconcile.mjs [options]
  --reps N        repetitions per tool of the "unchanged" and "new version" reconciles (default 7)
  --reps-push N   repetitions per tool of reconcile --push (push -> applied)          (default 7)
  --only LIST     comma list of unchanged,new,push                                   (default all)
  --no-flux       do not build or run the Flux CLI peer
  --timeout D     --timeout given to both CLIs                                        (default 2m)
  --keep          keep the project temp dir (ksail.yaml, manifests)
  --out FILE      raw results JSON (default bench/results/reconcile.json)`);
  process.exit(0);
}
const REPS = { reconcile: Number(opt.reps), push: Number(opt["reps-push"]) };
const ONLY = new Set(opt.only.split(",").map((s) => s.trim()));
const WITH_FLUX = !opt["no-flux"];

const log = (msg) => console.error(`bench: ${msg}`);

// ---------------------------------------------------------------------------------------------
// The TypeScript lab (needs `node --import tsx`).
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
      throw new Error(
        "this benchmark imports the TypeScript lab (lab/): run it as " +
          "`node --import tsx bench/reconcile.mjs`",
        { cause: error },
      );
    }
    throw error;
  }
}

async function goTools() {
  const names = WITH_FLUX ? ["registry", "flux"] : ["registry"];
  log(`ensuring ${names.join(" + ")} (lab/go-tools.sh ${names.join(" ")}) ...`);
  const r = await timed("bash", [join(ROOT, "lab", "go-tools.sh"), ...names], {
    timeoutMs: 30 * 60_000,
  });
  process.stderr.write(r.stderr.replace(/^go: downloading .*\n/gm, ""));
  const tools = {};
  for (const line of r.stdout.trim().split("\n")) {
    const [name, version, path] = line.split(" ");
    if (name && path) tools[name] = { version, path };
  }
  if (WITH_FLUX && !tools.flux) {
    throw new Error(
      `lab/go-tools.sh did not provide the flux CLI (use --no-flux to skip the peer):\n${tail(r.stderr)}`,
    );
  }
  return tools;
}

/**
 * Copies the built CLI (bin/ksail.js, dist/, package.json's "type") into the run's temp dir and
 * measures that copy: other work in the repo may rebuild dist/ (`npm run build` deletes it first)
 * in the middle of a run. node_modules is linked (the bundle keeps only dockerode external).
 */
async function snapshotKsail(work) {
  const dir = join(work, "ksail");
  await mkdir(join(dir, "bin"), { recursive: true });
  await cp(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
  await cp(join(ROOT, "bin", "ksail.js"), join(dir, "bin", "ksail.js"));
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return join(dir, "bin", "ksail.js");
}

async function gitHead() {
  const head = await timed("git", ["-C", ROOT, "log", "-1", "--format=%h %s"]);
  const dirty = await timed("git", ["-C", ROOT, "status", "--porcelain", "--", "src"]);
  return {
    head: head.stdout.trim(),
    srcDirty: dirty.stdout.trim() !== "",
  };
}

// ---------------------------------------------------------------------------------------------
// Project setup: bench/lib/loop-project.mjs.
function cli({ project, lab, tools }) {
  // A private HOME / DOCKER_CONFIG, as lab/ksail.ts does: no developer credentials.
  const env = { PATH: process.env.PATH, HOME: project, DOCKER_CONFIG: project, NO_COLOR: "1" };
  const timeoutMs = 5 * 60_000;
  return {
    ksail: (args) =>
      timed(process.execPath, [KSAIL_BIN, ...args], { cwd: project, env, timeoutMs }),
    mustKsail: (args) =>
      mustRun(process.execPath, [KSAIL_BIN, ...args], { cwd: project, env, timeoutMs }),
    flux: (args) =>
      timed(
        tools.flux.path,
        [...args, "--kubeconfig", lab.kubeconfigPath, "--context", "ksail-lab"],
        { cwd: project, env, timeoutMs },
      ),
    setGreeting: (greeting) =>
      writeFile(join(project, "k8s", "settings.yaml"), configMap(greeting)),
  };
}

async function setUp({ project, lab, registry, run, labMod }) {
  // Long interval: no automatic reconcile interferes with the timed requests.
  await run.mustKsail(labMod.labInitArgs(lab, registry, NAME, "1h"));
  await labMod.pointFluxAtLabRegistry(project, registry);
  const manifests = await labMod.writeLabInstallManifests(
    join(project, "install.yaml"),
    labMod.LAB_FLUX_VERSION,
  );
  await run.mustKsail(["flux", "install", "--manifests", manifests, "--timeout", "2m"]);
  await run.mustKsail(["flux", "sync"]);
  await writeSource(join(project, "k8s"), "initial");
}

// ---------------------------------------------------------------------------------------------
// Timeline analysis from the bench's own watches.
const annotation = (o) => o?.metadata?.annotations?.[REQUESTED_AT];
const readyOf = (o) => o?.status?.conditions?.find((c) => c.type === "Ready");

/** Handled in the sense both CLIs wait for: the request token handled, current generation, Ready. */
function handled(o, token) {
  if (o?.status?.lastHandledReconcileAt !== token) return false;
  if ((o.status.observedGeneration ?? -1) < (o.metadata?.generation ?? 0)) return false;
  const reconciling = o.status.conditions?.find((c) => c.type === "Reconciling");
  return readyOf(o)?.status === "True" && reconciling?.status !== "True";
}

/**
 * For one object and one run: when the request annotation arrived (the first new value of
 * reconcile.fluxcd.io/requestedAt after spawn, or `token` when known) and when the controller's
 * answer to it arrived, both relative to spawn.
 */
function objectTimeline(watch, tStart, token) {
  let prior;
  for (const e of watch.events) if (e.t < tStart) prior = annotation(e.object);
  const win = watch.events.filter((e) => e.t >= tStart);
  const req = win.find((e) =>
    token ? annotation(e.object) === token : annotation(e.object) && annotation(e.object) !== prior,
  );
  if (!req) return undefined;
  const tok = annotation(req.object);
  const done = win.find((e) => e.t >= req.t && handled(e.object, tok));
  const o = done?.object;
  return {
    token: tok,
    requestSeenMs: req.t - tStart,
    handledSeenMs: done ? done.t - tStart : undefined,
    controllerMs: done ? done.t - req.t : undefined,
    revision: o ? (o.status.artifact?.revision ?? o.status.lastAppliedRevision) : undefined,
  };
}

async function timeline(watches, tStart, ms, tokens = {}) {
  // The bench's watch and the CLI's get the same events; give ours a moment in case it lags.
  const deadline = performance.now() + 2000;
  let oci;
  let ks;
  for (;;) {
    oci = objectTimeline(watches.oci, tStart, tokens.oci);
    ks = objectTimeline(watches.ks, tStart, tokens.ks);
    if (
      (oci?.handledSeenMs !== undefined && ks?.handledSeenMs !== undefined) ||
      performance.now() > deadline
    )
      break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (
    oci?.controllerMs === undefined ||
    oci.handledSeenMs === undefined ||
    ks?.controllerMs === undefined ||
    ks.handledSeenMs === undefined
  ) {
    return { complete: false, oci, ks };
  }
  const controllerMs = oci.controllerMs + ks.controllerMs;
  return {
    complete: true,
    oci,
    ks,
    controllerMs,
    overheadMs: ms - controllerMs,
    spawnToFirstRequestMs: oci.requestSeenMs,
    betweenObjectsMs: ks.requestSeenMs - oci.handledSeenMs,
    lastResultToExitMs: ms - ks.handledSeenMs,
  };
}

/** Spawn-relative time when the bench's ConfigMap watch first saw `greeting`. */
function configMapSeen(watch, tStart, greeting) {
  const e = watch.events.find((x) => x.t >= tStart && x.object?.data?.greeting === greeting);
  return e ? e.t - tStart : undefined;
}

async function greetingNow(lab) {
  const r = await kubeGet(lab, `${CM_PATH}/${CM_NAME}`);
  return r.json?.data?.greeting;
}

// ---------------------------------------------------------------------------------------------
// One timed run of each tool. Every run returns { tool, ms, code, ... } plus its API timeline.
/**
 * What measure() adds to a run after it exits.
 * @typedef {{ pushedVersion?: string, greetingAtExit?: string, applied?: boolean, configMapSeenMs?: number }} Observed
 */
async function timedRun(tool, fn) {
  const tStart = performance.now();
  const r = await fn();
  return { tool, tStart, ms: r.ms, code: r.code ?? r.signal, r };
}

async function ksailReconcile({ run, watches, push = false }) {
  const args = ["workload", "reconcile", "--timeout", opt.timeout, "-o", "json"];
  if (push) args.push("--push");
  const x = await timedRun("ksail", () => run.ksail(args));
  let result;
  try {
    result = JSON.parse(x.r.stdout);
  } catch {
    result = undefined;
  }
  const steps = (result?.steps ?? []).map((s) => ({
    kind: s.kind,
    ms: s.ms,
    revision: s.revision,
  }));
  const stepSum = steps.reduce((a, s) => a + s.ms, 0);
  const api = await timeline(watches, x.tStart, x.ms, { oci: result?.token, ks: result?.token });
  return {
    tool: "ksail",
    tStart: x.tStart,
    ms: x.ms,
    code: x.code,
    ksailMs: result?.ms,
    steps,
    stepSumMs: steps.length ? stepSum : undefined,
    overheadStepsMs: steps.length ? x.ms - stepSum : undefined,
    pushed: result?.pushed
      ? { version: result.pushed.version, unchanged: result.pushed.unchanged }
      : undefined,
    api,
    error: x.code === 0 ? undefined : tail(x.r.stderr || x.r.stdout),
  };
}

async function fluxReconcile({ run, watches }) {
  const x = await timedRun("flux", () =>
    run.flux([
      "reconcile",
      "kustomization",
      NAME,
      "-n",
      NS,
      "--with-source",
      "--timeout",
      opt.timeout,
    ]),
  );
  const api = await timeline(watches, x.tStart, x.ms);
  return {
    tool: "flux",
    tStart: x.tStart,
    ms: x.ms,
    code: x.code,
    api,
    error: x.code === 0 ? undefined : tail(x.r.stderr || x.r.stdout),
    stderr: x.code === 0 ? undefined : x.r.stderr,
  };
}

/** The Flux user's equivalent of `reconcile --push`: `flux push artifact` + `flux reconcile`. */
async function fluxPushReconcile({ run, watches, registry, project, version }) {
  const tStart = performance.now();
  const push = await run.flux([
    "push",
    "artifact",
    `oci://${registry.registry}/${NAME}:${version}`,
    "--path",
    join(project, "k8s"),
    "--source",
    "bench",
    "--revision",
    version,
    "--insecure-registry",
  ]);
  if (push.code !== 0) {
    return {
      tool: "flux",
      tStart,
      ms: push.ms,
      code: push.code,
      error: `flux push artifact failed:\n${tail(push.stderr || push.stdout)}`,
    };
  }
  const rec = await fluxReconcile({ run, watches });
  const ms = performance.now() - tStart; // both processes, spawn of the first to exit of the second
  return {
    ...rec,
    tStart,
    ms,
    pushMs: push.ms,
    reconcileMs: rec.ms,
    // the timeline relative to the start of the whole step, like ksail's --push run
    api: await timeline(watches, tStart, ms),
  };
}

/** The next patch version after the highest semver tag in the project's repository (untimed). */
async function nextVersion(registry) {
  const res = await fetch(`${registry.url}/v2/${NAME}/tags/list`);
  const tags = res.ok ? (/** @type {{ tags?: string[] }} */ (await res.json()).tags ?? []) : [];
  let best = [0, 0, 0];
  for (const t of tags) {
    const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(t);
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

// ---------------------------------------------------------------------------------------------
async function measure({ lab, registry, project, run, watches }) {
  const tools = WITH_FLUX ? ["ksail", "flux"] : ["ksail"];
  const runs = [];
  const fail = (x, what) => {
    throw new Error(`${x.tool} ${what} failed (exit ${x.code}):\n${x.error ?? ""}`);
  };
  const record = (x, kase, i) => {
    runs.push({ case: kase, i, ...x });
    const api = x.api?.complete
      ? `controller ${x.api.controllerMs.toFixed(0)} ms, overhead ${x.api.overheadMs.toFixed(0)} ms`
      : "timeline incomplete";
    log(`  ${kase} #${i} ${x.tool}: ${x.ms.toFixed(0)} ms (${api})`);
  };

  // Warm-up, untimed: version 1 and one reconcile per tool.
  log("warm-up: ksail workload reconcile --push (version 1), one reconcile per tool");
  await run.setGreeting("warm-up");
  const first = await ksailReconcile({ run, watches, push: true });
  if (first.code !== 0) fail(first, "warm-up reconcile --push");
  for (const t of tools) {
    const x =
      t === "ksail"
        ? await ksailReconcile({ run, watches })
        : await fluxReconcile({ run, watches });
    if (x.code !== 0) fail(x, "warm-up reconcile");
  }

  if (ONLY.has("unchanged")) {
    log(`nothing changed: ${REPS.reconcile} reconciles per tool (rotating order)`);
    for (let i = 0; i < REPS.reconcile; i++) {
      for (const t of rotate(tools, i)) {
        const x =
          t === "ksail"
            ? await ksailReconcile({ run, watches })
            : await fluxReconcile({ run, watches });
        if (x.code !== 0) fail(x, "reconcile");
        record(x, "unchanged", i);
      }
    }
  }

  if (ONLY.has("new")) {
    log(`new version pushed just before: ${REPS.reconcile} reconciles per tool (rotating order)`);
    for (let i = 0; i < REPS.reconcile; i++) {
      for (const t of rotate(tools, i)) {
        const greeting = `new-${t}-${i}`;
        await run.setGreeting(greeting);
        const push = await run.ksail(["workload", "push", "-o", "json"]); // untimed
        if (push.code !== 0) throw new Error(`ksail workload push failed:\n${tail(push.stderr)}`);
        const x =
          t === "ksail"
            ? await ksailReconcile({ run, watches })
            : await fluxReconcile({ run, watches });
        if (x.code !== 0) fail(x, "reconcile");
        x.pushedVersion = JSON.parse(push.stdout).version;
        x.greetingAtExit = await greetingNow(lab);
        x.applied = x.greetingAtExit === greeting;
        x.configMapSeenMs = configMapSeen(watches.cm, x.tStart, greeting);
        record(x, "new", i);
      }
    }
  }

  if (ONLY.has("push")) {
    log(
      `push -> applied: ${REPS.push} runs per tool (ksail reconcile --push; flux push artifact + flux reconcile)`,
    );
    for (let i = 0; i < REPS.push; i++) {
      for (const t of rotate(tools, i)) {
        const greeting = `push-${t}-${i}`;
        await run.setGreeting(greeting);
        /** @type {Awaited<ReturnType<typeof ksailReconcile | typeof fluxPushReconcile>> & Observed} */
        const x =
          t === "ksail"
            ? await ksailReconcile({ run, watches, push: true })
            : await fluxPushReconcile({
                run,
                watches,
                registry,
                project,
                version: await nextVersion(registry),
              });
        if (x.code !== 0) fail(x, "push + reconcile");
        x.greetingAtExit = await greetingNow(lab);
        x.applied = x.greetingAtExit === greeting;
        x.configMapSeenMs = configMapSeen(watches.cm, x.tStart, greeting);
        record(x, "push", i);
      }
    }
  }
  return runs;
}

// Start-up reference: what any run of each CLI costs before its first API request.
async function startup({ tools, reps = 7 }) {
  /** @type {Record<string, [string, string[]]>} */
  const cmds = {
    "node -e 0": [process.execPath, ["-e", "0"]],
    "ksail --version": [process.execPath, [KSAIL_BIN, "--version"]],
    ...(WITH_FLUX ? { "flux version --client": [tools.flux.path, ["version", "--client"]] } : {}),
  };
  const names = Object.keys(cmds);
  const runs = Object.fromEntries(names.map((n) => [n, /** @type {number[]} */ ([])]));
  for (const n of names) await mustRun(...cmds[n]); // warm-up
  for (let i = 0; i < reps; i++) {
    for (const n of rotate(names, i)) runs[n].push((await mustRun(...cmds[n])).ms);
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
function fmt(ms) {
  return Number.isFinite(ms) ? (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)) : "-";
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) =>
          c <= 1 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]),
        )
        .join("  "),
    )
    .join("\n");
}

const CASES = [
  ["unchanged", "nothing changed"],
  ["new", "new version pushed just before"],
  ["push", "push -> applied (--push)"],
];

function summarize(runs) {
  const out = {};
  for (const [kase] of CASES) {
    for (const tool of ["ksail", "flux"]) {
      const xs = runs.filter((r) => r.case === kase && r.tool === tool);
      if (!xs.length) continue;
      const pick = (f) => xs.map(f).filter(Number.isFinite);
      const stat = (f) => {
        const v = pick(f);
        return { median: median(v), min: min(v), max: max(v), n: v.length };
      };
      out[`${kase}/${tool}`] = {
        wall: stat((r) => r.ms),
        controller: stat((r) => r.api?.controllerMs),
        overheadApi: stat((r) => r.api?.overheadMs),
        overheadSteps: stat((r) => r.overheadStepsMs),
        spawnToFirstRequest: stat((r) => r.api?.spawnToFirstRequestMs),
        betweenObjects: stat((r) => r.api?.betweenObjectsMs),
        lastResultToExit: stat((r) => r.api?.lastResultToExitMs),
        configMapSeen: stat((r) => r.configMapSeenMs),
        push: stat((r) => r.pushMs),
        applied: xs.filter((r) => r.applied !== undefined).every((r) => r.applied),
        appliedChecked: xs.filter((r) => r.applied !== undefined).length,
        incompleteTimelines: xs.filter((r) => !r.api?.complete).length,
      };
    }
  }
  return out;
}

function report(summary, startupRuns) {
  const rows = [
    [
      "case",
      "tool",
      "n",
      "wall med",
      "min",
      "max",
      "ctrl (API) med",
      "wall-ctrl med",
      "wall-Σsteps med",
      "spawn→CM changed med",
      "applied@exit",
      "ksail/flux",
    ],
  ];
  for (const [kase, label] of CASES) {
    const k = summary[`${kase}/ksail`];
    const f = summary[`${kase}/flux`];
    for (const [tool, s] of [
      ["ksail", k],
      ["flux", f],
    ]) {
      if (!s) continue;
      rows.push([
        label,
        tool === "flux" && kase === "push" ? "flux push artifact + reconcile" : tool,
        s.wall.n,
        fmt(s.wall.median),
        fmt(s.wall.min),
        fmt(s.wall.max),
        fmt(s.controller.median),
        fmt(s.overheadApi.median),
        fmt(s.overheadSteps.median),
        fmt(s.configMapSeen.median),
        s.appliedChecked ? (s.applied ? "yes" : "NO") : "",
        tool === "flux" && k ? `${(k.wall.median / s.wall.median).toFixed(2)}x` : "",
      ]);
    }
  }
  console.log(`\n${table(rows)}\n`);
  console.log(
    "ctrl (API) = Σ over OCIRepository and Kustomization of (controller's answer seen − request annotation seen), from the bench's own watch;",
  );
  console.log(
    "wall-ctrl = the CLI's own share of the wall time; wall-Σsteps = wall − ksail's per-step ms from its -o json (request sent → result seen).\n",
  );
  for (const [kase, label] of CASES) {
    for (const tool of ["ksail", "flux"]) {
      const s = summary[`${kase}/${tool}`];
      if (!s) continue;
      const parts = [
        `spawn→first request ${fmt(s.spawnToFirstRequest.median)}`,
        `OCIRepository ready→Kustomization request ${fmt(s.betweenObjects.median)}`,
        `last result→exit ${fmt(s.lastResultToExit.median)}`,
      ];
      if (s.configMapSeen.n) parts.push(`spawn→ConfigMap changed ${fmt(s.configMapSeen.median)}`);
      if (s.push.n) parts.push(`flux push artifact ${fmt(s.push.median)}`);
      console.log(`${label}, ${tool}: medians ms: ${parts.join(", ")}`);
      if (s.incompleteTimelines)
        console.log(`  (${s.incompleteTimelines} runs without a complete API timeline)`);
    }
  }
  if (startupRuns) {
    const parts = Object.entries(startupRuns).map(([n, xs]) => `${n} ${fmt(median(xs))}`);
    console.log(`start-up reference, medians ms: ${parts.join(", ")}`);
  }
  for (const [kase, label] of CASES) {
    const s = summary[`${kase}/ksail`];
    if (!s || !s.overheadApi.n || kase === "push") continue; // --push: the push is in the wall time
    const ok = s.overheadApi.median < 300;
    console.log(
      `target (issue 4) ksail overhead < 300 ms, ${label}: median ${fmt(s.overheadApi.median)} ms (API) / ${fmt(s.overheadSteps.median)} ms (steps) → ${ok ? "met" : "NOT met"}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const t0 = Date.now();
  if (!existsSync(KSAIL_DIST)) {
    throw new Error("dist/cli.js is missing: run `npm run build` first");
  }
  const labMod = await loadLab();
  const tools = await goTools();
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-reconcile-"));
  const built = await gitHead();
  try {
    KSAIL_BIN = await snapshotKsail(work);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw new Error(
      `could not copy the built CLI (dist/ rebuilt meanwhile?): ${error instanceof Error ? error.message : error}`,
      {
        cause: error,
      },
    );
  }
  // The distribution v3 registry (what registry:3 runs), as bench/run.mjs uses, when built.
  if (!process.env.KSAIL_REGISTRY_BIN && tools.registry?.path && existsSync(tools.registry.path)) {
    process.env.KSAIL_REGISTRY_BIN = tools.registry.path;
  }
  let lab;
  let registry;
  const project = join(work, "project");
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
    const versions = {
      ksail: (await mustRun(process.execPath, [KSAIL_BIN, "--version"])).stdout.trim(),
      ksailBuiltFrom: built,
      flux: WITH_FLUX
        ? (await mustRun(tools.flux.path, ["version", "--client"])).stdout.trim()
        : undefined,
    };
    log(
      "starting the lab (etcd, kube-apiserver, kube-controller-manager, Flux controllers) and a registry ...",
    );
    const labStart = Date.now();
    ({ lab, registry } = await labMod.startFluxLab());
    log(
      `lab up in ${((Date.now() - labStart) / 1000).toFixed(1)} s; registry ${registry.registry}`,
    );
    await mkdir(project);
    const run = cli({ project, lab, tools });
    await setUp({
      project,
      lab,
      registry,
      run,
      labMod,
    });
    watches = {
      oci: watchObject(lab, OCI_PATH, NAME),
      ks: watchObject(lab, KS_PATH, NAME),
      cm: watchObject(lab, CM_PATH, CM_NAME),
    };
    await Promise.all(Object.values(watches).map((w) => w.ready));

    const loadBefore = os.loadavg();
    let runs;
    try {
      runs = await measure({ lab, registry, project, run, watches });
    } catch (error) {
      log(`--- kustomize-controller ---\n${lab.logs("kustomize-controller", 15)}`);
      log(`--- source-controller ---\n${lab.logs("source-controller", 15)}`);
      throw error;
    }
    const startupRuns = await startup({ tools });
    const summary = summarize(runs);
    report(summary, startupRuns);

    const json = {
      date: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - t0) / 1000),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGiB: Math.round(os.totalmem() / 2 ** 30),
        loadavgBefore: loadBefore,
        loadavgAfter: os.loadavg(),
      },
      node: process.version,
      versions,
      flux: WITH_FLUX ? tools.flux : undefined,
      registry: { binary: process.env.KSAIL_REGISTRY_BIN ?? "/usr/bin/docker-registry" },
      lab: {
        controllers: labMod.LAB_CONTROLLERS?.map((c) => `${c.name} ${c.version}`),
      },
      repetitions: REPS,
      unit: "ms; wall = spawn to exit; *SeenMs = relative to spawn, when the bench's own watch saw it",
      summary,
      startup: startupRuns,
      runs: runs.map(({ tStart: _t, ...rest }) => rest),
    };
    await mkdir(dirname(opt.out), { recursive: true });
    await writeFile(opt.out, `${JSON.stringify(json, null, 2)}\n`);
    const prettier = join(ROOT, "node_modules", ".bin", "prettier");
    if (existsSync(prettier)) await timed(prettier, ["--write", opt.out]);
    log(
      `raw results: ${relative(process.cwd(), opt.out)} (${Math.round((Date.now() - t0) / 1000)} s in all)`,
    );
    const notApplied = runs.filter((x) => x.applied === false);
    if (notApplied.length) {
      log(`${notApplied.length} runs returned before the new ConfigMap value was in the API`);
      process.exitCode = 1;
    }
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
});
