#!/usr/bin/env node
// ksail benchmark: `ksail workload push` against the Go peers (oras, crane) on one real registry,
// plus CLI start-up. Run with `npm run bench` (builds dist/ first) or `node bench/run.mjs`.
// See bench/README.md for what is compared and why it is fair.
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { smallCorpus, largeCorpus } from "./lib/corpus.mjs";
import { timed, timedRss, mustRun, median, min, max, rotate, tail } from "./lib/proc.mjs";
import { startRegistry } from "./lib/registry.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const KSAIL_DIST = join(ROOT, "dist", "cli.js");
const FLUX_CONFIG_TYPE = "application/vnd.cncf.flux.config.v1+json";
const FLUX_LAYER_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** Not a push: `node -e 0`, timed among the pushes of (a) (see pushers). */
const NODE_FLOOR = "node -e 0";

const { values: opt } = parseArgs({
  options: {
    "reps-a": { type: "string", default: "7" },
    "reps-b": { type: "string", default: "5" },
    "reps-c": { type: "string", default: "2" },
    "reps-unchanged": { type: "string", default: "5" },
    startup: { type: "string", default: "10" },
    only: { type: "string", default: "a,b,c,startup" },
    "peers-only": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results", "latest.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(`usage: node bench/run.mjs [options]   (npm run bench -- [options])
  --reps-a N          repetitions for (a) 20 small files            (default 7)
  --reps-b N          repetitions for (b) 2,000 files / ~20 MiB     (default 5)
  --reps-c N          repetitions for (c) 20,000 files / ~200 MiB   (default 2; ksail cold and oras)
  --reps-unchanged N  repetitions of the unchanged-content re-push  (default 5, 0 = skip)
  --startup N         repetitions of the start-up commands          (default 10)
  --only LIST         comma list of a,b,c,startup                   (default all)
  --peers-only        do not run ksail (develop/measure the peers alone)
  --keep              keep the temp dir (corpora, registry storage and log)
  --out FILE          raw results JSON (default bench/results/latest.json)`);
  process.exit(0);
}
const REPS = {
  a: Number(opt["reps-a"]),
  b: Number(opt["reps-b"]),
  c: Number(opt["reps-c"]),
  unchanged: Number(opt["reps-unchanged"]),
  startup: Number(opt.startup),
};
const ONLY = new Set(opt.only.split(",").map((s) => s.trim()));

const log = (msg) => console.error(`bench: ${msg}`);

// ---------------------------------------------------------------------------------------------
// Go peers
async function goTools() {
  log("ensuring the Go peers (lab/go-tools.sh) ...");
  const r = await timed("bash", [join(ROOT, "lab", "go-tools.sh")], {
    timeoutMs: 30 * 60_000,
  });
  process.stderr.write(r.stderr.replace(/^go: downloading .*\n/gm, ""));
  const tools = {};
  for (const line of r.stdout.trim().split("\n")) {
    const [name, version, path] = line.split(" ");
    if (name && path) tools[name] = { version, path };
  }
  if (!tools.oras || !tools.crane) {
    throw new Error(`lab/go-tools.sh did not provide oras and crane:\n${tail(r.stderr)}`);
  }
  return tools;
}

// ---------------------------------------------------------------------------------------------
// ksail availability: a clear reason when it cannot be measured.
async function ksailStatus() {
  if (opt["peers-only"]) return { ok: false, reason: "skipped (--peers-only)" };
  if (!existsSync(KSAIL_DIST)) {
    return {
      ok: false,
      reason:
        "dist/cli.js is missing: the ksail bundle is not built. Run `npm run build` " +
        "(`npm run bench` builds first); if the build fails, the CLI is not ready yet.",
    };
  }
  const v = await timed(process.execPath, [KSAIL_BIN, "--version"], { timeoutMs: 30_000 });
  if (v.code !== 0) {
    return { ok: false, reason: `\`ksail --version\` fails:\n${tail(v.stderr || v.stdout)}` };
  }
  const h = await timed(process.execPath, [KSAIL_BIN, "workload", "push", "--help"], {
    timeoutMs: 30_000,
  });
  if (h.code !== 0) {
    return {
      ok: false,
      reason: `\`ksail workload push --help\` fails (command not there yet?):\n${tail(h.stderr || h.stdout)}`,
    };
  }
  return { ok: true, version: v.stdout.trim() };
}

// ---------------------------------------------------------------------------------------------
// One push per tool. Each returns the timed result (ms = whole wall time of the step).
function pushers({ registry, tools, work }) {
  const cfg = join(work, "flux-config.json");
  let coldCaches = 0;
  /**
   * ksail with its cache in `cache` (XDG_CACHE_HOME): the validation cache and lock files live
   * there, so results do not depend on this machine's history.
   */
  const ksail = (cache) => (corpus, repo, tag) =>
    timedRss(
      process.execPath,
      [
        KSAIL_BIN,
        "workload",
        "push",
        "--registry",
        `oci://${registry.host}/${repo}`,
        "--path",
        corpus.dir,
        "--version",
        tag,
      ],
      { cwd: work, env: { ...process.env, NO_COLOR: "1", XDG_CACHE_HOME: cache() } },
    );
  return {
    // Warm: one cache dir per corpus, filled by the warm-up push (a developer's second push).
    ksail: ksail(() => join(work, "cache-warm")),
    // Cold: a new empty cache dir for every push (the first push on a machine, as in CI).
    "ksail-cold": ksail(() => join(work, `cache-cold-${coldCaches++}`)),
    // oras packs the directory itself (tar + gzip in-process, like ksail) and pushes a manifest
    // of Flux's shape: config {} of the Flux config type, one Flux content layer. It also moves
    // `latest`, as ksail does.
    oras: (corpus, repo, tag) =>
      timedRss(
        tools.oras.path,
        [
          "push",
          `${registry.host}/${repo}:${tag},latest`,
          "--plain-http",
          "--config",
          `${cfg}:${FLUX_CONFIG_TYPE}`,
          "--annotation",
          `org.opencontainers.image.source=${corpus.dir}`,
          "--annotation",
          `org.opencontainers.image.revision=${tag}`,
          `.:${FLUX_LAYER_TYPE}`,
        ],
        { cwd: corpus.dir },
      ),
    // crane cannot pack a directory: a reproducible `tar | gzip -n` builds the layer inside the
    // timed step, then `crane append` pushes it onto an empty OCI base.
    crane: async (corpus, repo, tag) => {
      const tgz = join(work, `crane-layer-${repo.replace(/\W/g, "_")}.tar.gz`);
      const pack = await timed(
        "sh",
        [
          "-c",
          'tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | gzip -n > "$2"',
          "sh",
          corpus.dir,
          tgz,
        ],
        {},
      );
      if (pack.code !== 0) return { ...pack, packMs: pack.ms };
      const push = await timed(tools.crane.path, [
        "append",
        "--oci-empty-base",
        "-f",
        tgz,
        "-t",
        `${registry.host}/${repo}:${tag}`,
        "--insecure",
      ]);
      return { ...push, ms: pack.ms + push.ms, packMs: pack.ms, pushMs: push.ms };
    },
    // The floor of goal 2: Node starting and exiting, in the same rotation and under the same
    // GNU time wrapper as the pushes, so both medians come from the same minutes of load.
    [NODE_FLOOR]: () => timedRss(process.execPath, ["-e", "0"], {}),
    async prepare() {
      await writeFile(cfg, "{}");
    },
  };
}

// ---------------------------------------------------------------------------------------------
async function pushCase({
  key,
  label,
  corpus,
  reps,
  names,
  push,
  ksail,
  results,
  warmup = true,
  unchanged = REPS.unchanged,
}) {
  const runs = Object.fromEntries(
    names.map((n) => [n, { new: [], unchanged: [], rssKiB: [], cpuMs: [], extra: [] }]),
  );
  const failed = {};
  const repoOf = (n) => `bench/${n}-${key}`;
  const active = () => names.filter((n) => !failed[n]);

  async function step(name, tag, phase, i) {
    const r = await push[name](corpus, repoOf(name), tag);
    if (r.code !== 0) {
      const msg = `${name} push ${repoOf(name)}:${tag} failed (exit ${r.code ?? r.signal}):\n${tail(r.stderr || r.stdout)}`;
      if (!name.startsWith("ksail")) throw new Error(msg);
      failed[name] = msg;
      log(msg);
      return;
    }
    if (phase) {
      runs[name][phase].push(r.ms);
      if (phase === "new" && Number.isFinite(r.peakRssKiB)) runs[name].rssKiB.push(r.peakRssKiB);
      if (phase === "new" && Number.isFinite(r.cpuMs)) runs[name].cpuMs.push(r.cpuMs);
      if (r.packMs !== undefined)
        runs[name].extra.push({ phase, i, packMs: r.packMs, pushMs: r.pushMs });
      if (name.startsWith("ksail")) runs[name].extra.push({ phase, i, steps: ksailSteps(r) });
    }
  }

  if (warmup) {
    log(`${label}: warm-up push per tool`);
    for (const n of active()) {
      await corpus.mark(`warmup-${n}`);
      await step(n, "0.9.0", null);
    }
  }
  log(`${label}: ${reps} timed pushes of new content per tool (rotating order)`);
  for (let i = 0; i < reps; i++) {
    for (const n of rotate(active(), i)) {
      await corpus.mark(`${n}-${i}`); // new layer content for every single push
      await step(n, `1.0.${i}`, "new", i);
    }
  }
  if (unchanged > 0) {
    log(`${label}: ${unchanged} timed re-pushes of unchanged content (new tag) per tool`);
    await corpus.mark("unchanged");
    for (const n of active()) await step(n, "1.1.0", null); // uploads the blob once, untimed
    for (let i = 1; i <= unchanged; i++) {
      for (const n of rotate(active(), i)) await step(n, `1.1.${i}`, "unchanged", i);
    }
  }
  results.push({
    case: key,
    label,
    loadavg: os.loadavg(),
    files: corpus.files,
    bytes: corpus.bytes,
    runs,
    failed,
    ksailNote: ksail.ok ? undefined : ksail.reason,
  });
}

/**
 * ksail's own per-step timings from its human progress lines, e.g. "✓ Validated manifests (7.3s)"
 * → { Validated: 7300 }. Best effort: an unknown format just gives {}.
 */
function ksailSteps(r) {
  const steps = {};
  for (const line of `${r.stderr}\n${r.stdout}`.split("\n")) {
    const m = /^\s*✓\s+(\S+).*\((\d+(?:\.\d+)?)(ms|s)\)\s*$/.exec(line);
    if (m) steps[m[1]] = (steps[m[1]] ?? 0) + Number(m[2]) * (m[3] === "s" ? 1000 : 1);
  }
  return steps;
}

// Untimed sanity check: every tool's last push resolves, and the manifest shape is what we think.
async function verify(registry, results) {
  const out = [];
  for (const r of results) {
    for (const name of Object.keys(r.runs)) {
      if (name === NODE_FLOOR || r.failed[name] || r.runs[name].new.length === 0) continue;
      const tag = `1.0.${r.runs[name].new.length - 1}`;
      const url = `http://${registry.host}/v2/bench/${name}-${r.case}/manifests/${tag}`;
      const res = await fetch(url, { headers: { Accept: OCI_MANIFEST } });
      if (res.status !== 200) {
        out.push({ case: r.case, tool: name, tag, ok: false, error: `HTTP ${res.status}` });
        continue;
      }
      const m =
        /** @type {{ config?: { mediaType?: string }, layers?: { mediaType?: string, size?: number }[] }} */ (
          await res.json()
        );
      out.push({
        case: r.case,
        tool: name,
        tag,
        ok: true,
        config: m.config?.mediaType,
        layers: (m.layers ?? []).map((l) => `${l.mediaType} ${l.size}`),
        fluxShape:
          m.config?.mediaType === FLUX_CONFIG_TYPE &&
          m.layers?.length === 1 &&
          m.layers[0].mediaType === FLUX_LAYER_TYPE,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
async function startup({ tools, ksail, reps }) {
  /** @type {Record<string, [string, string[]]>} */
  const cmds = {
    "node -e 0": [process.execPath, ["-e", "0"]],
    "oras version": [tools.oras.path, ["version"]],
    "crane version": [tools.crane.path, ["version"]],
  };
  if (ksail.ok) {
    cmds["ksail --version"] = [process.execPath, [KSAIL_BIN, "--version"]];
    cmds["ksail --help"] = [process.execPath, [KSAIL_BIN, "--help"]];
  }
  const names = Object.keys(cmds);
  const runs = Object.fromEntries(names.map((n) => [n, /** @type {number[]} */ ([])]));
  for (const n of names) await mustRun(...cmds[n]); // warm-up (also fills Node's compile cache)
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
          c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]),
        )
        .join("  "),
    )
    .join("\n");
}

const mib = (kib) => (Number.isFinite(kib) ? (kib / 1024).toFixed(0) : "-");

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function report(pushResults, startupRuns, ksail) {
  const rows = [
    [
      "case",
      "tool",
      "n",
      "median ms",
      "min ms",
      "max ms",
      "CPU ms (mean)",
      "peak RSS MiB",
      "ksail/tool (median)",
    ],
  ];
  for (const r of pushResults) {
    for (const phase of ["new", "unchanged"]) {
      const warm = r.runs.ksail?.[phase] ?? [];
      const cold = r.runs["ksail-cold"]?.[phase] ?? [];
      for (const [name, runs] of Object.entries(r.runs)) {
        const xs = runs[phase];
        if (xs.length === 0 && !name.startsWith("ksail")) continue;
        const ratios = [];
        if (name === NODE_FLOOR) {
          if (warm.length) ratios.push(`ksail +${fmt(median(warm) - median(xs))} ms`);
          if (cold.length) ratios.push(`cold +${fmt(median(cold) - median(xs))} ms`);
        } else if (!name.startsWith("ksail")) {
          if (warm.length) ratios.push(`${(median(warm) / median(xs)).toFixed(2)}x`);
          if (cold.length) ratios.push(`cold ${(median(cold) / median(xs)).toFixed(2)}x`);
        }
        rows.push([
          `(${r.case}) ${phase === "new" ? "new content" : "unchanged re-push"}`,
          name,
          xs.length || (r.failed[name] ? "FAILED" : "skipped"),
          fmt(median(xs)),
          fmt(min(xs)),
          fmt(max(xs)),
          phase === "new" ? fmt(mean(runs.cpuMs ?? [])) : "",
          phase === "new" ? mib(median(runs.rssKiB ?? [])) : "",
          ratios.join(", "),
        ]);
      }
    }
  }
  if (startupRuns) {
    const node0 = median(startupRuns["node -e 0"]);
    for (const [name, xs] of Object.entries(startupRuns)) {
      const ratio = name.startsWith("ksail") ? `${(median(xs) / node0).toFixed(2)}x node -e 0` : "";
      rows.push([
        "startup",
        name,
        xs.length,
        fmt(median(xs)),
        fmt(min(xs)),
        fmt(max(xs)),
        "",
        "",
        ratio,
      ]);
    }
  }
  console.log(`\n${table(rows)}\n`);
  for (const r of pushResults) {
    console.log(
      `(${r.case}) load average at the end of the case: ${r.loadavg.map((l) => l.toFixed(2)).join(" ")}`,
    );
  }
  for (const r of pushResults) {
    const c = r.runs.crane?.extra ?? [];
    if (c.length) {
      const pack = median(c.filter((e) => e.phase === "new").map((e) => e.packMs));
      console.log(`(${r.case}) crane step = tar|gzip ${fmt(pack)} ms (median) + crane append`);
    }
  }
  for (const r of pushResults) {
    const k = r.runs.ksail?.extra ?? [];
    for (const phase of ["new", "unchanged"]) {
      const runs = k.filter((e) => e.phase === phase).map((e) => e.steps);
      const keys = [...new Set(runs.flatMap((s) => Object.keys(s)))];
      if (keys.length === 0) continue;
      const parts = keys.map((key) => `${key} ${fmt(median(runs.map((s) => s[key] ?? 0)))}`);
      console.log(`(${r.case}) ksail's own step timings, ${phase}, median ms: ${parts.join(", ")}`);
    }
  }
  console.log(`\n${goals(pushResults, startupRuns).join("\n")}`);
  if (!ksail.ok) console.log(`\nksail NOT measured: ${ksail.reason}`);
  for (const r of pushResults) {
    for (const [name, msg] of Object.entries(r.failed)) {
      console.log(`\n(${r.case}) ${name} FAILED: ${msg}`);
    }
  }
}

/**
 * Issue 26's goals measured here (2, 3, 4), one line each with the peer's figure from this run:
 * "pass" or "MISS", or why it was not measured. Goals 1 and 5 are bench/watch.mjs's, 6 is
 * bench/prune.mjs's, 7 the `up` bench's.
 */
function goals(pushResults, startupRuns) {
  const byCase = Object.fromEntries(pushResults.map((r) => [r.case, r.runs]));
  const verdict = (ok) => (ok ? "pass" : "MISS");
  const lines = ["goals (issue 26):"];
  lines.push("  1. watch vs the Flux recipe: node bench/watch.mjs");
  const a = byCase.a;
  const floor = median(a?.[NODE_FLOOR]?.new ?? []);
  const smallWarm = median(a?.ksail?.new ?? []);
  if (Number.isFinite(floor) && Number.isFinite(smallWarm)) {
    const extra = smallWarm - floor;
    const cpuExtra = mean(a.ksail.cpuMs) - mean(a[NODE_FLOOR].cpuMs);
    const startupFloor = startupRuns ? median(startupRuns["node -e 0"]) : NaN;
    lines.push(
      `  2. small push (a), warm cache: ${fmt(smallWarm)} ms = node -e 0 (${fmt(floor)}, same rotation) + ${fmt(extra)} ms ` +
        `(goal <= +60; CPU +${fmt(cpuExtra)} ms; cold cache +${fmt(median(a["ksail-cold"]?.new ?? []) - floor)}; ` +
        `oras ${fmt(median(a.oras?.new ?? []))} ms` +
        (Number.isFinite(startupFloor)
          ? `; node -e 0 in the start-up phase ${fmt(startupFloor)}`
          : "") +
        `): ${verdict(extra <= 60)}`,
    );
  } else {
    lines.push("  2. small push: not measured (needs (a) with ksail)");
  }
  const c = byCase.c;
  const rssC = median(c?.["ksail-cold"]?.rssKiB ?? []);
  lines.push(
    Number.isFinite(rssC)
      ? `  3. peak RSS of ksail push, 20,000 files / 200 MiB: ${mib(rssC)} MiB (goal <= 150; oras ${mib(median(c.oras?.rssKiB ?? []))} MiB): ${verdict(rssC / 1024 <= 150)}`
      : "  3. peak RSS at 200 MiB: not measured (--only without c)",
  );
  const b = byCase.b;
  const coldB = median(b?.["ksail-cold"]?.new ?? []);
  const orasB = median(b?.oras?.new ?? []);
  lines.push(
    Number.isFinite(coldB) && Number.isFinite(orasB)
      ? `  4. 20 MiB push, cold cache: ksail ${fmt(coldB)} ms / oras ${fmt(orasB)} ms = ${(coldB / orasB).toFixed(2)}x (goal <= 1.00; warm ${(median(b.ksail?.new ?? []) / orasB).toFixed(2)}x): ${verdict(coldB / orasB <= 1)}`
      : "  4. 20 MiB push: not measured (--only without b)",
  );
  lines.push("  5. no leak in a long watch: node bench/watch.mjs");
  lines.push("  6. prune of 1,000 versions: node bench/prune.mjs");
  return lines;
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const t0 = Date.now();
  const tools = await goTools();
  const ksail = await ksailStatus();
  if (!ksail.ok) log(`ksail will NOT be measured: ${ksail.reason}`);

  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-"));
  let registry = null;
  const cleanup = async () => {
    await registry?.stop();
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
    registry = await startRegistry({ binary: tools.registry?.path ?? null, workDir: work });
    log(`registry: ${registry.impl} (${registry.version}) on ${registry.host}`);
    const push = pushers({ registry, tools, work });
    await push.prepare();
    const names = ksail.ok ? ["ksail", "ksail-cold", "oras", "crane"] : ["oras", "crane"];
    const pushResults = [];
    const loadBefore = os.loadavg();

    if (ONLY.has("a")) {
      log("generating (a): 20 small ConfigMaps + kustomization.yaml");
      const corpus = await smallCorpus(join(work, "small"));
      await pushCase({
        key: "a",
        label: "(a) 20 small files",
        corpus,
        reps: REPS.a,
        names: ksail.ok ? [...names, NODE_FLOOR] : names,
        push,
        ksail,
        results: pushResults,
      });
    }
    if (ONLY.has("b")) {
      log("generating (b): 2,000 ConfigMaps, ~20 MiB");
      const corpus = await largeCorpus(join(work, "large"));
      await pushCase({
        key: "b",
        label: "(b) 2,000 files / ~20 MiB",
        corpus,
        reps: REPS.b,
        names,
        push,
        ksail,
        results: pushResults,
      });
    }
    if (ONLY.has("c")) {
      log("generating (c): 20,000 ConfigMaps, ~200 MiB");
      const corpus = await largeCorpus(join(work, "huge"), 3, {
        files: 20_000,
        totalBytes: 200 * 1024 * 1024,
      });
      // Time and peak memory only: ksail with a cold cache and oras, no warm-up (the corpus was
      // just written, so it is in the page cache for both), no unchanged re-push.
      await pushCase({
        key: "c",
        label: "(c) 20,000 files / ~200 MiB",
        corpus,
        reps: REPS.c,
        names: names.filter((n) => n === "ksail-cold" || n === "oras"),
        push,
        ksail,
        results: pushResults,
        warmup: false,
        unchanged: 0,
      });
    }
    const startupRuns = ONLY.has("startup")
      ? (log(`start-up: ${REPS.startup} runs of each command`),
        await startup({ tools, ksail, reps: REPS.startup }))
      : null;
    const checks = await verify(registry, pushResults);
    for (const c of checks) {
      if (!c.ok) log(`verify: ${c.tool} (${c.case}) ${c.tag}: ${c.error}`);
      else if (c.tool.startsWith("ksail") && !c.fluxShape) {
        log(
          `verify: ksail (${c.case}) manifest is NOT Flux-shaped: config ${c.config}, layers ${c.layers?.join(", ")}`,
        );
      }
    }

    report(pushResults, startupRuns, ksail);

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
      ksail: ksail.ok ? { version: ksail.version } : { measured: false, reason: ksail.reason },
      peers: { oras: tools.oras, crane: tools.crane },
      registry: { impl: registry.impl, version: registry.version, binary: registry.binary },
      repetitions: REPS,
      unit: "ms (wall time of the whole step, spawn to exit)",
      push: pushResults.map((r) => ({
        ...r,
        medians: Object.fromEntries(
          Object.entries(r.runs).map(([n, x]) => [
            n,
            {
              new: median(x.new),
              unchanged: median(x.unchanged),
              peakRssKiB: median(x.rssKiB ?? []),
              cpuMsMean: mean(x.cpuMs ?? []),
            },
          ]),
        ),
      })),
      startup: startupRuns,
      goals: goals(pushResults, startupRuns),
      verify: checks,
    };
    await mkdir(dirname(opt.out), { recursive: true });
    await writeFile(opt.out, `${JSON.stringify(json, null, 2)}\n`);
    // Keep the file prettier-clean, so `npm run format:check` does not trip over a local result.
    const prettier = join(ROOT, "node_modules", ".bin", "prettier");
    if (existsSync(prettier)) await timed(prettier, ["--write", opt.out]);
    log(
      `raw results: ${relative(process.cwd(), opt.out)} (${Math.round((Date.now() - t0) / 1000)} s in all)`,
    );

    const ksailFailed = pushResults.some((r) => r.failed.ksail);
    if (ksailFailed || (!ksail.ok && !opt["peers-only"])) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
});
