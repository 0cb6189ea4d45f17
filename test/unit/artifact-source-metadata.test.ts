import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { detectSourceMetadata, stripCredentials } from "../../src/artifact/source-metadata.js";

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

function git(cwd: string, ...args: string[]): string {
  const env = { ...process.env };
  for (const key of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"]) delete env[key];
  return execFileSync("git", args, { cwd, env, encoding: "utf8" }).trim();
}

async function repo(): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "ksail-git-")));
  temps.push(dir);
  git(dir, "init", "-q", "-b", "main");
  git(dir, "config", "user.name", "Test");
  git(dir, "config", "user.email", "test@example.com");
  git(dir, "config", "commit.gpgsign", "false");
  await mkdir(join(dir, "k8s"));
  await writeFile(join(dir, "k8s", "app.yaml"), "kind: ConfigMap\n");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "init");
  return dir;
}

describe("detectSourceMetadata", () => {
  it("uses origin without credentials and <branch>@sha1:<commit>", async () => {
    const dir = await repo();
    git(dir, "remote", "add", "origin", "https://user:s3cret@git.example.com/team/app.git");
    const commit = git(dir, "rev-parse", "HEAD");
    const meta = await detectSourceMetadata(join(dir, "k8s"));
    assert.equal(meta.source, "https://git.example.com/team/app.git");
    assert.equal(meta.revision, `main@sha1:${commit}`);
    assert.match(commit, /^[0-9a-f]{40}$/);
  });

  it("says HEAD when detached and uses the path without an origin", async () => {
    const dir = await repo();
    const commit = git(dir, "rev-parse", "HEAD");
    git(dir, "checkout", "-q", "--detach");
    const meta = await detectSourceMetadata(join(dir, "k8s"));
    assert.equal(meta.source, join(dir, "k8s"));
    assert.equal(meta.revision, `HEAD@sha1:${commit}`);
  });

  it("has no revision for a repository without commits", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "ksail-git-")));
    temps.push(dir);
    git(dir, "init", "-q");
    git(dir, "remote", "add", "origin", "git@github.com:example/app.git");
    assert.deepEqual(await detectSourceMetadata(dir), { source: "git@github.com:example/app.git" });
  });

  it("returns the absolute path outside git", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "ksail-nogit-")));
    temps.push(dir);
    // A ceiling stops git from finding a repository above the temp dir.
    const previous = process.env.GIT_CEILING_DIRECTORIES;
    process.env.GIT_CEILING_DIRECTORIES = tmpdir();
    try {
      assert.deepEqual(await detectSourceMetadata(dir), { source: dir });
    } finally {
      if (previous === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
      else process.env.GIT_CEILING_DIRECTORIES = previous;
    }
  });
});

describe("stripCredentials", () => {
  it("removes user and password from http(s) URLs, the password from ssh URLs", () => {
    assert.equal(
      stripCredentials("https://user:tok@github.com/a/b.git"),
      "https://github.com/a/b.git",
    );
    assert.equal(stripCredentials("https://ghp_token@github.com/a/b"), "https://github.com/a/b");
    assert.equal(stripCredentials("ssh://git:pw@host:2222/a/b.git"), "ssh://git@host:2222/a/b.git");
    assert.equal(stripCredentials("ssh://git@host/a/b.git"), "ssh://git@host/a/b.git");
    assert.equal(stripCredentials("git@github.com:a/b.git"), "git@github.com:a/b.git");
    assert.equal(stripCredentials("https://github.com/a/b.git"), "https://github.com/a/b.git");
  });
});
