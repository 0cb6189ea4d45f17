/** ksail.yaml `spec.images`: the schema, its errors, and what `ksail init` writes about it. */
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { KsailError } from "../../src/errors.js";
import { scaffoldFiles } from "../../src/scaffold/init.js";

const minimal = `apiVersion: ksail.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
`;

async function load(yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), "ksail-images-config-"));
  await writeFile(join(dir, "ksail.yaml"), yaml);
  return loadConfig({ cwd: dir, env: {} });
}

async function loadError(yaml: string): Promise<KsailError> {
  const error = await load(yaml).then(
    () => assert.fail("expected a config error"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof KsailError);
  assert.equal(error.kind, "config");
  return error;
}

describe("spec.images", () => {
  it("defaults to no images", async () => {
    assert.deepEqual((await load(minimal)).config.spec.images, []);
  });

  it("takes name, context, dockerfile, target and buildArgs", async () => {
    const { config } = await load(
      `${minimal}spec:\n  images:\n    - name: web\n      context: ./web\n      dockerfile: build/Dockerfile\n      target: runtime\n      buildArgs:\n        GO_VERSION: "1.26"\n    - name: team/api\n      context: api\n`,
    );
    assert.deepEqual(config.spec.images, [
      {
        name: "web",
        context: "./web",
        dockerfile: "build/Dockerfile",
        target: "runtime",
        buildArgs: { GO_VERSION: "1.26" },
      },
      { name: "team/api", context: "api" },
    ]);
  });

  it("refuses a name with a registry, a tag or capitals, naming the line", async () => {
    for (const name of ["localhost:5000/web", "web:1.0", "Web", "web@sha256:ab"]) {
      const error = await loadError(
        `${minimal}spec:\n  images:\n    - name: ${JSON.stringify(name)}\n      context: web\n`,
      );
      assert.match(
        error.message,
        /ksail\.yaml:7:\d+: spec\.images\.0\.name: must be an image name/,
      );
    }
  });

  it("refuses a missing context and an unknown field", async () => {
    const missing = await loadError(`${minimal}spec:\n  images:\n    - name: web\n`);
    assert.match(missing.message, /spec\.images\.0\.context/);
    const unknown = await loadError(
      `${minimal}spec:\n  images:\n    - name: web\n      context: web\n      file: Dockerfile\n`,
    );
    assert.match(unknown.message, /spec\.images\.0\.file: unknown field/);
  });

  it("refuses the same name twice", async () => {
    const error = await loadError(
      `${minimal}spec:\n  images:\n    - name: web\n      context: a\n    - name: web\n      context: b\n`,
    );
    assert.match(error.message, /spec\.images\.1\.name: image web is listed twice/);
  });
});

describe("ksail init and spec.images", () => {
  it("documents spec.images commented out, and the example is a valid configuration", async () => {
    const { config } = await load(minimal);
    const yaml = scaffoldFiles(config)[0]!.content;
    assert.match(yaml, /^ {2}# images:$/m);
    assert.doesNotMatch(yaml, /^ {2}images:/m);
    // Uncommented, the documented example loads as it stands.
    const at = yaml.indexOf("  # images:");
    const uncommented = yaml.slice(0, at) + yaml.slice(at).replace(/^ {2}# /gm, "  ");
    const { config: withImages } = await load(uncommented);
    assert.deepEqual(withImages.spec.images, [
      {
        name: "web",
        context: "./web",
        dockerfile: "Dockerfile",
        target: "runtime",
        buildArgs: { GO_VERSION: "1.26" },
      },
    ]);
  });

  it("writes the images a project has (init --force keeps them)", async () => {
    const { config } = await load(
      `${minimal}spec:\n  images:\n    - name: web\n      context: web\n`,
    );
    const yaml = scaffoldFiles(config)[0]!.content;
    assert.match(yaml, /^ {2}images:\n {4}- name: web\n {6}context: web$/m);
    assert.doesNotMatch(yaml, /# images:/);
  });
});
