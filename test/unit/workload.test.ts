import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diffFileSets } from "../../src/workload/diff.js";
import { planPrune } from "../../src/workload/prune.js";
import {
  assertVersion,
  nextVersion,
  semverTags,
  tagsOfVersion,
  type VersionInfo,
} from "../../src/workload/versions.js";
import { KsailError } from "../../src/errors.js";

describe("versions", () => {
  it("keeps only semantic-version tags, in semver order", () => {
    assert.deepEqual(
      semverTags(["latest", "0.0.10", "0.0.9", "1.0.0-rc.1", "1.0.0", "main", "v0.1.0", "=1.2.3"]),
      ["0.0.9", "0.0.10", "v0.1.0", "1.0.0-rc.1", "1.0.0"],
    );
  });

  it("bumps the highest version, starting from 0.0.0", () => {
    assert.equal(nextVersion([], "patch"), "0.0.1");
    assert.equal(nextVersion([], "minor"), "0.1.0");
    assert.equal(nextVersion(["latest"], "major"), "1.0.0");
    assert.equal(nextVersion(["0.0.9", "0.0.10", "latest"], "patch"), "0.0.11");
    assert.equal(nextVersion(["1.2.3", "0.9.0"], "minor"), "1.3.0");
    assert.equal(nextVersion(["1.2.3", "1.3.0-rc.1"], "patch"), "1.3.0");
  });

  it("one version, two spellings: the plain one sorts last (the highest, which latest follows)", () => {
    assert.deepEqual(semverTags(["v1.2.3", "1.2.3", "1.2.2"]), ["1.2.2", "v1.2.3", "1.2.3"]);
    assert.deepEqual(semverTags(["1.2.3", "v1.2.3"]).at(-1), "1.2.3");
    assert.deepEqual(tagsOfVersion(["latest", "v1.2.3", "1.2.3", "1.2.4"], "1.2.3"), [
      "1.2.3",
      "v1.2.3",
    ]);
    assert.equal(nextVersion(["v1.2.3"], "patch"), "1.2.4");
  });

  it("refuses versions that are not semver, with a hint; v1.2.3 is 1.2.3", () => {
    assert.equal(assertVersion("1.2.3"), "1.2.3");
    assert.equal(assertVersion("v1.2.3"), "1.2.3");
    assert.equal(assertVersion("v1.3.0-rc.1"), "1.3.0-rc.1");
    for (const bad of [
      "1.2",
      "latest",
      "01.2.3",
      "=1.2.3",
      "",
      "V1.2.3",
      "vv1.2.3",
      "1.2.3+b",
      " 1.2.3",
    ]) {
      assert.throws(
        () => assertVersion(bad),
        (e: unknown) => e instanceof KsailError && e.kind === "usage",
      );
    }
  });
});

function version(v: string, digest: string, extra: Partial<VersionInfo> = {}): VersionInfo {
  return { version: v, digest, size: 100, latest: false, ...extra };
}

describe("prune plan", () => {
  const now = new Date("2026-06-01T00:00:00Z");
  const day = 86_400_000;

  it("keeps the newest N and deletes the rest by digest", () => {
    const versions = ["0.0.1", "0.0.2", "0.0.3", "0.0.4"].map((v, i) => version(v, `sha256:${i}`));
    versions[3]!.latest = true;
    const plan = planPrune(versions, { keep: 2, now });
    assert.deepEqual(
      plan.deleted.map((v) => v.version),
      ["0.0.1", "0.0.2"],
    );
    assert.deepEqual(plan.digests, ["sha256:0", "sha256:1"]);
    assert.deepEqual(
      plan.kept.map((k) => [k.version, k.reason]),
      [
        ["0.0.3", "newest"],
        ["0.0.4", "newest"],
      ],
    );
    assert.equal(plan.bytes, 200);
  });

  it("never deletes latest's target or a digest a kept tag shares", () => {
    const versions = [
      version("0.0.1", "sha256:a", { latest: true }),
      version("0.0.2", "sha256:b"),
      version("0.0.3", "sha256:c"),
      version("0.0.4", "sha256:c"),
    ];
    const plan = planPrune(versions, { keep: 1, now });
    assert.deepEqual(
      plan.deleted.map((v) => v.version),
      ["0.0.2"],
    );
    assert.deepEqual(
      plan.kept.map((k) => [k.version, k.reason]),
      [
        ["0.0.1", "latest"],
        ["0.0.3", "shares-digest-with-kept"],
        ["0.0.4", "newest"],
      ],
    );
  });

  it("with --older-than deletes only old versions and keeps those without a created time", () => {
    const versions = [
      version("0.0.1", "sha256:a", { created: new Date(now.getTime() - 10 * day).toISOString() }),
      version("0.0.2", "sha256:b"),
      version("0.0.3", "sha256:c", { created: new Date(now.getTime() - 1 * day).toISOString() }),
      version("0.0.4", "sha256:d", { created: now.toISOString() }),
    ];
    const plan = planPrune(versions, { keep: 1, olderThanMs: 7 * day, now });
    assert.deepEqual(
      plan.deleted.map((v) => v.version),
      ["0.0.1"],
    );
    assert.deepEqual(
      plan.kept.map((k) => k.reason),
      ["no-created-time", "newer-than-cutoff", "newest"],
    );
  });

  it("refuses --keep below 1", () => {
    assert.throws(() => planPrune([], { keep: 0 }), /--keep must be at least 1/);
  });
});

describe("diff", () => {
  it("reports added, removed and changed files with unified patches", () => {
    const pushed = new Map([
      ["a.yaml", Buffer.from("x: 1\n")],
      ["gone.yaml", Buffer.from("y: 1\n")],
      ["same.yaml", Buffer.from("z: 1\n")],
      ["bin", Buffer.from([0, 1, 2])],
    ]);
    const local = new Map([
      ["a.yaml", Buffer.from("x: 2\n")],
      ["new.yaml", Buffer.from("n: 1\n")],
      ["same.yaml", Buffer.from("z: 1\n")],
      ["bin", Buffer.from([0, 1, 3])],
    ]);
    const changes = diffFileSets(pushed, local, "1.0.0");
    assert.deepEqual(
      changes.map((c) => [c.path, c.status]),
      [
        ["a.yaml", "changed"],
        ["bin", "changed"],
        ["gone.yaml", "removed"],
        ["new.yaml", "added"],
      ],
    );
    assert.match(
      changes[0]!.patch ?? "",
      /^--- a\/a\.yaml\t1\.0\.0\n\+\+\+ b\/a\.yaml\tlocal\n@@ -1,1 \+1,1 @@\n-x: 1\n\+x: 2/,
    );
    assert.equal(changes[1]!.patch, undefined);
    assert.match(changes[2]!.patch ?? "", /\+\+\+ \/dev\/null/);
  });
});
