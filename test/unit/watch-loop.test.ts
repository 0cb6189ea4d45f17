/**
 * The parts of the watch loop that keep it flat and quick over a long session: the race against
 * Ctrl-C leaves nothing behind per cycle (unlessAborted), one watch per Flux object serves every
 * wait (ObjectWatch), the validation memo holds the tree's entries and not every content ever
 * saved (watchMemo), and a file still being written keeps its burst open.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KsailError } from "../../src/errors.js";
import { ObjectWatch, type ObjectFeed } from "../../src/k8s/object-watch.js";
import { openValidationCache } from "../../src/validate/cache.js";
import type { FastObject } from "../../src/validate/fast-objects.js";
import { watchMemo } from "../../src/workload/watch.js";
import { watchChanges } from "../../src/workload/watch-changes.js";
import { ABANDONED, unlessAborted } from "../../src/workload/watch-cycle.js";

describe("unlessAborted", () => {
  it("leaves no abort listener behind, however many cycles race against one signal", async () => {
    const controller = new AbortController();
    for (let i = 0; i < 500; i++) {
      assert.equal(await unlessAborted(Promise.resolve(i), controller.signal), i);
      await assert.rejects(unlessAborted(Promise.reject(new Error("x")), controller.signal), /x/);
    }
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("answers ABANDONED after the grace period once the signal aborts", async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => undefined);
    // The grace timer does not keep a process alive (the watch has its own handles): this does.
    const alive = setInterval(() => undefined, 1000);
    try {
      const raced = unlessAborted(never, controller.signal, 20);
      controller.abort();
      assert.equal(await raced, ABANDONED);
      assert.equal(await unlessAborted(never, controller.signal), ABANDONED, "already aborted");
    } finally {
      clearInterval(alive);
    }
  });
});

interface Obj {
  metadata: { name: string; resourceVersion: string };
  value: number;
}

/** A feed whose reads and watch events the test drives. */
function scriptedFeed(initial: Obj | undefined) {
  const state = {
    current: initial,
    reads: 0,
    watches: 0,
    aborted: 0,
    onEvent: undefined as ((type: string, object: Obj) => void) | undefined,
    onEnd: undefined as ((error: unknown) => void) | undefined,
  };
  const feed: ObjectFeed<Obj> = {
    read: () => {
      state.reads++;
      return Promise.resolve(state.current);
    },
    watch: (_rv, onEvent, onEnd) => {
      state.watches++;
      state.onEvent = onEvent;
      state.onEnd = onEnd;
      return { abort: () => state.aborted++ };
    },
  };
  const emit = (value: number, type = "MODIFIED") => {
    state.current = { metadata: { name: "a", resourceVersion: String(value) }, value };
    state.onEvent?.(type, state.current);
  };
  return { feed, state, emit };
}

const obj = (value: number): Obj => ({
  metadata: { name: "a", resourceVersion: String(value) },
  value,
});
const forever = { timeoutMs: 60_000, describeTimeout: () => "timed out" };

describe("ObjectWatch", () => {
  it("answers waits from what it has seen and from later events, with one read", async () => {
    const { feed, state, emit } = scriptedFeed(obj(1));
    const watch = await ObjectWatch.open(feed, "thing");
    try {
      assert.equal(await watch.until((o) => (o && o.value >= 1 ? o.value : undefined), forever), 1);
      const later = watch.until((o) => (o && o.value >= 3 ? o.value : undefined), forever);
      emit(2);
      emit(3);
      assert.equal(await later, 3);
      const another = watch.until((o) => (o && o.value >= 4 ? o.value : undefined), forever);
      emit(4);
      assert.equal(await another, 4);
      assert.equal(state.reads, 1, "no read per wait");
      assert.equal(state.watches, 1, "no new watch per wait");
      // BOOKMARK and ERROR events carry no object state.
      state.onEvent?.("BOOKMARK", { metadata: { name: "", resourceVersion: "9" }, value: -1 });
      state.onEvent?.("ERROR", { metadata: { name: "", resourceVersion: "" }, value: -1 });
      assert.equal(watch.latest?.value, 4);
    } finally {
      watch.close();
    }
  });

  it("reads again and watches anew when the server ends the watch", async () => {
    const { feed, state } = scriptedFeed(obj(1));
    const watch = await ObjectWatch.open(feed, "thing");
    try {
      const waiting = watch.until((o) => (o && o.value === 7 ? "seen" : undefined), forever);
      state.current = obj(7); // changed while no watch ran: the new read must show it
      state.onEnd?.(null);
      assert.equal(await waiting, "seen");
      assert.equal(state.reads, 2);
      assert.equal(state.watches, 2);
    } finally {
      watch.close();
    }
  });

  it("fails its waits when a request gets no answer, when closed, and at the timeout", async () => {
    const first = scriptedFeed(obj(1));
    const silent = await ObjectWatch.open(first.feed, "thing");
    const waiting = silent.until(() => undefined, forever);
    first.state.onEnd?.(new KsailError("timeout", "no answer"));
    await assert.rejects(waiting, /no answer/);
    assert.equal(silent.live, false);
    await assert.rejects(
      silent.until(() => 1, forever),
      /no answer/,
    );

    const second = scriptedFeed(obj(1));
    const closing = await ObjectWatch.open(second.feed, "thing");
    const pending = closing.until(() => undefined, forever);
    closing.close();
    await assert.rejects(pending, /stopped watching thing/);
    assert.equal(second.state.aborted, 1, "the watch request is ended");

    const third = scriptedFeed(obj(1));
    const slow = await ObjectWatch.open(third.feed, "thing");
    try {
      await assert.rejects(
        slow.until(() => undefined, { timeoutMs: 10, describeTimeout: () => "too slow" }),
        (e: unknown) =>
          e instanceof KsailError && e.kind === "timeout" && /too slow/.test(e.message),
      );
    } finally {
      slow.close();
    }
  });

  it("a wait's own error ends only that wait", async () => {
    const { feed, emit } = scriptedFeed(obj(1));
    const watch = await ObjectWatch.open(feed, "thing");
    try {
      const failing = watch.until((o) => {
        if (o && o.value === 2) throw new Error("failed run");
        return undefined;
      }, forever);
      emit(2);
      await assert.rejects(failing, /failed run/);
      assert.equal(watch.live, true);
      const next = watch.until((o) => (o && o.value === 3 ? 3 : undefined), forever);
      emit(3);
      assert.equal(await next, 3);
    } finally {
      watch.close();
    }
  });
});

describe("watchChanges and a file still being written", () => {
  it("does not hand out the burst while the file keeps changing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-watch-slow-writer-"));
    const queue = await watchChanges(dir, { debounceMs: 600, maxWaitMs: 30_000 });
    try {
      const file = join(dir, "big.yaml");
      let writing = true;
      let deliveredWhileWriting = false;
      const next = queue.next().then((batch) => {
        deliveredWhileWriting = writing;
        return batch;
      });
      await writeFile(file, "items:\n");
      // Every 80 ms a little more, for about a second (slower than the library's own 50 ms
      // batching, so each write comes as its own event): every event names the same file, each
      // time it looks different, so every one of them is news and the burst stays open.
      for (let i = 0; i < 12; i++) {
        await new Promise((resolve) => setTimeout(resolve, 80));
        await appendFile(file, `  - ${i}\n`);
      }
      writing = false;
      const batch = await next;
      assert.ok(batch?.paths.has("big.yaml"));
      assert.equal(deliveredWhileWriting, false, "the burst was handed out mid-write");
    } finally {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("watchMemo", () => {
  const objects = (n: number): FastObject[] => [
    { document: 0, key: `\0ConfigMap\0default\0c${n}`, display: `ConfigMap default/c${n}` },
  ];

  it("keeps the last two validations' entries, not one per content ever saved", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-watch-memo-"));
    try {
      const memo = watchMemo(await openValidationCache(dir));
      await memo.scope("/src/k8s");
      // 300 saves, each validating one unchanged file and one new content of an edited file.
      memo.set("sha256:kustomization", objects(0));
      for (let i = 1; i <= 300; i++) {
        assert.deepEqual(memo.get("sha256:kustomization"), objects(0), `unchanged file, save ${i}`);
        assert.equal(memo.get(`sha256:edit-${i}`), undefined);
        if (i > 1) {
          // The content one save before is still known (an undo costs no validation) …
          assert.deepEqual(memo.get(`sha256:edit-${i - 1}`), objects(i - 1));
        }
        if (i > 3) {
          // … older ones are gone.
          assert.equal(memo.get(`sha256:edit-${i - 3}`), undefined, `save ${i}`);
        }
        memo.set(`sha256:edit-${i}`, objects(i));
        await memo.save();
      }
      assert.deepEqual(memo.get("sha256:edit-300"), objects(300), "the tree as it is");
      assert.equal(memo.get("sha256:edit-1"), undefined, "an old content is gone");

      // At the end, the file gets what the memo holds, and a later run finds it.
      await memo.flush();
      const next = await openValidationCache(dir);
      await next.scope("/src/k8s");
      assert.deepEqual(next.get("sha256:edit-300"), objects(300));
      assert.deepEqual(next.get("sha256:kustomization"), objects(0));
      assert.equal(next.get("sha256:edit-1"), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
