// Generates the benchmark inputs: valid Kubernetes ConfigMaps with seeded pseudo-random data, so
// every run produces the same bytes and gzip cannot collapse them to nothing.
import { mkdir, writeFile, readFile } from "node:fs/promises";
import { join, posix } from "node:path";

/** mulberry32: small, fast, seeded PRNG returning floats in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "replicas image tag port service ingress deployment namespace label selector value config " +
  "secret volume mount path env resource limit request cpu memory timeout retry backoff " +
  "endpoint cluster node region zone primary secondary cache queue topic stream enabled"
).split(" ");
const HEX = "0123456789abcdef";

function token(rand) {
  if (rand() < 0.55) return WORDS[Math.floor(rand() * WORDS.length)];
  let s = "";
  const n = 6 + Math.floor(rand() * 14);
  for (let i = 0; i < n; i++) s += HEX[Math.floor(rand() * 16)];
  return s;
}

/** A ConfigMap of roughly `size` bytes (exact to within one data line). */
function configMap(rand, name, group, size) {
  const head =
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: bench\n` +
    `  labels:\n    app.kubernetes.io/name: ${group}\n    app.kubernetes.io/part-of: ksail-bench\n` +
    `data:\n`;
  const lines = [head];
  let len = head.length;
  for (let k = 0; len < size; k++) {
    const words = [];
    const n = 4 + Math.floor(rand() * 12);
    for (let i = 0; i < n; i++) words.push(token(rand));
    const line = `  key-${String(k).padStart(4, "0")}: "${words.join(" ")}"\n`;
    lines.push(line);
    len += line.length;
  }
  return lines.join("");
}

function kustomization(resources) {
  return (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" +
    resources.map((r) => `  - ${r}\n`).join("")
  );
}

/**
 * (a) 20 small ConfigMaps (~1 KB each) and a kustomization.yaml listing them.
 * @returns {Promise<Corpus>}
 */
export async function smallCorpus(dir, seed = 1) {
  const rand = prng(seed);
  await mkdir(dir, { recursive: true });
  const files = [];
  let bytes = 0;
  for (let i = 0; i < 20; i++) {
    const name = `cm-${String(i).padStart(2, "0")}.yaml`;
    const text = configMap(rand, `small-${i}`, "small", 1024);
    await writeFile(join(dir, name), text);
    files.push(name);
    bytes += text.length;
  }
  const k = kustomization(files);
  await writeFile(join(dir, "kustomization.yaml"), k);
  bytes += k.length;
  return corpus(dir, files.length + 1, bytes, files[0]);
}

/**
 * (b) 2,000 ConfigMaps in 20 folders, ~20 MiB in total, sizes spread log-uniformly from ~1 KiB
 * to ~64 KiB, plus a kustomization.yaml listing them all.
 * @returns {Promise<Corpus>}
 */
export async function largeCorpus(
  dir,
  seed = 2,
  { files: count = 2000, totalBytes = 20 * 1024 * 1024 } = {},
) {
  const rand = prng(seed);
  const raw = Array.from({ length: count }, () => Math.exp(Math.log(1024) + rand() * Math.log(64)));
  const scale = totalBytes / raw.reduce((a, b) => a + b, 0);
  const files = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const group = `team-${String(Math.floor(i / 100)).padStart(2, "0")}`;
    const rel = posix.join("apps", group, `cm-${String(i).padStart(4, "0")}.yaml`);
    await mkdir(join(dir, "apps", group), { recursive: true });
    const text = configMap(rand, `large-${i}`, group, Math.max(300, Math.round(raw[i] * scale)));
    await writeFile(join(dir, rel), text);
    files.push(rel);
    bytes += text.length;
  }
  const k = kustomization(files);
  await writeFile(join(dir, "kustomization.yaml"), k);
  bytes += k.length;
  return corpus(dir, files.length + 1, bytes, files[0]);
}

/**
 * @typedef {{dir: string, files: number, bytes: number,
 *   mark: (marker: string) => Promise<void>}} Corpus
 * mark(): rewrites one ConfigMap with a `bench-marker` key, so each timed push carries content
 * that no earlier push had (a fresh layer blob that must really be uploaded).
 */
function corpus(dir, files, bytes, markerFile) {
  const path = join(dir, markerFile);
  let original = null;
  return {
    dir,
    files,
    bytes,
    async mark(marker) {
      original ??= await readFile(path, "utf8");
      await writeFile(path, `${original}  bench-marker: "${marker}"\n`);
    },
  };
}
