import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SourceFile } from "../../src/artifact/source-files.js";
import { SLOT_SIZE, sharedReads } from "../../src/artifact/shared-reads.js";

let dir: string;
let files: SourceFile[];
/** File i holds `content(i)`: sizes from a few bytes to past a slot, so both read paths run. */
const content = (i: number) =>
  Buffer.from(`file ${i} `.repeat(i % 7 === 0 ? SLOT_SIZE / 4 : 1 + ((i * 37) % 300)));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ksail-shared-reads-"));
  files = [];
  for (let i = 0; i < 120; i++) {
    const path = join(dir, `f${String(i).padStart(3, "0")}`);
    await writeFile(path, content(i));
    files.push({ path: `f${i}`, absolutePath: path, size: content(i).length, executable: false });
  }
});
after(() => rm(dir, { recursive: true, force: true }));

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("sharedReads", () => {
  it("reads each file once: every reader gets the same bytes", async () => {
    const [a, b] = sharedReads(files, 2);
    for (let i = 0; i < files.length; i++) {
      const [fromA, fromB] = await Promise.all([a!.take(i), b!.take(i)]);
      assert.equal(fromA, fromB, `file ${i}: read twice`);
      assert.deepEqual(fromA, content(i));
      a!.release(i);
      b!.release(i);
    }
  });

  it("reuses slots only after every reader released them: bytes stay right until release", async () => {
    const [a, b] = sharedReads(files, 2, { window: 8 });
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const reader = async (r: NonNullable<typeof a>) => {
      const held: [number, Buffer][] = [];
      for (let i = 0; i < files.length; i++) {
        held.push([i, await r.take(i)]);
        // Hold a few files for a while, as the layer build does across a gzip wait.
        while (held.length > (rand() < 0.5 ? 0 : 5)) {
          const [index, bytes] = held.shift()!;
          assert.deepEqual(bytes, content(index), `file ${index} changed before its release`);
          r.release(index);
          if (rand() < 0.3) await turn();
        }
      }
      for (const [index, bytes] of held) {
        assert.deepEqual(bytes, content(index), `file ${index} changed before its release`);
        r.release(index);
      }
      r.finish();
    };
    await Promise.all([reader(a!), reader(b!)]);
  });

  it("holds a reader back when it gets more than the window ahead, until the other catches up", async () => {
    const [fast, slow] = sharedReads(files, 2, { window: 4 });
    for (let i = 0; i <= 4; i++) await fast!.take(i);
    let got = false;
    const ahead = fast!.take(5).then(() => (got = true));
    await turn();
    assert.equal(got, false, "index 5 was given while the other reader had taken none");
    await slow!.take(0);
    await ahead;
    assert.equal(got, true);
  });

  it("stops holding others back once a reader finishes", async () => {
    const [a, b] = sharedReads(files, 2, { window: 2 });
    let done = false;
    const waiting = a!.take(10).then(() => (done = true));
    await turn();
    assert.equal(done, false);
    b!.finish();
    await waiting;
    for (let i = 11; i < 20; i++) {
      assert.deepEqual(await a!.take(i), content(i));
      a!.release(i);
    }
  });

  it("passes a failed read to every reader that takes it", async () => {
    const missing = [...files.slice(0, 1), { ...files[1]!, absolutePath: join(dir, "gone") }];
    const [a, b] = sharedReads(missing, 2);
    await assert.rejects(a!.take(1), /ENOENT/);
    await assert.rejects(b!.take(1), /ENOENT/);
  });
});
