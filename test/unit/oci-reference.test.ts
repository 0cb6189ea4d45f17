import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KsailError } from "../../src/errors.js";
import {
  assertReference,
  formatRepository,
  isLoopbackRegistry,
  parseRepository,
} from "../../src/oci/reference.js";

describe("parseRepository", () => {
  const good: [string, string, string][] = [
    ["oci://127.0.0.1:5000/app", "127.0.0.1:5000", "app"],
    ["127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"],
    ["localhost:5000/a/b/c", "localhost:5000", "a/b/c"],
    ["ghcr.io/org/app", "ghcr.io", "org/app"],
    ["host/a", "host", "a"],
    ["ksail-registry:5000/app", "ksail-registry:5000", "app"],
    [
      "oci://registry.example.com/my_app.v2/sub__x/a-b--c",
      "registry.example.com",
      "my_app.v2/sub__x/a-b--c",
    ],
    ["[::1]:5000/app", "[::1]:5000", "app"],
    ["  oci://host:1/x/  ", "host:1", "x"],
  ];
  for (const [input, registry, repository] of good) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      const ref = parseRepository(input);
      assert.deepEqual(ref, { registry, repository });
      assert.equal(formatRepository(ref), `${registry}/${repository}`);
    });
  }

  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["app", /no registry host or no repository path/],
    ["host:5000/", /no registry host or no repository path/],
    ["host:5000/app:1.0.0", /tag/],
    ["oci://host:5000/app:latest", /tag/],
    ["host:5000/app@sha256:" + "a".repeat(64), /digest/],
    ["https://host:5000/app", /scheme "https:\/\/" is not supported/],
    ["host:5000/App", /not a valid repository name/],
    ["host:5000/a//b", /not a valid repository name/],
    ["host:5000/-a", /not a valid repository name/],
    ["host:5000/a_", /not a valid repository name/],
    ["host:5000/a...b", /not a valid repository name/],
    ["ho_st:5000/a", /not a valid registry host/],
    ["host:99999/a", /port 99999 is out of range/],
    [`host/${"a".repeat(260)}`, /longer than 255/],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input.slice(0, 40))} with a usage error`, () => {
      assert.throws(
        () => parseRepository(input),
        (error: unknown) =>
          error instanceof KsailError &&
          error.kind === "usage" &&
          why.test(error.message) &&
          /oci:\/\/127\.0\.0\.1:5000\/app/.test(error.hint ?? ""),
      );
    });
  }
});

describe("isLoopbackRegistry", () => {
  for (const r of [
    "127.0.0.1:5000",
    "127.1.2.3",
    "localhost",
    "localhost:5000",
    "LOCALHOST:1",
    "[::1]:5000",
    "::1",
    "x.localhost:5000",
  ]) {
    it(`${r} is loopback`, () => assert.equal(isLoopbackRegistry(r), true));
  }
  for (const r of [
    "ghcr.io",
    "10.0.0.1:5000",
    "128.0.0.1",
    "localhost.example.com",
    "ksail-registry:5000",
    "[::2]:5000",
    "127.example.com",
  ]) {
    it(`${r} is not loopback`, () => assert.equal(isLoopbackRegistry(r), false));
  }
});

describe("assertReference", () => {
  it("accepts tags and digests", () => {
    for (const r of ["1.0.0", "latest", "v1_2-rc.1", "a".repeat(128), `sha256:${"0".repeat(64)}`]) {
      assert.doesNotThrow(() => assertReference(r), r);
    }
  });
  it("rejects everything else", () => {
    for (const r of [
      "",
      ".x",
      "-x",
      "a".repeat(129),
      "a/b",
      "sha256:abc",
      `sha256:${"A".repeat(64)}`,
      "a b",
    ]) {
      assert.throws(
        () => assertReference(r),
        (e: unknown) => e instanceof KsailError && e.kind === "usage",
        r,
      );
    }
  });
});

describe("credentials in the repository address", () => {
  for (const [input, shown, host] of [
    ["oci://user:s3cret@127.0.0.1:5000/app", "oci://***@127.0.0.1:5000/app", "127.0.0.1:5000"],
    ["user:s3cret@ghcr.io/team/app", "***@ghcr.io/team/app", "ghcr.io"],
    ["oci://tok3n@host/a:1.0", "oci://***@host/a:1.0", "host"],
    ["oci://u:p@ss@host/a@sha256:00", "oci://***@host/a@sha256:00", "host"],
  ] as const) {
    it(`refuses ${shown} without printing the user info`, () => {
      assert.throws(
        () => parseRepository(input),
        (error: unknown) => {
          assert.ok(error instanceof KsailError);
          assert.equal(error.kind, "usage");
          assert.equal(error.code, "CREDENTIALS_IN_URL");
          const text = `${error.message} ${error.hint}`;
          assert.ok(text.includes(`"${shown}"`), text);
          assert.doesNotMatch(text, /s3cret|tok3n|u:p@|user:/);
          assert.ok(text.includes(`docker login ${host}`), text);
          return true;
        },
      );
    });
  }
});
