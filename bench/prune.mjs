#!/usr/bin/env node
// Prune benchmark (issue 26 goal 6): `ksail workload prune --keep 10` of 1,000 versions against
// both registries the tests use — Debian's distribution 2.8 (docker-registry) and distribution v3
// (lab/go-tools.sh) — each next to its peer from the same run: plain `curl -X DELETE` of the same
// 990 manifests by digest, 8 at a time (xargs -P 8), runs alternating. Goal: prune ≤ 10 s on each.
// `--profile` also writes where prune's time goes: its steps and its HTTP requests by kind.
// Run with `npm run build && node bench/prune.mjs` (see bench/README.md).
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { timed, mustRun, median, min, max } from "./lib/proc.mjs";
import { existsSync, readFileSync } from "node:fs";
import { startRegistry, DEBIAN_REGISTRY } from "./lib/registry.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

const { values: opt } = parseArgs({
  options: {
    versions: { type: "string", default: "1000" },
    keep: { type: "string", default: "10" },
    reps: { type: "string", default: "3" },
    registries: { type: "string", default: "2.8,v3" },
    profile: { type: "boolean", default: false },
    keepdir: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(
    `usage: node bench/prune.mjs [--versions 1000] [--keep 10] [--reps 3] [--registries 2.8,v3] [--profile] [--keepdir]`,
  );
  process.exit(0);
}
const VERSIONS = Number(opt.versions);
const KEEP = Number(opt.keep);
const REPS = Number(opt.reps);
const log = (msg) => console.error(`bench: ${msg}`);

async function toolPath(name) {
  await mustRun("bash", [join(ROOT, "lab", "go-tools.sh"), name], {
    timeoutMs: 30 * 60_000,
  });
  const r = await mustRun("bash", [join(ROOT, "lab", "go-tools.sh"), "--print-path", name]);
  return r.stdout.trim();
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool(items, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/**
 * Versions 0.0.1..0.0.N: one Flux artifact pushed by ksail, then its manifest put again N-1
 * times with a distinct `created` annotation, so every version has its own manifest digest
 * (prune deletes by digest) while sharing the two blobs. Returns the digests in version order.
 */
async function createVersions(registry, repo, source) {
  const base = `http://${registry.host}/v2/${repo}`;
  const first = await mustRun(
    process.execPath,
    [
      KSAIL_BIN,
      "workload",
      "push",
      "--registry",
      `oci://${registry.host}/${repo}`,
      "--path",
      source,
      "--version",
      "0.0.1",
      "-q",
    ],
    { cwd: source },
  );
  void first;
  const res = await fetch(`${base}/manifests/0.0.1`, { headers: { accept: OCI_MANIFEST } });
  const manifest = JSON.parse(await res.text());
  const digests = [];
  const started = performance.now();
  await pool(
    Array.from({ length: VERSIONS }, (_, i) => i),
    8,
    async (i) => {
      const body = JSON.stringify({
        ...manifest,
        annotations: {
          ...manifest.annotations,
          "org.opencontainers.image.created": new Date(
            Date.UTC(2026, 0, 1) + i * 1000,
          ).toISOString(),
        },
      });
      const put = await fetch(`${base}/manifests/0.0.${i + 1}`, {
        method: "PUT",
        headers: { "content-type": OCI_MANIFEST },
        body,
      });
      if (put.status !== 201)
        throw new Error(`PUT 0.0.${i + 1}: HTTP ${put.status} ${await put.text()}`);
      digests[i] = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    },
  );
  // latest on the highest version, as ksail keeps it.
  const top = await fetch(`${base}/manifests/0.0.${VERSIONS}`, {
    headers: { accept: OCI_MANIFEST },
  });
  const put = await fetch(`${base}/manifests/latest`, {
    method: "PUT",
    headers: { "content-type": OCI_MANIFEST },
    body: Buffer.from(await top.arrayBuffer()),
  });
  if (put.status !== 201) throw new Error(`PUT latest: HTTP ${put.status}`);
  return { digests, ms: performance.now() - started };
}

async function tagCount(registry, repo) {
  const res = await fetch(`http://${registry.host}/v2/${repo}/tags/list?n=100000`);
  if (res.status === 404) return 0;
  const body = /** @type {{ tags?: string[] }} */ (await res.json());
  return (body.tags ?? []).length;
}

/**
 * curl -X DELETE of each digest, `parallel` at a time (xargs -P), the peer for the deletes.
 * @param {{host: string}} registry @param {string} repo @param {string[]} digests
 * @param {number} parallel @param {string} work
 */
async function curlDeletes(registry, repo, digests, parallel, work) {
  const list = join(work, `digests-${parallel}.txt`);
  await writeFile(
    list,
    digests.map((d) => `http://${registry.host}/v2/${repo}/manifests/${d}`).join("\n"),
  );
  const r = await timed("sh", [
    "-c",
    `xargs -P ${parallel} -n 1 curl -s -o /dev/null -w '%{http_code}\\n' -X DELETE < "$1"`,
    "sh",
    list,
  ]);
  const codes = r.stdout.trim().split("\n");
  const bad = codes.filter((c) => c !== "202");
  if (r.code !== 0 || bad.length > 0)
    throw new Error(`curl deletes: exit ${r.code}, ${bad.length} non-202 answers`);
  return r.ms;
}

/**
 * CPU time (user + system, ms) the process `pid` has used so far, from /proc (Linux).
 * @param {number | undefined} pid
 */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** @param {number} ms */
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

/**
 * One registry: `reps` × (ksail prune, curl 8 at a time), alternating, each on a fresh repository
 * of VERSIONS versions.
 * @param {string | null} binary  distribution v3's binary, or null for Debian's 2.8
 * @param {string} work  scratch directory
 * @param {string} source  the workload directory
 */
async function benchRegistry(binary, work, source) {
  const dir = join(work, binary ? "v3" : "2.8");
  await mkdir(dir);
  const registry = await startRegistry({ binary, workDir: dir });
  log(`registry ${registry.impl} (${registry.version}) on ${registry.host}`);
  /** @type {{prune: number[], curl: number[], pruneCpu: number[], curlCpu: number[], loads: string[], steps: string[], http: string[]}} */
  const rows = { prune: [], curl: [], pruneCpu: [], curlCpu: [], loads: [], steps: [], http: [] };
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? ["ksail", "curl"] : ["curl", "ksail"];
      for (const tool of order) {
        const repo = `bench/prune-${tool}-${rep}`;
        const { digests } = await createVersions(registry, repo, source);
        const doomed = digests.slice(0, VERSIONS - KEEP);
        const cpuBefore = cpuMs(registry.pid);
        if (tool === "ksail") {
          const trace = join(dir, `http-${rep}.jsonl`);
          const p = await timed(
            process.execPath,
            [
              ...(opt.profile ? ["--import", join(ROOT, "bench", "lib", "http-trace.mjs")] : []),
              KSAIL_BIN,
              "workload",
              "prune",
              "--registry",
              `oci://${registry.host}/${repo}`,
              "--keep",
              String(KEEP),
              "-o",
              "json",
            ],
            { cwd: source, env: { ...process.env, KSAIL_BENCH_HTTP_TRACE: trace } },
          );
          if (p.code !== 0)
            throw new Error(`ksail workload prune failed (exit ${p.code}):\n${p.stderr}`);
          const result = JSON.parse(p.stdout);
          if (result.deleted.length !== VERSIONS - KEEP)
            throw new Error(`prune deleted ${result.deleted.length}`);
          rows.prune.push(p.ms);
          rows.steps = p.stderr.split("\n").filter((l) => /^[✓✗]/.test(l));
          if (opt.profile) rows.http = await httpProfile(trace);
        } else {
          rows.curl.push(await curlDeletes(registry, repo, doomed, 8, dir));
        }
        rows[tool === "ksail" ? "pruneCpu" : "curlCpu"].push(cpuMs(registry.pid) - cpuBefore);
        const left = await tagCount(registry, repo);
        if (left !== KEEP + 1) throw new Error(`${tool}: ${left} tags left, expected ${KEEP + 1}`);
        rows.loads.push(load());
        log(`${registry.impl}: rep ${rep + 1}/${REPS} ${tool} done (load ${load()})`);
      }
    }
  } finally {
    await registry.stop();
  }
  return { impl: `${registry.impl} ${registry.version}`, ...rows };
}

/** @param {string} trace  the http-trace.mjs output of one run */
async function httpProfile(trace) {
  const { readFile } = await import("node:fs/promises");
  /** @type {{kind: string, count: number, sumMs: number, spanMs: number}[]} */
  const kinds = (await readFile(trace, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  return kinds
    .sort((a, b) => b.spanMs - a.spanMs)
    .map(
      (k) =>
        `${k.kind} ×${k.count}: wall ${fmt(k.spanMs)}, ${(k.sumMs / k.count).toFixed(1)} ms each`,
    );
}

async function main() {
  const wanted = opt.registries.split(",").map((r) => r.trim());
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-prune-"));
  const source = join(work, "src");
  await mkdir(source);
  await writeFile(
    join(source, "cm.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\ndata:\n  a: b\n",
  );
  const results = [];
  try {
    for (const which of wanted) {
      if (which !== "2.8" && which !== "v3") throw new Error(`--registries: unknown "${which}"`);
      if (which === "2.8" && !existsSync(DEBIAN_REGISTRY))
        throw new Error(`${DEBIAN_REGISTRY} is missing: apt-get install -y docker-registry`);
      results.push(
        await benchRegistry(which === "v3" ? await toolPath("registry") : null, work, source),
      );
    }
  } finally {
    if (!opt.keepdir) await rm(work, { recursive: true, force: true });
  }
  /** @param {string} label @param {number[]} xs */
  const line = (label, xs) =>
    `  ${label.padEnd(42)} median ${fmt(median(xs)).padStart(8)}  min ${fmt(min(xs)).padStart(8)}  max ${fmt(max(xs)).padStart(8)}`;
  console.log(
    `\nprune benchmark: ${VERSIONS} versions, --keep ${KEEP}, ${REPS} rep(s) per registry, alternating; load now ${load()}`,
  );
  for (const r of results) {
    const pass = median(r.prune) <= 10_000;
    console.log(`${r.impl} (load after each run: ${r.loads.join(" | ")})`);
    console.log(line(`ksail workload prune --keep ${KEEP}`, r.prune));
    console.log(line(`curl -X DELETE ${VERSIONS - KEEP} digests, 8 at a time`, r.curl));
    console.log(
      `  registry CPU time (load-independent): ksail prune ${fmt(median(r.pruneCpu))}, curl×8 ${fmt(median(r.curlCpu))} (medians)`,
    );
    console.log(`  ksail prune's own steps (last run): ${r.steps.join(" · ")}`);
    for (const h of r.http) console.log(`  http ${h}`);
    console.log(
      `  goal 6 (prune ≤ 10 s): ${pass ? "pass" : "MISS"} — ksail ${fmt(median(r.prune))}, peer curl×8 ${fmt(median(r.curl))}, ratio ${(median(r.prune) / median(r.curl)).toFixed(2)}×`,
    );
  }
}

main().catch((error) => {
  console.error(`bench: ${error.stack ?? error}`);
  process.exit(1);
});
