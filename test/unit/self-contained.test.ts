/**
 * A fresh clone runs its own tests: no file the code or the tests read (a `new URL("…",
 * import.meta.url)` literal, or a path spelled with `shared/fixtures`) points outside the repository.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, test } from "node:test";

const root = fileURLToPath(new URL("../..", import.meta.url));
const DIRS = ["src", "test", "scripts", "bench", "bin"];

function sources(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures" || name === "results") return [];
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mts|js|mjs|sh)$/.test(name) ? [path] : [];
  });
}

/** `root` ends with a separator, so /repo-other does not pass for /repo. */
const inside = (path: string) => `${path}${sep}`.startsWith(root);

describe("the repository stands on its own", () => {
  const files = DIRS.flatMap((d) => sources(join(root, d)));

  test("finds the sources it checks", () => {
    assert.ok(files.some((f) => f.endsWith(join("test", "unit", "flux.test.ts"))));
  });

  test("every import.meta.url-relative path stays inside the repository", () => {
    const outside: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/new URL\(\s*["`]([^"`]+)["`],\s*import\.meta\.url/g)) {
        // `${x}` parts only follow a directory prefix here; resolve the literal part.
        const literal = m[1]!.replace(/\$\{[^}]*\}.*$/, "");
        const target = resolve(fileURLToPath(new URL(literal, pathToFileURL(file))));
        if (!inside(target)) outside.push(`${relative(root, file)}: ${m[1]} → ${target}`);
      }
    }
    assert.deepEqual(outside, []);
  });

  test("no source names the lab's ../shared folder", () => {
    const hits = files
      .filter((f) => f !== fileURLToPath(import.meta.url))
      .filter((f) => /shared\/fixtures|\/work\/shared/.test(readFileSync(f, "utf8")))
      .map((f) => relative(root, f));
    assert.deepEqual(hits, []);
  });
});
