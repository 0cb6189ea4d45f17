#!/usr/bin/env node
// Diff benchmark (issue 24): `ksail workload diff` of two versions of 2,000 objects (1,000
// Deployments and 1,000 ConfigMaps in 40 folders) against one registry, as time and peak RSS.
// Version 2 changes 2 % of the objects (an image, a replica count, a ConfigMap value), adds 10,
// removes 10, and moves every file of one folder into another (objects equal: no change).
// Timed: object diff of the two versions (human and -o json), --brief, --files (per-file unified
// diff), and version 2 against the local directory (no change).
// Peers in the same run, interleaved with ksail's cases: `flux diff artifact` (Flux CLI from
// lab/go-tools.sh; one checksum, "differs or not", version 0.0.1 against the version-2 directory)
// and `diff -r` of the two trees on disk; the ratios of time and peak RSS are printed.
// Run with `npm run build && node bench/diff.mjs` (see bench/README.md).
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { mustRun, rotate, timed, timedRss, median } from "./lib/proc.mjs";
import { startRegistry } from "./lib/registry.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KSAIL_BIN = join(ROOT, "bin", "ksail.js");

const { values: opt } = parseArgs({
  options: {
    objects: { type: "string", default: "2000" },
    reps: { type: "string", default: "5" },
    keepdir: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(`usage: node bench/diff.mjs [--objects 2000] [--reps 5] [--keepdir]`);
  process.exit(0);
}
const OBJECTS = Number(opt.objects);
const REPS = Number(opt.reps);
const FOLDERS = 40;
const log = (msg) => console.error(`bench: ${msg}`);

/** The Flux CLI lab/go-tools.sh builds (the peer); missing → how to build it. */
function fluxBinary() {
  const cache = process.env.KSAIL_LAB_CACHE ?? join(os.homedir(), ".cache", "ksail-lab");
  const path = join(cache, "bin", "flux");
  if (!existsSync(path))
    throw new Error(
      `the Flux CLI is missing (${path}): build it with \`bash lab/go-tools.sh flux\``,
    );
  return path;
}

/** The distribution v3 registry when lab/go-tools.sh built it; else Debian's 2.8 (not built here). */
async function registryPath() {
  const r = await timed("bash", [join(ROOT, "lab", "go-tools.sh"), "--print-path", "registry"]);
  const path = r.stdout.trim();
  return r.code === 0 && existsSync(path) ? path : null;
}

const deployment = (i, { image = "1.25", replicas = 2 } = {}) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-${i}
  namespace: team-${i % 10}
  labels:
    app: web-${i}
    tier: front
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web-${i}
  template:
    metadata:
      labels:
        app: web-${i}
    spec:
      containers:
        - name: web
          image: registry.example/web-${i}:${image}
          ports:
            - containerPort: 8080
          env:
            - name: MODE
              value: production
            - name: INDEX
              value: "${i}"
          resources:
            limits:
              cpu: 200m
              memory: 128Mi
`;

const configMap = (i, value = "a") => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-${i}
  namespace: team-${i % 10}
data:
  value: "${value}"
  config.yaml: |
    index: ${i}
    features: [alpha, beta, gamma]
    endpoint: https://svc-${i}.example/api
`;

/** Version 1 (changed = false) or 2 of the corpus, one object per file. */
async function writeCorpus(dir, changed) {
  const half = OBJECTS / 2;
  for (let f = 0; f < FOLDERS; f++) await mkdir(join(dir, `f${f}`), { recursive: true });
  const writes = [];
  for (let i = 0; i < half; i++) {
    // Version 2 moves folder 0's files into folder 1 (same objects).
    let folder = i % FOLDERS;
    if (changed && folder === 0) folder = 1;
    const every = (n) => changed && i % n === 0;
    if (!(changed && i % 100 === 99)) {
      writes.push(
        writeFile(
          join(dir, `f${folder}`, `web-${i}.yaml`),
          deployment(i, {
            ...(every(50) ? { image: "1.27" } : {}),
            ...(every(75) ? { replicas: 3 } : {}),
          }),
        ),
      );
      writes.push(
        writeFile(
          join(dir, `f${folder}`, `settings-${i}.yaml`),
          configMap(i, every(60) ? "b" : "a"),
        ),
      );
    }
    if (changed && i % 100 === 98) {
      writes.push(writeFile(join(dir, `f${folder}`, `new-${i}.yaml`), configMap(half + i, "n")));
    }
  }
  await Promise.all(writes);
}

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;

async function main() {
  const registryBin = await registryPath();
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-diff-"));
  const registry = await startRegistry({ binary: registryBin, workDir: work });
  log(`registry ${registry.impl} (${registry.version}) on ${registry.host}`);
  const env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
  const repo = `oci://${registry.host}/bench/diff`;
  const ksail = (...args) => [KSAIL_BIN, "workload", ...args, "--registry", repo];
  try {
    /** @type {[name: string, changed: boolean, version: string][]} */
    const versions = [
      ["v1", false, "0.0.1"],
      ["v2", true, "0.0.2"],
    ];
    for (const [name, changed, version] of versions) {
      const dir = join(work, name);
      await writeCorpus(dir, changed);
      await mustRun(
        process.execPath,
        ksail("push", "--path", dir, "--version", version, "--reproducible", "-q"),
        { env, timeoutMs: 600_000 },
      );
    }
    log(`pushed 0.0.1 and 0.0.2 (${OBJECTS} objects each)`);
    const flux = fluxBinary();
    const ks = (...args) => [process.execPath, ksail(...args)];
    const cases = {
      "objects (human)": ks("diff", "0.0.1", "0.0.2"),
      "objects -o json": ks("diff", "0.0.1", "0.0.2", "-o", "json"),
      "--brief": ks("diff", "0.0.1", "0.0.2", "--brief"),
      "--files": ks("diff", "0.0.1", "--files", "--path", join(work, "v2")),
      "0.0.1 vs directory (objects)": ks("diff", "0.0.1", "--path", join(work, "v2")),
      "0.0.2 vs directory (no change)": ks("diff", "0.0.2", "--path", join(work, "v2")),
      "peer: flux diff artifact 0.0.1 vs directory": [
        flux,
        [
          "diff",
          "artifact",
          `oci://${registry.host}/bench/diff:0.0.1`,
          "--path",
          join(work, "v2"),
          "--insecure-registry",
        ],
      ],
      "peer: diff -r v1 v2 (trees on disk)": ["diff", ["-r", join(work, "v1"), join(work, "v2")]],
    };
    const expectedExit = (label) => (label.includes("no change") ? [0] : [1]);
    // The order of the cases rotates on every repetition, so that a noisy moment on a shared
    // machine does not land on one case only.
    const samples = Object.fromEntries(
      Object.keys(cases).map((label) => [
        label,
        { ms: /** @type {number[]} */ ([]), rss: /** @type {number[]} */ ([]) },
      ]),
    );
    let summary = "";
    for (let rep = 0; rep < REPS; rep++) {
      for (const [label, [cmd, args]] of rotate(Object.entries(cases), rep)) {
        const r = await timedRss(cmd, args, { env, cwd: work });
        if (!expectedExit(label).includes(r.code ?? -1))
          throw new Error(`${label}: exit ${r.code}, expected ${expectedExit(label)}\n${r.stderr}`);
        samples[label].ms.push(r.ms);
        samples[label].rss.push(r.peakRssKiB);
        if (label === "objects -o json" && summary === "") {
          const items = JSON.parse(r.stdout).items;
          const by = (c) => items.filter((i) => i.change === c).length;
          summary = `${by("added")} added, ${by("removed")} removed, ${by("changed")} changed`;
        }
      }
    }
    log(`json: ${summary}`);
    const rows = Object.entries(samples).map(([label, { ms, rss }]) => [
      label,
      fmt(median(ms)),
      fmt(Math.min(...ms)),
      mib(median(rss)),
    ]);
    console.log(`\nksail workload diff, ${OBJECTS} objects, median of ${REPS}:`);
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
    console.log(`| case | median | fastest | peak RSS (median) |\n|---|---|---|---|`);
    for (const row of rows) console.log(`| ${row.join(" | ")} |`);
    const ratio = (a, b, field) =>
      (median(samples[a][field]) / median(samples[b][field])).toFixed(2);
    const pairs = [
      ["0.0.1 vs directory (objects)", "peer: flux diff artifact 0.0.1 vs directory"],
      ["--files", "peer: flux diff artifact 0.0.1 vs directory"],
      ["--files", "peer: diff -r v1 v2 (trees on disk)"],
      ["objects (human)", "peer: diff -r v1 v2 (trees on disk)"],
    ];
    console.log(`\n| ksail case ÷ peer (same run) | time | peak RSS |\n|---|---|---|`);
    for (const [a, b] of pairs)
      console.log(`| ${a} ÷ ${b.slice(6)} | ${ratio(a, b, "ms")}× | ${ratio(a, b, "rss")}× |`);
  } finally {
    await registry.stop();
    if (!opt.keepdir) await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
