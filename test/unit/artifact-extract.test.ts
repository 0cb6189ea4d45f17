import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { pack as tarPack, type Header } from "tar-stream";
import { isKsailError } from "../../src/errors.js";
import { extractLayer, readLayerFiles } from "../../src/artifact/extract.js";
import { buildLayer } from "../../src/artifact/layer.js";
import { listSourceFiles } from "../../src/artifact/source-files.js";

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-extract-"));
  temps.push(dir);
  return dir;
}

type Entry = Partial<Header> & { name: string; content?: string };

/** A gzip-compressed tar with exactly these entries (crafted, not sanitised). */
async function craft(entries: Entry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on("end", () => resolve()));
  for (const { content, ...header } of entries) {
    if (content !== undefined) pack.entry({ ...header, size: Buffer.byteLength(content) }, content);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Extracts into <sandbox>/dest and checks that nothing appeared anywhere else in the sandbox. */
async function expectRefused(layer: Buffer, pattern: RegExp): Promise<void> {
  const sandbox = await tempDir();
  const dest = join(sandbox, "inner", "dest");
  await assert.rejects(
    extractLayer(layer, dest),
    (e) => isKsailError(e) && e.kind === "validation" && pattern.test(e.message),
  );
  assert.deepEqual(await listAll(sandbox), [], "something was written");
  await assert.rejects(readLayerFiles(layer), (e) => isKsailError(e) && e.kind === "validation");
}

describe("extractLayer safety", () => {
  it("refuses absolute paths", async () => {
    await expectRefused(await craft([{ name: "/tmp/evil.yaml", content: "x" }]), /absolute path/);
  });

  it("refuses ../x", async () => {
    await expectRefused(await craft([{ name: "../x.yaml", content: "x" }]), /"\.\." path segment/);
  });

  it("refuses a/../../x", async () => {
    await expectRefused(
      await craft([
        { name: "a/ok.yaml", content: "x" },
        { name: "a/../../x.yaml", content: "x" },
      ]),
      /a\/\.\.\/\.\.\/x\.yaml/,
    );
  });

  it("refuses a symlink pointing out, and the file written through it", async () => {
    await expectRefused(
      await craft([
        { name: "out", type: "symlink", linkname: "../../.." },
        { name: "out/evil.yaml", content: "x" },
      ]),
      /"out" is a symlink pointing outside/,
    );
    await expectRefused(
      await craft([{ name: "abs", type: "symlink", linkname: "/etc/passwd" }]),
      /symlink pointing outside/,
    );
  });

  it("refuses a hard link out", async () => {
    await expectRefused(
      await craft([{ name: "passwd", type: "link", linkname: "../../etc/passwd" }]),
      /hardlink pointing outside/,
    );
  });

  it("refuses devices and fifos", async () => {
    await expectRefused(
      await craft([{ name: "null", type: "character-device", devmajor: 1, devminor: 3 }]),
      /character-device/,
    );
    await expectRefused(await craft([{ name: "disk", type: "block-device" }]), /block-device/);
    await expectRefused(await craft([{ name: "pipe", type: "fifo" }]), /fifo/);
  });

  it("refuses duplicate entries and file/directory clashes", async () => {
    await expectRefused(
      await craft([
        { name: "a.yaml", content: "1" },
        { name: "a.yaml", content: "2" },
      ]),
      /more than once/,
    );
    await expectRefused(
      await craft([
        { name: "a", content: "1" },
        { name: "a/b.yaml", content: "2" },
      ]),
      /which is a file/,
    );
  });

  it("caps total size and entry count", async () => {
    const layer = await craft([
      { name: "a.yaml", content: "x".repeat(600) },
      { name: "b.yaml", content: "x".repeat(600) },
    ]);
    const dest = join(await tempDir(), "dest");
    await assert.rejects(extractLayer(layer, dest, { maxSize: 1000 }), /more than 1000 bytes/);
    await assert.rejects(extractLayer(layer, dest, { maxEntries: 1 }), /more than 1 entries/);
    assert.equal(existsSync(dest), false);
  });

  it("refuses a gzip bomb without inflating it fully", async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    await assert.rejects(
      readLayerFiles(bomb, { maxSize: 1024 * 1024, maxEntries: 10 }),
      (e) => isKsailError(e) && /decompressed/.test(e.message),
    );
  });

  it("skips links that stay inside and reports them", async () => {
    const layer = await craft([
      { name: "a.yaml", content: "a" },
      { name: "link.yaml", type: "symlink", linkname: "a.yaml" },
      { name: "sub/hard.yaml", type: "link", linkname: "a.yaml" },
    ]);
    const dest = join(await tempDir(), "dest");
    const result = await extractLayer(layer, dest);
    assert.deepEqual(result.files, ["a.yaml"]);
    assert.deepEqual(
      result.skipped.map((s) => `${s.reason}:${s.path}`),
      ["symlink:link.yaml", "hardlink:sub/hard.yaml"],
    );
    assert.deepEqual(await listAll(dest), ["a.yaml"]);
  });

  it("accepts Flux-style names: a root '.' entry, './' prefixes, directories without a slash", async () => {
    const layer = await craft([
      { name: ".", type: "directory" },
      { name: "./apps", type: "directory" },
      { name: "./apps/web.yaml", content: "web" },
    ]);
    const files = await readLayerFiles(layer);
    assert.deepEqual([...files.keys()], ["apps/web.yaml"]);
  });

  it("refuses a non-empty destination and a file as destination", async () => {
    const layer = await craft([{ name: "a.yaml", content: "new" }]);
    const dest = await tempDir();
    await writeFile(join(dest, "a.yaml"), "old");
    await assert.rejects(
      extractLayer(layer, dest),
      (e) => isKsailError(e) && e.kind === "conflict",
    );
    assert.equal(await readFile(join(dest, "a.yaml"), "utf8"), "old");
    await assert.rejects(
      extractLayer(layer, join(dest, "a.yaml")),
      (e) => isKsailError(e) && e.kind === "conflict",
    );
  });

  it("refuses data that is not gzip", async () => {
    await assert.rejects(readLayerFiles(Buffer.from("plain text")), /not valid gzip/);
  });
});

describe("build → extract round trip", () => {
  it("reproduces every file byte for byte, with modes", async () => {
    const src = await tempDir();
    const contents: Record<string, Buffer> = {
      "kustomization.yaml": Buffer.from("resources: [apps]\n"),
      "apps/kustomization.yaml": Buffer.from("resources: [web.yaml]\n"),
      "apps/web.yaml": Buffer.from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"),
      "empty.txt": Buffer.alloc(0),
      "scripts/run.sh": Buffer.from("#!/bin/sh\necho ✓\n"),
      [`${"long/".repeat(25)}deep.yaml`]: Buffer.from("deep\n"),
      "block.bin.yaml": Buffer.from("x".repeat(512)),
    };
    for (const [path, data] of Object.entries(contents)) {
      await mkdir(dirname(join(src, path)), { recursive: true });
      await writeFile(join(src, path), data, { mode: path.endsWith(".sh") ? 0o755 : 0o644 });
    }
    const layer = await buildLayer((await listSourceFiles(src)).files);
    const dest = join(await tempDir(), "out");
    const result = await extractLayer(layer.data, dest);
    assert.deepEqual(result.files, Object.keys(contents).sort());
    for (const [path, data] of Object.entries(contents)) {
      assert.ok((await readFile(join(dest, path))).equals(data), path);
    }
    assert.equal((await stat(join(dest, "scripts/run.sh"))).mode & 0o111, 0o111 & ~process.umask());
    const read = await readLayerFiles(layer.data);
    assert.deepEqual([...read.keys()], Object.keys(contents).sort());
  });
});
