#!/usr/bin/env node
// Prune benchmark (issue 15 goal 4): `ksail workload versions` and `ksail workload prune --keep 10`
// of 1,000 versions against one distribution v3 registry, next to the floor for the same deletes:
// plain `curl -X DELETE` of the same 990 manifests, 4 (and 8) at a time.
// Run with `npm run build && node bench/prune.mjs` (see bench/README.md).
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { timed, mustRun, median, min, max } from "./lib/proc.mjs";
import { startRegistry } from "./lib/registry.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const KSAIL_BIN = join(ROOT, "bin", "ksail.js");
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

const { values: opt } = parseArgs({
  options: {
    versions: { type: "string", default: "1000" },
    keep: { type: "string", default: "10" },
    reps: { type: "string", default: "3" },
    keepdir: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(`usage: node bench/prune.mjs [--versions 1000] [--keep 10] [--reps 3] [--keepdir]`);
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

/** curl -X DELETE of each digest, `parallel` at a time (xargs -P), the floor for the deletes. */
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

const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const registryBin = await toolPath("registry");
  const work = await mkdtemp(join(os.tmpdir(), "ksail-bench-prune-"));
  const registry = await startRegistry({ binary: registryBin, workDir: work });
  log(`registry ${registry.impl} (${registry.version}) on ${registry.host}`);
  const source = join(work, "src");
  await mkdir(source);
  await writeFile(
    join(source, "cm.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\ndata:\n  a: b\n",
  );
  /** @type {Record<string, number[]>} */
  const rows = { create: [], versions: [], prune: [], curl4: [], curl8: [] };
  let steps = [];
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const tool of ["ksail", "curl4", "curl8"]) {
        const repo = `bench/prune-${tool}-${rep}`;
        const { digests, ms } = await createVersions(registry, repo, source);
        rows.create.push(ms);
        const doomed = digests.slice(0, VERSIONS - KEEP);
        if (tool === "ksail") {
          const v = await timed(
            process.execPath,
            [
              KSAIL_BIN,
              "workload",
              "versions",
              "--registry",
              `oci://${registry.host}/${repo}`,
              "-o",
              "json",
            ],
            { cwd: source },
          );
          if (v.code !== 0) throw new Error(`ksail workload versions failed:\n${v.stderr}`);
          const listed = JSON.parse(v.stdout);
          const count = Array.isArray(listed) ? listed.length : (listed.items ?? []).length;
          if (count !== VERSIONS) throw new Error(`versions listed ${count}, expected ${VERSIONS}`);
          rows.versions.push(v.ms);
          const p = await timed(
            process.execPath,
            [
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
            { cwd: source },
          );
          if (p.code !== 0)
            throw new Error(`ksail workload prune failed (exit ${p.code}):\n${p.stderr}`);
          const result = JSON.parse(p.stdout);
          if (result.deleted.length !== VERSIONS - KEEP)
            throw new Error(`prune deleted ${result.deleted.length}`);
          rows.prune.push(p.ms);
          steps = p.stderr.split("\n").filter((l) => /^[✓✗]/.test(l));
        } else {
          rows[tool].push(
            await curlDeletes(registry, repo, doomed, tool === "curl4" ? 4 : 8, work),
          );
        }
        const left = await tagCount(registry, repo);
        if (left !== KEEP + 1) throw new Error(`${tool}: ${left} tags left, expected ${KEEP + 1}`);
        log(`rep ${rep + 1}/${REPS} ${tool} done`);
      }
    }
  } finally {
    await registry.stop();
    if (!opt.keepdir) await rm(work, { recursive: true, force: true });
  }
  const line = (label, xs) =>
    `${label.padEnd(44)} median ${fmt(median(xs)).padStart(8)}  min ${fmt(min(xs)).padStart(8)}  max ${fmt(max(xs)).padStart(8)}`;
  console.log(
    `\nprune benchmark: ${VERSIONS} versions, --keep ${KEEP}, ${REPS} rep(s), ${registry.impl}; load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log(line(`create ${VERSIONS} versions (manifest PUTs, 8 at a time)`, rows.create));
  console.log(line(`ksail workload versions (${VERSIONS})`, rows.versions));
  console.log(line(`ksail workload prune --keep ${KEEP}`, rows.prune));
  console.log(line(`curl -X DELETE ${VERSIONS - KEEP}, 4 at a time`, rows.curl4));
  console.log(line(`curl -X DELETE ${VERSIONS - KEEP}, 8 at a time`, rows.curl8));
  console.log(`ksail prune's own steps (last run): ${steps.join(" · ")}`);
  console.log(
    `ratio prune / curl 4 at a time: ${(median(rows.prune) / median(rows.curl4)).toFixed(2)}×; goal: prune ≤ 10 s → ${median(rows.prune) <= 10_000 ? "met" : "NOT met"}`,
  );
}

main().catch((error) => {
  console.error(`bench: ${error.stack ?? error}`);
  process.exit(1);
});
