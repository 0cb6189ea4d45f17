// Runs every test file under test/ with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [unit|integration|e2e|system ...]
//
// unit, integration and e2e run together (two files at a time); the system suite (a real Kind
// cluster, test/system) runs afterwards in a run of its own, one file at a time, so the cluster
// does not compete with other test files for the machine's cores. Exit status: non-zero when
// either run fails.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const DEFAULT_SUITES = ["unit", "integration", "e2e", "system"];
const ALONE = new Set(["system"]);

const suites = process.argv.slice(2);
const chosen = suites.length > 0 ? suites : DEFAULT_SUITES;

function collect(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });
}

const filesOf = (names) =>
  names
    .map((s) => join("test", s))
    .flatMap(collect)
    .sort();

const runs = [
  { files: filesOf(chosen.filter((s) => !ALONE.has(s))), concurrency: 2 },
  { files: filesOf(chosen.filter((s) => ALONE.has(s))), concurrency: 1 },
].filter((r) => r.files.length > 0);

if (runs.length === 0) {
  console.error(`no test files found under ${chosen.map((s) => join("test", s)).join(", ")}`);
  process.exit(1);
}

let status = 0;
for (const { files, concurrency } of runs) {
  const result = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--test",
      "--test-reporter=spec",
      `--test-concurrency=${concurrency}`,
      ...files,
    ],
    { stdio: "inherit" },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
