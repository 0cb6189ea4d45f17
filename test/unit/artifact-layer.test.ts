import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { extract as tarExtract, type Header } from "tar-stream";
import { buildLayer, entryHeader, GZIP_SEGMENT, writeLayerFile } from "../../src/artifact/layer.js";
import { execFile, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import { readLayerFiles } from "../../src/artifact/extract.js";

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-layer-"));
  temps.push(dir);
  return dir;
}

const CONTENT: Record<string, string> = {
  "kustomization.yaml": "resources:\n  - apps/web.yaml\n",
  "apps/web.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
  "apps/db/db.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n",
  "z-last.yaml": "# last\n",
};

async function writeTree(
  root: string,
  order: string[],
  options: { mtime: Date; fileMode: number },
): Promise<void> {
  for (const path of order) {
    const target = join(root, path);
    await mkdir(join(target, ".."), { recursive: true });
    await writeFile(target, CONTENT[path]!);
    await chmod(target, options.fileMode);
    await utimes(target, options.mtime, options.mtime);
  }
}

async function tarHeaders(gz: Buffer): Promise<Header[]> {
  const headers: Header[] = [];
  const extractor = tarExtract();
  const done = (async () => {
    for await (const entry of extractor) {
      headers.push(entry.header);
      entry.resume();
    }
  })();
  extractor.end(gunzipSync(gz));
  await done;
  return headers;
}

describe("buildLayer", () => {
  it("gives the same digest for the same content regardless of order, mtimes, modes and umask", async () => {
    const a = await tempDir();
    const b = await tempDir();
    const previousUmask = process.umask(0o022);
    try {
      await writeTree(a, Object.keys(CONTENT), { mtime: new Date("2020-01-01"), fileMode: 0o644 });
      process.umask(0o077);
      await writeTree(b, Object.keys(CONTENT).reverse(), {
        mtime: new Date("2024-06-30T12:34:56Z"),
        fileMode: 0o600,
      });
    } finally {
      process.umask(previousUmask);
    }
    const layerA = await buildLayer((await listSourceFiles(a)).files);
    const layerB = await buildLayer((await listSourceFiles(b)).files);
    assert.equal(layerA.digest, layerB.digest);
    assert.ok(layerA.data.equals(layerB.data));
    assert.equal(layerA.diffId, layerB.diffId);
    assert.equal(layerA.fileCount, 4);
    assert.equal(layerA.size, layerA.data.length);
    assert.equal(layerA.uncompressedSize, gunzipSync(layerA.data).length);

    // Building twice from the same directory gives the same bytes too.
    const again = await buildLayer((await listSourceFiles(a)).files);
    assert.equal(again.digest, layerA.digest);
  });

  it("writes a gzip header without name or mtime and tar headers with zero times and ids", async () => {
    const dir = await tempDir();
    await writeTree(dir, Object.keys(CONTENT), { mtime: new Date("2021-03-04"), fileMode: 0o664 });
    await writeFile(join(dir, "run.sh"), "#!/bin/sh\n");
    await chmod(join(dir, "run.sh"), 0o775);
    const layer = await buildLayer((await listSourceFiles(dir)).files);
    const gz = layer.data;
    assert.deepEqual([...gz.subarray(0, 4)], [0x1f, 0x8b, 0x08, 0x00]); // magic, deflate, no FNAME/FCOMMENT
    assert.equal(gz.readUInt32LE(4), 0); // MTIME
    assert.equal(gz[9], 0xff); // OS unknown, as Go writes it

    const headers = await tarHeaders(gz);
    assert.deepEqual(
      headers.map((h) => `${h.type} ${h.name} ${(h.mode ?? 0).toString(8)}`),
      [
        "directory apps/ 755",
        "directory apps/db/ 755",
        "file apps/db/db.yaml 644",
        "file apps/web.yaml 644",
        "file kustomization.yaml 644",
        "file run.sh 755",
        "file z-last.yaml 644",
      ],
    );
    for (const h of headers) {
      assert.equal(h.mtime?.getTime(), 0, h.name);
      assert.equal(h.uid, 0);
      assert.equal(h.gid, 0);
      assert.equal(h.uname, "");
      assert.equal(h.gname, "");
    }
  });

  it("matches the golden digest for a known tiny input (reproducible across machines)", async () => {
    const dir = await tempDir();
    await writeTree(dir, Object.keys(CONTENT), { mtime: new Date(), fileMode: 0o644 });
    const layer = await buildLayer((await listSourceFiles(dir)).files);
    // The uncompressed tar is fully defined by ksail's own USTAR encoder.
    assert.equal(
      layer.diffId,
      "sha256:26b45bc7afff87764a41f34d3bc70dc9b9e23692d7af01f726fa638e548ed866",
    );
    // The gzip stream comes from Node's bundled zlib (same bytes for the same zlib build).
    assert.equal(
      layer.digest,
      "sha256:9644b23c1716bdb17aa7bcbf590dc4e7dbcc96533e80b1c4e373d27fd1e10254",
    );
  });

  it("stores long and non-ASCII names losslessly", async () => {
    const dir = await tempDir();
    const long = `${"deep/".repeat(30)}file.yaml`;
    const longSegment = `${"x".repeat(120)}.yaml`;
    for (const path of [long, longSegment, "café/ü.yaml"]) {
      await mkdir(join(dir, path, ".."), { recursive: true });
      await writeFile(join(dir, path), `# ${path}\n`);
    }
    const layer = await buildLayer((await listSourceFiles(dir)).files);
    const names = (await tarHeaders(layer.data))
      .filter((h) => h.type === "file")
      .map((h) => h.name);
    assert.deepEqual(names.sort(), [long, longSegment, "café/ü.yaml"].sort());
  });

  it("encodes a USTAR header with a valid checksum", () => {
    const [header] = entryHeader("a.yaml", "0", 0o644, 5);
    assert.ok(header);
    assert.equal(header.length, 512);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    assert.equal(parseInt(header.toString("ascii", 148, 154), 8), sum);
    assert.equal(header.toString("ascii", 257, 263), "ustar\0");
  });

  it("builds 2,000 files / ~20 MB with every file in the layer (speed is measured in bench/)", async () => {
    const dir = await tempDir();
    const body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n".padEnd(
      10_000,
      "#",
    );
    await Promise.all(
      Array.from({ length: 40 }, (_, d) => mkdir(join(dir, `d${d}`), { recursive: true })),
    );
    for (let i = 0; i < 2000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, k) =>
          writeFile(join(dir, `d${(i + k) % 40}`, `f${i + k}.yaml`), `${body}${i + k}\n`),
        ),
      );
    }
    const layer = await buildLayer((await listSourceFiles(dir)).files);
    assert.equal(layer.fileCount, 2000);
    const entries = await readLayerFiles(layer.data);
    assert.equal(entries.size, 2000);
    assert.equal(entries.get("d7/f7.yaml")?.toString("utf8"), `${body}7\n`);
  });

  it("splits layers over GZIP_SEGMENT into gzip members that GNU tar and gzip read as one stream", async () => {
    const dir = await tempDir();
    // 5 files of ~1 MiB of varied text: > 4 MiB of tar, so at least two members.
    for (let i = 0; i < 5; i++) {
      const lines = Array.from(
        { length: 60_000 },
        (_, n) => `line ${i}-${n} ${(n * 7919) % 10007}`,
      );
      await writeFile(join(dir, `doc${i}.txt`), `${lines.join("\n")}\n`);
    }
    const layer = await buildLayer((await listSourceFiles(dir)).files);
    assert.ok(layer.uncompressedSize > GZIP_SEGMENT);
    const gunzipped = gunzipSync(layer.data);
    assert.equal(gunzipped.length, layer.uncompressedSize);
    // Deterministic: building again gives the same bytes.
    assert.equal((await buildLayer((await listSourceFiles(dir)).files)).digest, layer.digest);
    const archive = join(await tempDir(), "layer.tar.gz");
    await writeFile(archive, layer.data);
    const run = promisify(execFile);
    await run("gzip", ["-t", archive]);
    const { stdout } = await run("tar", ["-tzf", archive]);
    assert.deepEqual(stdout.trim().split("\n"), [
      "doc0.txt",
      "doc1.txt",
      "doc2.txt",
      "doc3.txt",
      "doc4.txt",
    ]);
  });
});

describe("writeLayerFile", () => {
  /** Deterministic text: 300 files of 1–41 KB (> GZIP_SEGMENT of tar: two gzip members), a PAX name, an executable. */
  async function fixture(): Promise<string> {
    const root = await tempDir();
    const text = (seed: number, size: number): string => {
      let out = "";
      let h = createHash("sha256").update(String(seed)).digest("hex");
      while (out.length < size) {
        h = createHash("sha256").update(h).digest("hex");
        out += `k${h.slice(0, 12)}: ${h.slice(12, 40)} words and more words\n`;
      }
      return out.slice(0, size);
    };
    for (let i = 0; i < 300; i++) {
      const path = join(root, `d${i % 7}`, `sub${i % 3}`, `f${i}.yaml`);
      await mkdir(join(path, ".."), { recursive: true });
      await writeFile(path, text(i, 1000 + ((i * 7919) % 40000)));
    }
    const long = join(root, "a".repeat(60), "b".repeat(60), `${"c".repeat(70)}.yaml`);
    await mkdir(join(long, ".."), { recursive: true });
    await writeFile(long, "x: 1\n");
    await writeFile(join(root, "ü-naïve.yaml"), "y: 2\n");
    await writeFile(join(root, "run.sh"), "#!/bin/sh\n");
    await chmod(join(root, "run.sh"), 0o755);
    await writeFile(join(root, "empty.txt"), "");
    return root;
  }

  it("streams the same bytes the in-memory build gave before streaming existed (and gives now)", async () => {
    const { files } = await listSourceFiles(await fixture());
    const into = await tempDir();
    const layer = await writeLayerFile(files, { directory: into });
    try {
      // Digests of this fixture from buildLayer at e84ea38, before the push streamed its layer.
      assert.equal(
        layer.digest,
        "sha256:0db7a9d252d994a8eeed8cb08c0b36a3dc9ce9894ecce751f084c1d515662ec4",
      );
      assert.equal(
        layer.diffId,
        "sha256:b5e057081899c72e543950b613519105a62a85c515837256655015a86df7a798",
      );
      assert.equal(layer.size, 2412398);
      assert.equal(layer.uncompressedSize, 6517248);
      assert.equal(layer.fileCount, 304);
      const onDisk = await readFile(layer.path);
      assert.equal(onDisk.length, layer.size);
      assert.equal(`sha256:${createHash("sha256").update(onDisk).digest("hex")}`, layer.digest);
      const inMemory = await buildLayer(files);
      assert.ok(inMemory.data.equals(onDisk));
      assert.equal(inMemory.diffId, layer.diffId);
    } finally {
      await layer.remove();
    }
    assert.deepEqual(await readdir(into), [], "remove() deletes the file and its directory");
  });

  it("leaves nothing behind when packing fails or is stopped", async () => {
    const root = await fixture();
    const { files } = await listSourceFiles(root);
    const into = await tempDir();
    await rm(join(root, "d3", "sub0", "f3.yaml"));
    await assert.rejects(writeLayerFile(files, { directory: into }), { code: "ENOENT" });
    assert.deepEqual(await readdir(into), []);

    const stop = new AbortController();
    stop.abort(new Error("validation failed"));
    await assert.rejects(writeLayerFile(files, { directory: into, signal: stop.signal }), {
      message: "validation failed",
    });
    assert.deepEqual(await readdir(into), []);
  });
});

describe("writeLayerFile's temporary file", () => {
  it("is removed when the process is stopped by SIGTERM, SIGINT or SIGHUP mid-write", async () => {
    const root = await tempDir();
    // ~24 MB of text that compresses slowly enough to be caught mid-write.
    const line = (n: number) => `k${n}: ${createHash("sha256").update(String(n)).digest("hex")}\n`;
    for (let f = 0; f < 6; f++) {
      await writeFile(
        join(root, `f${f}.yaml`),
        Array.from({ length: 50_000 }, (_, n) => line(f * 50_000 + n)).join(""),
      );
    }
    const layerModule = new URL("../../src/artifact/layer.ts", import.meta.url).href;
    const filesModule = new URL("../../src/artifact/source-files.ts", import.meta.url).href;
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      const into = await tempDir();
      const script =
        `const { writeLayerFile } = await import(${JSON.stringify(layerModule)});` +
        `const { listSourceFiles } = await import(${JSON.stringify(filesModule)});` +
        `const { files } = await listSourceFiles(${JSON.stringify(root)});` +
        `const big = Array.from({ length: 40 }, () => files).flat();` +
        `console.log("writing"); await writeLayerFile(big, { directory: ${JSON.stringify(into)} });`;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on("exit", (_code, by) => resolve(by)),
      );
      // Signal once the file exists (the child is inside writeLayerFile).
      await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
      // The file inside, not just the directory: it is opened after the directory is registered
      // for removal (a signal between mkdtemp and that would leave the empty directory).
      const written = async () => {
        const [dir] = await readdir(into);
        return dir !== undefined && (await readdir(join(into, dir))).includes("layer.tar.gz");
      };
      for (let i = 0; i < 400 && !(await written()); i++) await sleep(25);
      assert.ok(await written(), "the temporary layer file exists mid-write");
      child.kill(signal);
      assert.equal(await exited, signal, "the process still ends by the signal");
      assert.deepEqual(await readdir(into), [], `nothing left after ${signal}`);
    }
  });
});
