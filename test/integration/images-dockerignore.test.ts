/**
 * The build context after .dockerignore, with the Docker CLI as the oracle: the same directory
 * built by `docker build` (classic builder) and by ksail on one dockerd must give images with
 * the same files — except `.git`, which ksail leaves out on purpose (src/images/context.ts).
 * Changes to ignored files do not change the content hash.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { extract } from "tar-stream";
import { connectEngine } from "../../src/engine/docker.js";
import { buildImages, imageDestination, type BuiltImage } from "../../src/images/build.js";
import { contextHash, listBuildContext } from "../../src/images/context.js";
import { RegistryClient } from "../../src/oci/client.js";
import { startDockerEngine, which, type TestEngine } from "../../lab/docker.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const run = promisify(execFile);

const FILES: Record<string, string> = {
  Dockerfile: "FROM scratch\nCOPY . /ctx/\n",
  ".dockerignore": [
    "# comments and blank lines are skipped",
    "",
    "*.log",
    "!keep.log",
    "secret/",
    "**/*.tmp",
    "docs",
    "!docs/README.md",
    "/rooted.txt",
    "Dockerfile",
    "  spaced.txt  ",
  ].join("\n"),
  "a.log": "root log: ignored\n",
  "keep.log": "re-included\n",
  "sub/b.log": "*.log matches at the root only: kept\n",
  "secret/key": "ignored directory\n",
  "x.tmp": "ignored\n",
  "sub/deep/y.tmp": "ignored at any depth\n",
  "docs/a.md": "ignored directory\n",
  "docs/README.md": "re-included from an ignored directory\n",
  "rooted.txt": "ignored\n",
  "sub/rooted.txt": "kept\n",
  "spaced.txt": "ignored (pattern trimmed)\n",
  "src/main.go": "package main\n",
  ".git/HEAD": "ref: refs/heads/main\n",
};

function writeTree(files: Record<string, string>, dir: string): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** Paths under /ctx in an image's filesystem, read from an exported container. */
async function filesIn(lab: TestEngine, image: string): Promise<string[]> {
  const container = await lab.docker.createContainer({ Image: image, Cmd: ["none"] });
  try {
    const stream = (await container.export()) as unknown as Readable;
    const names: string[] = [];
    const reader = extract();
    reader.on("entry", (header, body, next) => {
      if (header.name.startsWith("ctx/") && header.type === "file")
        names.push(header.name.slice(4));
      body.on("end", next);
      body.resume();
    });
    stream.pipe(reader);
    await new Promise<void>((resolve, reject) => {
      reader.on("finish", resolve);
      reader.on("error", reject);
    });
    return names.sort();
  } finally {
    await container.remove({ force: true });
  }
}

describe(".dockerignore as the Docker CLI applies it", { timeout: 300_000 }, () => {
  let lab: TestEngine;
  let registry: LabRegistry;
  let client: RegistryClient;

  before(async () => {
    if (!which("docker"))
      throw new Error(
        "the docker CLI is missing (the oracle here): run `apt-get install -y docker.io`",
      );
    [lab, registry] = await Promise.all([startDockerEngine(), startRegistry()]);
    client = new RegistryClient();
  });
  after(async () => {
    client?.close();
    await Promise.allSettled([lab?.stop(), registry?.stop()]);
  });

  test("ksail's image holds the files `docker build` puts in, .git aside", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-dockerignore-"));
    writeTree(FILES, dir);
    await run("docker", ["build", "-q", "-t", "oracle:1", dir], {
      env: { ...process.env, DOCKER_HOST: lab.dockerHost, DOCKER_BUILDKIT: "0" },
    });
    const oracle = await filesIn(lab, "oracle:1");
    const engine = await connectEngine(lab.env);
    const [ours] = (await buildImages(
      { client, engine: () => Promise.resolve(engine) },
      {
        images: [{ name: "ctx", context: dir }],
        destination: imageDestination({ registry: registry.registry, repository: "app" }),
      },
    )) as [BuiltImage];
    const mine = await filesIn(lab, `${ours.repository}:${ours.tag}`);
    assert.deepEqual(
      mine,
      oracle.filter((path) => !path.startsWith(".git/")),
    );
    // The oracle did take .git (so leaving it out is ksail's doing), and the expected files.
    assert.ok(oracle.includes(".git/HEAD"), oracle.join(" "));
    assert.deepEqual(mine, [
      ".dockerignore",
      "docs/README.md",
      "keep.log",
      "src/main.go",
      "sub/b.log",
      "sub/rooted.txt",
    ]);
  });

  test("a change to an ignored file (or .git) keeps the content hash; a kept file changes it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-dockerignore-"));
    writeTree(FILES, dir);
    const hash = async () => contextHash(await listBuildContext(dir), {});
    const first = await hash();
    writeFileSync(join(dir, "a.log"), "more log lines\n");
    writeFileSync(join(dir, "docs", "a.md"), "edited\n");
    writeFileSync(join(dir, ".git", "index"), "git touched its index\n");
    assert.equal(await hash(), first);
    writeFileSync(join(dir, "sub", "b.log"), "a kept file changed\n");
    assert.notEqual(await hash(), first);
    // Build settings are part of it too.
    const listed = await listBuildContext(dir);
    assert.notEqual(
      await contextHash(listed, { buildArgs: { MODE: "debug" } }),
      await contextHash(listed, {}),
    );
  });
});
