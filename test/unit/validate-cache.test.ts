import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import {
  openValidationCache,
  validationCacheFile,
  type ValidationCache,
} from "../../src/validate/cache.js";
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
    scope: (root) => inner.scope(root),
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
    const dir = await temp();
    const path = validationCacheFile(dir, src);
    await writeFile(join(src, "a.yaml"), cm("a"));
    await writeFile(join(src, "b.yaml"), cm("b"));

    const first = counting(await openValidationCache(dir));
    assert.deepEqual(
      await validateSource(src, (await listSourceFiles(src)).files, { cache: first.cache }),
      [],
    );
    await first.cache.save();
    assert.deepEqual(first.counts, { hits: 0, misses: 2 });
    assert.match(await readFile(path, "utf8"), /"format":"ksail-validate-2"/);

    // A new process: both files come from the cache; a changed file is parsed again.
    await writeFile(join(src, "b.yaml"), `${cm("a")}# changed\n`); // now a duplicate of a.yaml
    const second = counting(await openValidationCache(dir));
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
    const dir = await temp();
    await writeFile(join(src, "bad.yaml"), "kind: ConfigMap\nmetadata: {}\n");
    for (let run = 0; run < 2; run++) {
      const { cache, counts } = counting(await openValidationCache(dir));
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
    const roots = { missing: "/nowhere/missing", corrupt: "/nowhere/corrupt", old: "/nowhere/old" };
    await writeFile(validationCacheFile(dir, roots.corrupt), "{not json");
    await writeFile(
      validationCacheFile(dir, roots.old),
      JSON.stringify({ format: "ksail-validate-1", entries: { x: [] } }),
    );
    for (const [name, root] of Object.entries(roots)) {
      const cache = await openValidationCache(dir);
      await cache.scope(root);
      assert.equal(cache.get("x"), undefined, name);
    }
  });

  it("is scoped per source root: another root's entries are neither loaded nor kept", async () => {
    const dir = await temp();
    const [a, b] = [await temp(), await temp()];
    await writeFile(join(a, "a.yaml"), cm("a"));
    await writeFile(join(b, "b.yaml"), cm("b"));
    const digestOfA = createHash("sha256").update(cm("a")).digest("hex");
    for (const src of [a, b]) {
      const cache = await openValidationCache(dir);
      assert.deepEqual(
        await validateSource(src, (await listSourceFiles(src)).files, { cache }),
        [],
      );
      await cache.save();
    }
    // One file per root, each holding only its own tree's entry.
    assert.equal((await readdir(dir)).length, 2);
    const stored = (root: string) =>
      readFile(validationCacheFile(dir, root), "utf8").then((t) =>
        Object.keys((JSON.parse(t) as { entries: object }).entries),
      );
    assert.deepEqual(await stored(a), [digestOfA]);
    assert.equal((await stored(b)).includes(digestOfA), false);
    // Pushing b never sees a's entry, however many a holds.
    const { cache, counts } = counting(await openValidationCache(dir));
    await cache.scope(b);
    assert.equal(cache.get(digestOfA), undefined);
    assert.deepEqual(counts, { hits: 0, misses: 1 });
  });

  it("keeps only the current tree's entries and writes only when they change", async () => {
    const dir = await temp();
    const src = await temp();
    await writeFile(join(src, "a.yaml"), cm("a"));
    await writeFile(join(src, "b.yaml"), cm("b"));
    const run = async () => {
      const cache = await openValidationCache(dir);
      await validateSource(src, (await listSourceFiles(src)).files, { cache });
      await cache.save();
    };
    const file = validationCacheFile(dir, src);
    await run();
    const written = (await stat(file)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await run(); // same tree: nothing to write
    assert.equal((await stat(file)).mtimeMs, written);
    await rm(join(src, "b.yaml"));
    await run(); // b.yaml is gone: its entry is pruned
    const entries = Object.keys(
      (JSON.parse(await readFile(file, "utf8")) as { entries: object }).entries,
    );
    assert.deepEqual(entries, [createHash("sha256").update(cm("a")).digest("hex")]);
  });
});
