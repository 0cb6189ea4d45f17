/** Image names compared as Docker and Podman report them (src/engine/image-name.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { qualifiedImageName, sameImage } from "../../src/engine/image-name.js";

test("short names qualify as distribution/reference does", () => {
  const cases: Array<[string, string]> = [
    ["registry:3", "docker.io/library/registry:3"],
    ["registry", "docker.io/library/registry:latest"],
    ["team/app:1", "docker.io/team/app:1"],
    ["index.docker.io/library/registry:3", "docker.io/library/registry:3"],
    ["localhost/registry:3", "localhost/registry:3"],
    ["127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"],
    ["ghcr.io/org/app:2@sha256:abc", "ghcr.io/org/app:2@sha256:abc"],
    ["registry@sha256:abc", "docker.io/library/registry@sha256:abc"],
  ];
  for (const [name, qualified] of cases) assert.equal(qualifiedImageName(name), qualified, name);
});

test("Podman's qualified name is the image Docker calls registry:3; other tags and hosts are not", () => {
  assert.equal(sameImage("docker.io/library/registry:3", "registry:3"), true);
  assert.equal(sameImage("registry:3", "registry:2"), false);
  assert.equal(sameImage("localhost/registry:3", "registry:3"), false);
  assert.equal(sameImage("quay.io/library/registry:3", "registry:3"), false);
});
