import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { isKsailError } from "../../src/errors.js";
import { listSourceFiles } from "../../src/artifact/source-files.js";

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "ksail-src-"));
  temps.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

async function paths(root: string, ignore?: string[]): Promise<string[]> {
  return (await listSourceFiles(root, ignore ? { ignore } : {})).files.map((f) => f.path);
}

describe("listSourceFiles", () => {
  it("lists files sorted by byte order with posix relative paths", async () => {
    const root = await tree({ "b.yaml": "", "a/z.yaml": "", "a-b.yaml": "", "A.yaml": "" });
    assert.deepEqual(await paths(root), ["A.yaml", "a-b.yaml", "a/z.yaml", "b.yaml"]);
    const { files } = await listSourceFiles(root);
    assert.equal(files[0]!.absolutePath, join(root, "A.yaml"));
    assert.equal(files[0]!.size, 0);
  });

  it("orders non-ASCII names by their UTF-8 bytes, not by UTF-16 code units", async () => {
    // U+1F600 is a surrogate pair (0xD83D…) in UTF-16, below U+FF21, but F0 9F… in UTF-8, above EF BC A1.
    const root = await tree({ "\u{1F600}.yaml": "", "\uFF21.yaml": "", "b.yaml": "" });
    assert.deepEqual(await paths(root), ["b.yaml", "\uFF21.yaml", "\u{1F600}.yaml"]);
  });

  it("applies the default ignore list (VCS folders, archives, editor junk)", async () => {
    const root = await tree({
      "app.yaml": "",
      ".git/config": "",
      ".hg/store": "",
      ".svn/entries": "",
      ".jj/repo": "",
      "sub/.git/HEAD": "",
      "bundle.tar": "",
      "bundle.tgz": "",
      "bundle.tar.gz": "",
      "bundle.zip": "",
      "app.yaml.swp": "",
      "app.yaml~": "",
      ".DS_Store": "",
      ".gitignore": "",
    });
    assert.deepEqual(await paths(root), ["app.yaml"]);
  });

  it("honours .sourceignore, nested .gitignore, negation and extra patterns", async () => {
    const root = await tree({
      ".sourceignore": "*.txt\n!keep.txt\ndocs/\n",
      "notes.txt": "",
      "keep.txt": "",
      "docs/readme.yaml": "",
      "apps/.gitignore": "local-*.yaml\n!local-keep.yaml\n",
      "apps/local-dev.yaml": "",
      "apps/local-keep.yaml": "",
      "apps/web.yaml": "",
      "local-root.yaml": "", // nested .gitignore applies only to its subtree
      "secret.yaml": "",
      "tmp/x.yaml": "",
    });
    assert.deepEqual(await paths(root, ["secret.yaml", "tmp/"]), [
      "apps/local-keep.yaml",
      "apps/web.yaml",
      "keep.txt",
      "local-root.yaml",
    ]);
  });

  it("lets extra patterns and ignore files re-include defaults", async () => {
    const root = await tree({ "chart.tgz": "", ".sourceignore": "!chart.tgz\n" });
    assert.deepEqual(await paths(root), ["chart.tgz"]);
    const root2 = await tree({ "data.zip": "" });
    assert.deepEqual(await paths(root2, ["!data.zip"]), ["data.zip"]);
  });

  it("reports symlinks as skipped and never follows them", async () => {
    const outside = await tree({ "secret.yaml": "" });
    const root = await tree({ "app.yaml": "" });
    await symlink(join(outside, "secret.yaml"), join(root, "link.yaml"));
    await symlink(outside, join(root, "linked-dir"));
    const { files, skipped } = await listSourceFiles(root);
    assert.deepEqual(
      files.map((f) => f.path),
      ["app.yaml"],
    );
    assert.deepEqual(skipped, [
      { path: "link.yaml", reason: "symlink" },
      { path: "linked-dir", reason: "symlink" },
    ]);
  });

  it("marks executable files", async () => {
    const root = await tree({ "run.sh": "#!/bin/sh\n", "app.yaml": "" });
    await chmod(join(root, "run.sh"), 0o755);
    const { files } = await listSourceFiles(root);
    assert.deepEqual(
      files.map((f) => [f.path, f.executable]),
      [
        ["app.yaml", false],
        ["run.sh", true],
      ],
    );
  });

  it("fails with not-found for a missing root and usage for a file", async () => {
    const root = await tree({ "app.yaml": "" });
    await assert.rejects(
      listSourceFiles(join(root, "nope")),
      (e) => isKsailError(e) && e.kind === "not-found",
    );
    await assert.rejects(
      listSourceFiles(join(root, "app.yaml")),
      (e) => isKsailError(e) && e.kind === "usage",
    );
  });
});
