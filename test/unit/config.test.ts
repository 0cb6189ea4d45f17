import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig, nameFromDirectory } from "../../src/config/load.js";
import { API_VERSION, defaultConfig, KIND } from "../../src/config/defaults.js";
import { ksailConfigSchema, resolveDerivedDefaults } from "../../src/config/schema.js";
import { ksailJsonSchema } from "../../src/config/json-schema.js";
import { formatDuration, parseDuration } from "../../src/util/duration.js";
import { KsailError } from "../../src/errors.js";

async function project(yaml?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-config-"));
  if (yaml !== undefined) await writeFile(join(dir, "ksail.yaml"), yaml);
  return dir;
}

const minimal = `apiVersion: ksail.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
`;

async function configError(
  promise: Promise<unknown>,
  kind: "config" | "usage" = "config",
): Promise<KsailError> {
  const error = await promise.then(
    () => assert.fail(`expected a ${kind} error`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof KsailError, `expected KsailError, got ${String(error)}`);
  assert.equal(error.kind, kind);
  return error;
}

describe("config: defaults < file < KSAIL_* env < flags", () => {
  it("applies defaults to a minimal file", async () => {
    const dir = await project(minimal);
    const { config, path } = await loadConfig({ cwd: dir, env: {} });
    assert.equal(path, join(dir, "ksail.yaml"));
    assert.equal(config.metadata.name, "demo");
    assert.equal(config.spec.distribution, "Kind");
    assert.equal(config.spec.distributionConfig, "kind.yaml");
    assert.equal(config.spec.sourceDirectory, "k8s");
    assert.equal(config.spec.gitOpsEngine, "None");
    assert.equal(config.spec.localRegistry, "Disabled");
    assert.equal(config.spec.options.localRegistry.hostPort, 5001);
    assert.equal(config.spec.options.flux.interval, "1m");
    assert.equal(config.spec.connection.timeout, "5m");
  });

  it("enables the local registry by default when Flux is the GitOps engine", async () => {
    const dir = await project(`${minimal}spec:\n  gitOpsEngine: Flux\n  distribution: K3d\n`);
    const { config } = await loadConfig({ cwd: dir, env: {} });
    assert.equal(config.spec.localRegistry, "Enabled");
    assert.equal(config.spec.distributionConfig, "k3d.yaml");
  });

  it("lets env override the file and flags override env", async () => {
    const dir = await project(
      `${minimal}spec:\n  options:\n    localRegistry:\n      hostPort: 5001\n`,
    );
    const env = { KSAIL_REGISTRY_PORT: "5002", KSAIL_FLUX_INTERVAL: "30s" };
    const fromEnv = await loadConfig({ cwd: dir, env });
    assert.equal(fromEnv.config.spec.options.localRegistry.hostPort, 5002);
    assert.equal(fromEnv.config.spec.options.flux.interval, "30s");
    const fromFlags = await loadConfig({
      cwd: dir,
      env,
      flags: { registryPort: "5003", fluxInterval: undefined },
    });
    assert.equal(fromFlags.config.spec.options.localRegistry.hostPort, 5003);
    assert.equal(fromFlags.config.spec.options.flux.interval, "30s");
  });

  it("names the file, line and column of an invalid value", async () => {
    const dir = await project(`${minimal}spec:\n  distribution: Minikube\n`);
    const error = await configError(loadConfig({ cwd: dir, env: {} }));
    assert.match(error.message, /^invalid configuration: ksail\.yaml:6:17: spec\.distribution: /);
    assert.match(error.message, /Kind/);
  });

  it("takes mirror registries as HOST=URL and names a bad entry's line", async () => {
    const good = await project(
      `${minimal}spec:\n  options:\n    mirrorRegistries:\n      - docker.io=https://registry-1.docker.io\n      - ghcr.io\n`,
    );
    assert.deepEqual(
      (await loadConfig({ cwd: good, env: {} })).config.spec.options.mirrorRegistries,
      ["docker.io=https://registry-1.docker.io", "ghcr.io"],
    );
    const bad = await project(
      `${minimal}spec:\n  options:\n    mirrorRegistries:\n      - docker.io=ftp://x\n`,
    );
    const error = await configError(loadConfig({ cwd: bad, env: {} }));
    assert.match(
      error.message,
      /ksail\.yaml:8:9: spec\.options\.mirrorRegistries\.0: must be HOST or HOST=URL/,
    );
  });

  it("names unknown fields with their line", async () => {
    const dir = await project(`${minimal}spec:\n  sourceDir: manifests\n`);
    const error = await configError(loadConfig({ cwd: dir, env: {} }));
    // At the key's own line (6), with the field it likely means (issue 21.9).
    assert.match(
      error.message,
      /ksail\.yaml:6:3: spec\.sourceDir: unknown field; did you mean sourceDirectory\?/,
    );
  });

  it("names the environment variable or flag that carried a bad value", async () => {
    const dir = await project(minimal);
    const envError = await configError(
      loadConfig({ cwd: dir, env: { KSAIL_REGISTRY_PORT: "http" } }),
    );
    assert.match(
      envError.message,
      /environment variable KSAIL_REGISTRY_PORT \(spec\.options\.localRegistry\.hostPort\)/,
    );
    // A bad flag value is a usage error (exit 2), a bad file or KSAIL_* value a config error.
    const flagError = await configError(
      loadConfig({ cwd: dir, env: {}, flags: { fluxInterval: "soon" } }),
      "usage",
    );
    assert.match(
      flagError.message,
      /flag --flux-interval \(spec\.options\.flux\.interval\): must be a duration/,
    );
  });

  it("reports YAML syntax errors with their position", async () => {
    const dir = await project(`${minimal}spec:\n  distribution: [Kind\n`);
    const error = await configError(loadConfig({ cwd: dir, env: {} }));
    assert.match(error.message, /^ksail\.yaml:\d+:\d+: /);
  });

  it("rejects a wrong apiVersion", async () => {
    const dir = await project(minimal.replace("v1alpha1", "v2"));
    const error = await configError(loadConfig({ cwd: dir, env: {} }));
    assert.match(error.message, /ksail\.yaml:1:13: apiVersion: /);
  });

  it("requires the file only when asked, and says how to create one", async () => {
    const dir = await project();
    const { config, path } = await loadConfig({ cwd: dir, env: {} });
    assert.equal(path, undefined);
    assert.equal(config.metadata.name, nameFromDirectory(dir));
    const error = await configError(loadConfig({ cwd: dir, env: {}, required: true }));
    assert.match(error.hint ?? "", /ksail init/);
  });

  it("without a file, KSAIL_* or flags: the schema's defaults, field by field and in its order", async () => {
    // loadConfig answers this case from defaults.ts without the schema (zod stays unloaded).
    for (const name of ["demo", nameFromDirectory("/x/My App!"), nameFromDirectory("/x/---")]) {
      const parsed = resolveDerivedDefaults(
        ksailConfigSchema.parse({ apiVersion: API_VERSION, kind: KIND, metadata: { name } }),
      );
      assert.deepEqual(defaultConfig(name), parsed);
      assert.equal(JSON.stringify(defaultConfig(name)), JSON.stringify(parsed));
    }
    const dir = await project();
    const loaded = await loadConfig({ cwd: dir, env: { KSAIL_CONFIG: "" } });
    assert.deepEqual(loaded.config, defaultConfig(nameFromDirectory(dir)));
    // An empty KSAIL_* value is no setting; a set one still goes through the schema.
    assert.deepEqual(
      (await loadConfig({ cwd: dir, env: { KSAIL_NAME: "" } })).config,
      defaultConfig(nameFromDirectory(dir)),
    );
    await configError(loadConfig({ cwd: dir, env: { KSAIL_NAME: "Not A Name" } }));
    await configError(loadConfig({ cwd: dir, env: {}, flags: { registryPort: 0 } }), "usage");
  });

  it("finds ksail.yaml in a parent directory; relative paths follow where they were written", async () => {
    const dir = await project(
      `${minimal}spec:\n  distribution: k3d\n  connection:\n    kubeconfig: kube/config\n`,
    );
    const sub = join(dir, "k8s", "apps");
    await mkdir(sub, { recursive: true });
    const fromFile = await loadConfig({ cwd: sub, env: {} });
    assert.equal(fromFile.path, join(dir, "ksail.yaml"));
    assert.equal(fromFile.baseDir, dir);
    assert.equal(fromFile.config.spec.distribution, "K3d");
    assert.equal(fromFile.config.spec.connection.kubeconfig, join(dir, "kube", "config"));
    const fromFlag = await loadConfig({ cwd: sub, env: {}, flags: { kubeconfig: "other" } });
    assert.equal(fromFlag.config.spec.connection.kubeconfig, join(sub, "other"));
    const home = await loadConfig({ cwd: sub, env: { KSAIL_KUBECONFIG: "~/k" } });
    assert.equal(home.config.spec.connection.kubeconfig, "~/k");

    const elsewhere = await project();
    const viaEnv = await loadConfig({
      cwd: elsewhere,
      env: { KSAIL_CONFIG: join(dir, "ksail.yaml") },
    });
    assert.equal(viaEnv.path, join(dir, "ksail.yaml"));
    await configError(loadConfig({ cwd: elsewhere, env: { KSAIL_CONFIG: "nope.yaml" } }));

    await writeFile(join(dir, "ksail.yaml"), `${minimal}spec:\n  distribution: minikube\n`);
    const error = await configError(loadConfig({ cwd: sub, env: {} }));
    assert.match(error.message, /\.\.\/\.\.\/ksail\.yaml:6:17: spec\.distribution/);
  });

  it("derives DNS-1123 names from directory names", () => {
    assert.equal(nameFromDirectory("/x/My Cool_App!"), "my-cool-app");
    assert.equal(nameFromDirectory("/x/___"), "ksail");
  });
});

describe("durations", () => {
  it("parses Go-style durations and rejects others", () => {
    assert.equal(parseDuration("1m"), 60_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("10"), undefined);
    assert.equal(parseDuration("m"), undefined);
    assert.equal(parseDuration("1d"), undefined);
  });
  it("formats milliseconds back", () => {
    assert.equal(formatDuration(90_000), "1m30s");
    assert.equal(formatDuration(3_600_000), "1h");
    assert.equal(formatDuration(0), "0ms");
  });
});

describe("JSON Schema", () => {
  it("is the committed schemas/ksail.schema.json (run `npm run schema` after changing the model)", async () => {
    const committed = JSON.parse(
      await readFile(new URL("../../schemas/ksail.schema.json", import.meta.url), "utf8"),
    );
    assert.deepEqual(committed, ksailJsonSchema());
  });
});
