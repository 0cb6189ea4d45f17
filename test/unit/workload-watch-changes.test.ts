import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  isEditorTemp,
  relevantChanges,
  watchChanges,
  type ChangeBatch,
} from "../../src/workload/watch-changes.js";
import { cycleJson, formatCycle } from "../../src/workload/watch-format.js";

describe("editor temp files", () => {
  it("recognises what vim, emacs, JetBrains, Kate and others write next to a saved file", () => {
    for (const path of [
      "4913",
      "apps/4913",
      ".web.yaml.swp",
      ".web.yaml.swx",
      "web.yaml~",
      ".#web.yaml",
      "#web.yaml#",
      "web.yaml.tmp",
      "web.yaml___jb_tmp___",
      "web.yaml___jb_old___",
      ".web.yaml.kate-swp",
    ]) {
      assert.equal(isEditorTemp(path), true, path);
    }
  });

  it("leaves real manifests alone", () => {
    for (const path of ["web.yaml", "apps/4913.yaml", "tmp/web.yaml", "49130", "swp.yaml"]) {
      assert.equal(isEditorTemp(path), false, path);
    }
  });
});

describe("relevantChanges", () => {
  const batch = (...paths: string[]): ChangeBatch => ({ paths: new Set(paths), firstAt: 0 });

  it("keeps edits of selected files and drops ignored ones", () => {
    const selected = new Set(["a.yaml", "apps/b.yaml"]);
    assert.deepEqual(relevantChanges(batch("a.yaml", "notes.md"), selected, selected), ["a.yaml"]);
    assert.deepEqual(relevantChanges(batch("ignored/x.yaml"), selected, selected), []);
  });

  it("reports added and removed files, and files under a folder that moved in", () => {
    const before = new Set(["a.yaml", "old.yaml"]);
    const after = new Set(["a.yaml", "new/x.yaml", "new/y.yaml"]);
    assert.deepEqual(relevantChanges(batch("new"), before, after), [
      "new/x.yaml",
      "new/y.yaml",
      "old.yaml",
    ]);
  });

  it("reports files whose selection changed when an ignore file was edited", () => {
    const before = new Set(["a.yaml", "b.yaml"]);
    const after = new Set(["a.yaml"]);
    assert.deepEqual(relevantChanges(batch(".sourceignore"), before, after), ["b.yaml"]);
  });

  it("treats an event without a file name as a possible change", () => {
    const selected = new Set(["a.yaml"]);
    assert.deepEqual(relevantChanges(batch(""), selected, selected), ["(unknown file)"]);
  });
});

describe("watchChanges on a real directory", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-watch-unit-"));
    await mkdir(join(dir, "apps"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("gathers a burst into one batch, sees subfolders, and skips editor temp files", async () => {
    const queue = await watchChanges(dir, { debounceMs: 100 });
    try {
      const next = queue.next();
      await writeFile(join(dir, "a.yaml"), "a: 1\n");
      await writeFile(join(dir, "apps", "b.yaml"), "b: 1\n");
      await writeFile(join(dir, "4913"), "");
      await writeFile(join(dir, "a.yaml.swp"), "");
      const batch = await next;
      assert.ok(batch);
      assert.deepEqual([...batch.paths].sort(), ["a.yaml", "apps/b.yaml"]);

      // A new folder made after the watch started is watched too.
      await mkdir(join(dir, "late"));
      await new Promise((resolve) => setTimeout(resolve, 150));
      const drained = queue.pending ? await queue.next() : undefined;
      assert.ok(!drained || [...drained.paths].every((p) => p === "late"));
      const later = queue.next();
      await writeFile(join(dir, "late", "c.yaml"), "c: 1\n");
      assert.ok((await later)?.paths.has("late/c.yaml"));
    } finally {
      await queue.close();
    }
    assert.equal(await queue.next(), undefined, "a closed queue answers undefined");
  });

  it(
    "sees files in folders made with their subfolders (mkdir -p) or moved in whole",
    { timeout: 20_000 },
    async () => {
      const outside = await mkdtemp(join(tmpdir(), "ksail-watch-unit-outside-"));
      const queue = await watchChanges(dir, { debounceMs: 50 });
      /** Runs `act`, then drains batches until one names `path`. */
      const seen = async (path: string, act: () => Promise<unknown>) => {
        await act();
        for (;;) {
          const batch = await queue.next();
          assert.ok(batch, `the queue closed before ${path} was seen`);
          if (batch.paths.has(path)) return;
        }
      };
      try {
        await seen("deep", () => mkdir(join(dir, "deep", "a", "b"), { recursive: true }));
        await new Promise((resolve) => setTimeout(resolve, 100));
        await seen("deep/a/b/x.yaml", () =>
          writeFile(join(dir, "deep", "a", "b", "x.yaml"), "x: 1\n"),
        );

        await mkdir(join(outside, "tree", "sub"), { recursive: true });
        await seen("tree", () => rename(join(outside, "tree"), join(dir, "tree")));
        await new Promise((resolve) => setTimeout(resolve, 100));
        await seen("tree/sub/y.yaml", () =>
          writeFile(join(dir, "tree", "sub", "y.yaml"), "y: 1\n"),
        );

        await seen("moved", () => rename(join(dir, "tree"), join(dir, "moved")));
        await new Promise((resolve) => setTimeout(resolve, 100));
        await seen("moved/sub/y.yaml", () =>
          writeFile(join(dir, "moved", "sub", "y.yaml"), "y: 2\n"),
        );
      } finally {
        await queue.close();
        await rm(outside, { recursive: true, force: true });
      }
    },
  );

  it("close() releases a waiting next()", async () => {
    const queue = await watchChanges(dir, { debounceMs: 50 });
    const waiting = queue.next();
    await queue.close();
    assert.equal(await waiting, undefined);
  });
});

describe("cycle output", () => {
  it("a pinned cycle says pushed, not applied, and to what the cluster is pinned; the check's time shows", () => {
    assert.equal(
      formatCycle({
        cycle: 4,
        trigger: "change",
        changed: ["settings.yaml"],
        outcome: "pinned",
        version: "0.0.4",
        pinnedTo: "0.0.1",
        timings: { validateMs: 3, pushMs: 18, totalMs: 40 },
      }),
      "· settings.yaml → 0.0.4 pushed, not applied: the cluster is pinned to 0.0.1 (validate 3ms · push 18ms · 40ms from save)",
    );
    assert.match(
      formatCycle({
        cycle: 5,
        trigger: "change",
        changed: ["settings.yaml"],
        outcome: "applied",
        version: "0.0.5",
        timings: { applyMs: 160, checkMs: 2.4, totalMs: 300 },
      }),
      /apply 160ms · check 2ms · 300ms from save/,
    );
  });

  it("prints one line with the timings, and the problems of an invalid save below it", () => {
    assert.equal(
      formatCycle({
        cycle: 2,
        trigger: "change",
        changed: ["settings.yaml"],
        outcome: "applied",
        version: "0.0.4",
        timings: { validateMs: 3.2, pushMs: 18, fetchMs: 141, applyMs: 160.4, totalMs: 412 },
      }),
      "✓ settings.yaml → 0.0.4 applied (validate 3ms · push 18ms · fetch 141ms · apply 160ms · 412ms from save)",
    );
    assert.equal(
      formatCycle({
        cycle: 3,
        trigger: "change",
        changed: ["a.yaml", "b.yaml", "c.yaml", "d.yaml"],
        outcome: "invalid",
        problems: ["a.yaml:3:1: missing metadata.name"],
        timings: { totalMs: 90 },
      }),
      "✗ a.yaml, b.yaml, c.yaml +1 more: invalid, nothing pushed — 1 problem:\n    a.yaml:3:1: missing metadata.name",
    );
    const json = JSON.parse(
      cycleJson({
        cycle: 1,
        trigger: "start",
        changed: [],
        outcome: "pushed",
        version: "0.0.1",
        timings: { totalMs: 12.345 },
      }),
    ) as { timings: { totalMs: number } };
    assert.equal(json.timings.totalMs, 12.3);
  });
});
