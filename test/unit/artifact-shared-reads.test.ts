import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SourceFile } from "../../src/artifact/source-files.js";
import { sharedReads } from "../../src/artifact/shared-reads.js";

const files: SourceFile[] = Array.from({ length: 40 }, (_, i) => ({
  path: `f${i}`,
  absolutePath: `/nowhere/f${i}`,
  size: 1,
  executable: false,
}));

/** A read that counts and answers at once with a distinct buffer per file. */
function countingRead() {
  const started: string[] = [];
  return {
    started,
    read: async (file: SourceFile) => {
      started.push(file.path);
      return Buffer.from(file.path);
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("sharedReads", () => {
  it("reads each file once and gives every reader the same bytes", async () => {
    const { started, read } = countingRead();
    const [a, b] = sharedReads(files, 2, { read });
    const fromA = await Promise.all(files.map((_, i) => a!.take(i)));
    const fromB = await Promise.all(files.map((_, i) => b!.take(i)));
    assert.equal(started.length, files.length);
    for (let i = 0; i < files.length; i++) {
      assert.equal(fromA[i], fromB[i], `file ${i}: not the same buffer`);
      assert.equal(fromA[i]!.toString(), `f${i}`);
    }
  });

  it("holds a reader back when it gets more than the window ahead, until the other catches up", async () => {
    const { started, read } = countingRead();
    const [fast, slow] = sharedReads(files, 2, { read, window: 4 });
    for (let i = 0; i <= 4; i++) await fast!.take(i);
    let got = false;
    const ahead = fast!.take(5).then(() => (got = true));
    await turn();
    assert.equal(got, false, "index 5 was given while the other reader had taken none");
    assert.equal(started.length, 5, "a file was read beyond the window");
    await slow!.take(0);
    await ahead;
    assert.equal(got, true);
    assert.equal(started.length, 6);
  });

  it("stops holding others back once a reader finishes", async () => {
    const { read } = countingRead();
    const [a, b] = sharedReads(files, 2, { read, window: 2 });
    const waiting = a!.take(10);
    let done = false;
    void waiting.then(() => (done = true));
    await turn();
    assert.equal(done, false);
    b!.finish();
    await waiting;
    assert.equal(done, true);
    // Entries b will never take are not kept: a's later takes need no b.
    for (let i = 11; i < files.length; i++) await a!.take(i);
  });

  it("passes a failed read to every reader that takes it", async () => {
    const [a, b] = sharedReads(files, 2, {
      read: async (file) => {
        if (file.path === "f1") throw new Error("EACCES f1");
        return Buffer.from(file.path);
      },
    });
    await assert.rejects(a!.take(1), /EACCES f1/);
    await assert.rejects(b!.take(1), /EACCES f1/);
  });
});
