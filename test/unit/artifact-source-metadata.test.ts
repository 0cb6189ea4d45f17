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

  it("publishes no query string or fragment of the remote (tokens ride there too)", async () => {
    const dir = await repo();
    git(
      dir,
      "remote",
      "add",
      "origin",
      "https://git.example.com/team/app.git?access_token=glpat-SECRET123#frag-SECRET456",
    );
    const meta = await detectSourceMetadata(join(dir, "k8s"));
    assert.equal(meta.source, "https://git.example.com/team/app.git");
    assert.ok(!JSON.stringify(meta).includes("SECRET"), JSON.stringify(meta));
  });

  it("gives the commit time as created in a clean work tree, nothing when it is dirty", async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), "ksail-git-")));
    temps.push(dir);
    git(dir, "init", "-q", "-b", "main");
    await mkdir(join(dir, "k8s"));
    await writeFile(join(dir, "k8s", "app.yaml"), "kind: ConfigMap\n");
    git(dir, "add", ".");
    execFileSync("git", ["commit", "-q", "-m", "init"], {
      cwd: dir,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Test",
        GIT_AUTHOR_EMAIL: "test@example.com",
        GIT_COMMITTER_NAME: "Test",
        GIT_COMMITTER_EMAIL: "test@example.com",
        GIT_AUTHOR_DATE: "2021-03-04T05:06:07+02:00",
        GIT_COMMITTER_DATE: "2022-08-09T10:11:12+02:00",
      },
    });
    // The committer time, in UTC, to the second (RFC 3339 as Flux writes it).
    assert.equal((await detectSourceMetadata(join(dir, "k8s"))).created, "2022-08-09T08:11:12Z");

    // A file outside the source directory does not matter; one inside does (tracked or not).
    await writeFile(join(dir, "notes.txt"), "outside\n");
    assert.equal((await detectSourceMetadata(join(dir, "k8s"))).created, "2022-08-09T08:11:12Z");
    await writeFile(join(dir, "k8s", "new.yaml"), "kind: Secret\n");
    assert.equal((await detectSourceMetadata(join(dir, "k8s"))).created, undefined);
    await rm(join(dir, "k8s", "new.yaml"));
    await writeFile(join(dir, "k8s", "app.yaml"), "kind: ConfigMap # edited\n");
    assert.equal((await detectSourceMetadata(join(dir, "k8s"))).created, undefined);
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

  it("removes query strings and fragments, which carry tokens as well", () => {
    assert.equal(stripCredentials("https://host/x.git?access_token=abc"), "https://host/x.git");
    assert.equal(
      stripCredentials("https://u:p@host/x.git?private_token=abc&x=1#frag"),
      "https://host/x.git",
    );
    assert.equal(stripCredentials("https://host/x.git#token=abc"), "https://host/x.git");
    assert.equal(stripCredentials("https://host/x.git?"), "https://host/x.git");
    assert.equal(
      stripCredentials("ssh://git:pw@host:2222/a/b.git?key=abc"),
      "ssh://git@host:2222/a/b.git",
    );
    assert.equal(stripCredentials("git@host:a/b.git?token=abc"), "git@host:a/b.git");
    // Not parseable as a URL (a space in the host): the same parts go, by pattern.
    assert.equal(
      stripCredentials("https://tok@bad host/x.git?access_token=abc#f"),
      "https://bad host/x.git",
    );
  });
});
