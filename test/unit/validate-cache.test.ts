import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import { openValidationCache, type ValidationCache } from "../../src/validate/cache.js";
import { validateSource } from "../../src/validate/manifests.js";

const temps: string[] = [];
after(async () => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));
async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-vcache-"));
  temps.push(dir);
  return dir;
}

/** Counts what the validator asks of the cache. */
function counting(inner: ValidationCache) {
  const counts = { hits: 0, misses: 0 };
  const cache: ValidationCache = {
    get: (digest) => {
      const found = inner.get(digest);
      if (found) counts.hits++;
      else counts.misses++;
      return found;
    },
    set: (digest, objects) => inner.set(digest, objects),
    save: () => inner.save(),
  };
  return { cache, counts };
}

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

describe("validation cache", () => {
  it("remembers good files by content across runs, re-checks changed ones, and keeps cross-file rules", async () => {
    const src = await temp();
    const path = join(await temp(), "validate.json");
    await writeFile(join(src, "a.yaml"), cm("a"));
    await writeFile(join(src, "b.yaml"), cm("b"));

    const first = counting(await openValidationCache(path));
    assert.deepEqual(
      await validateSource(src, (await listSourceFiles(src)).files, { cache: first.cache }),
      [],
    );
    await first.cache.save();
    assert.deepEqual(first.counts, { hits: 0, misses: 2 });
    assert.match(await readFile(path, "utf8"), /"format":"ksail-validate-1"/);

    // A new process: both files come from the cache; a changed file is parsed again.
    await writeFile(join(src, "b.yaml"), `${cm("a")}# changed\n`); // now a duplicate of a.yaml
    const second = counting(await openValidationCache(path));
    const issues = await validateSource(src, (await listSourceFiles(src)).files, {
      cache: second.cache,
    });
    assert.deepEqual(second.counts, { hits: 1, misses: 1 });
    // The duplicate is found although a.yaml was not parsed again, with exact lines.
    assert.deepEqual(
      issues.map((i) => [i.file, i.line, i.rule]),
      [
        ["a.yaml", 1, "duplicate-object"],
        ["b.yaml", 1, "duplicate-object"],
      ],
    );
  });

  it("never remembers a bad file", async () => {
    const src = await temp();
    const path = join(await temp(), "validate.json");
    await writeFile(join(src, "bad.yaml"), "kind: ConfigMap\nmetadata: {}\n");
    for (let run = 0; run < 2; run++) {
      const { cache, counts } = counting(await openValidationCache(path));
      const issues = await validateSource(src, (await listSourceFiles(src)).files, { cache });
      await cache.save();
      assert.equal(counts.hits, 0);
      assert.deepEqual(
        issues.map((i) => i.message),
        ["missing apiVersion", "missing metadata.name"],
      );
    }
  });

  it("starts empty from a missing, corrupt or other-format file", async () => {
    const dir = await temp();
    await writeFile(join(dir, "corrupt.json"), "{not json");
    await writeFile(
      join(dir, "old.json"),
      JSON.stringify({ format: "ksail-validate-0", entries: { x: [] } }),
    );
    for (const name of ["missing.json", "corrupt.json", "old.json"]) {
      assert.equal((await openValidationCache(join(dir, name))).get("x"), undefined, name);
    }
  });
});
