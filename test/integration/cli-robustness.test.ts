/**
 * The push path under trouble, as a user meets it: invalid sources, a stopped registry, a flaky
 * network, a push killed half-way, a registry that needs credentials, 60 versions in one
 * repository. Real registry processes; the built CLI as a process.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseFluxManifest } from "../../src/artifact/manifest.js";
import { RegistryClient } from "../../src/oci/client.js";
import { pushWorkload } from "../../src/workload/push.js";
import { silentProgress } from "../../src/progress.js";
import { startFaultProxy } from "../../lab/fault-proxy.js";
import { loadCorpus, materializeCase } from "../../lab/invalid-corpus.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

/** A source directory with `count` ConfigMaps; `seed` makes the content differ. */
async function manifests(count: number, seed: string, padding = 0): Promise<string> {
  const dir = await tempDir("ksail-src-");
  for (let i = 0; i < count; i++) {
    const pad =
      padding > 0
        ? `  pad: "${seed.repeat(Math.ceil(padding / seed.length)).slice(0, padding)}"\n`
        : "";
    await writeFile(
      join(dir, `cm-${i}.yaml`),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  seed: "${seed}"\n${pad}`,
    );
  }
  return dir;
}

const push = (cwd: string, registry: string, ...args: string[]) =>
  runKsail(
    ["workload", "push", "--registry", `oci://${registry}`, "--path", ".", "-o", "json", ...args],
    { cwd },
  );

describe("push under trouble", () => {
  let lab: LabRegistry;
  const client = new RegistryClient();

  before(async () => {
    lab = await startRegistry();
  });
  after(async () => lab?.stop());

  it("refuses every invalid source in the corpus with its issues, and nothing reaches the registry", async () => {
    const corpus = await loadCorpus();
    assert.ok(Object.keys(corpus).length >= 20);
    for (const [name, spec] of Object.entries(corpus)) {
      const dir = await materializeCase(name, spec);
      temps.push(dir);
      const run = await push(dir, `${lab.registry}/invalid/${name}`);
      assert.equal(run.code, 3, `${name}: exit ${run.code}\n${run.stderr}`);
      assert.match(run.stderr, /nothing was pushed/, name);
      for (const issue of spec.issues) {
        const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
        assert.ok(run.stderr.includes(where), `${name}: stderr lacks ${where}\n${run.stderr}`);
        assert.ok(
          run.stderr.includes(issue.message),
          `${name}: stderr lacks "${issue.message}"\n${run.stderr}`,
        );
      }
    }
    const repositories = await client.catalog(lab.registry);
    assert.deepEqual(
      repositories.filter((r) => r.startsWith("invalid/")),
      [],
    );
  });

  it("60 versions in one repository are all listed, in semver order (SC-008)", async () => {
    const repository = { registry: lab.registry, repository: "many" };
    for (let i = 1; i <= 60; i++) {
      const dir = await manifests(2, `v${i}`);
      await pushWorkload(
        { client },
        { repository, sourceDir: dir, version: `1.${i % 7}.${i}` },
        silentProgress,
      );
    }
    const run = await runKsail(
      ["workload", "versions", "--registry", `oci://${lab.registry}/many`, "-o", "json"],
      { cwd: await tempDir("ksail-cwd-") },
    );
    assert.equal(run.code, 0, run.stderr);
    const versions = json<{ items: { version: string; latest: boolean }[] }>(run).items.map(
      (v) => v.version,
    );
    assert.equal(versions.length, 60);
    const expected = Array.from({ length: 60 }, (_, k) => `1.${(k + 1) % 7}.${k + 1}`).sort(
      (a, b) => {
        const [, am, ap] = a.split(".").map(Number) as [number, number, number];
        const [, bm, bp] = b.split(".").map(Number) as [number, number, number];
        return am - bm || ap - bp;
      },
    );
    assert.deepEqual(versions, expected);
  });

  it("pushes started at the same moment each get their own version; none is overwritten", async () => {
    const dirs = await Promise.all(Array.from({ length: 6 }, (_, i) => manifests(2, `burst${i}`)));
    const runs = await Promise.all(dirs.map((dir) => push(dir, `${lab.registry}/burst`)));
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const results = runs.map((run) => json<{ version: string; digest: string }>(run));
    const versions = results.map((r) => r.version).sort();
    assert.deepEqual(versions, ["0.0.1", "0.0.2", "0.0.3", "0.0.4", "0.0.5", "0.0.6"]);
    const repository = { registry: lab.registry, repository: "burst" };
    for (const result of results) {
      assert.equal(
        (await client.resolve(repository, result.version))?.digest,
        result.digest,
        result.version,
      );
    }
    assert.equal(
      (await client.resolve(repository, "latest"))?.digest,
      results.find((r) => r.version === "0.0.6")?.digest,
    );
  });

  it("a stopped registry gives a clear error naming the address within 5 s (SC-005)", async () => {
    const stopped = await startRegistry();
    await stopped.stop();
    const run = await push(
      await manifests(1, "down"),
      `${stopped.registry}/app`,
      "--version",
      "1.0.0",
    );
    assert.equal(run.code, 4, run.stderr);
    assert.ok(run.stderr.includes(stopped.registry), run.stderr);
    assert.match(run.stderr, /is the registry running\?/);
    assert.ok(run.ms < 5000, `took ${Math.round(run.ms)} ms`);
  });

  it("survives connection resets and fails clearly in a total outage", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, resetFirst: 2 });
    try {
      const flaky = await push(
        await manifests(5, "flaky"),
        `${proxy.registry}/flaky`,
        "--version",
        "1.0.0",
      );
      assert.equal(flaky.code, 0, flaky.stderr);
      assert.ok(proxy.stats.resets > 0, "the proxy reset no connection: the test proved nothing");
      assert.match(flaky.stderr, /retrying/);
      assert.equal(
        (await client.resolve({ registry: lab.registry, repository: "flaky" }, "1.0.0"))?.digest,
        json(flaky).digest,
      );

      proxy.setFaults({ outage: true });
      const outage = await push(
        await manifests(5, "outage"),
        `${proxy.registry}/flaky`,
        "--version",
        "2.0.0",
      );
      assert.equal(outage.code, 4, outage.stderr);
      assert.ok(outage.stderr.includes(proxy.registry), outage.stderr);
    } finally {
      await proxy.stop();
    }
  });

  it("a push killed at any point never leaves a tag pointing at missing blobs", async () => {
    const proxy = await startFaultProxy({ target: lab.registry, latencyMs: 20 });
    const repository = { registry: lab.registry, repository: "killed" };
    let interrupted = 0;
    try {
      for (const [i, delay] of [60, 150, 250, 350, 450, 600, 800].entries()) {
        // ~3 MB of YAML: uploads take several round trips through the slow proxy.
        const dir = await manifests(30, `kill${i}`, 100_000);
        const run = await runKsail(
          [
            "workload",
            "push",
            "--registry",
            `oci://${proxy.registry}/killed`,
            "--path",
            ".",
            "--version",
            `1.0.${i}`,
          ],
          { cwd: dir, onSpawn: (child) => setTimeout(() => child.kill("SIGKILL"), delay) },
        );
        if (run.signal === "SIGKILL") interrupted++;
      }
    } finally {
      await proxy.stop();
    }
    assert.ok(
      interrupted >= 3,
      `only ${interrupted} pushes were interrupted: the test proved little`,
    );
    const tags = await client.listTags(repository);
    for (const tag of tags) {
      const { bytes } = await client.fetchManifest(repository, tag);
      const manifest = parseFluxManifest(bytes);
      assert.ok(
        await client.blobExists(repository, manifest.configDigest),
        `${tag}: config blob missing`,
      );
      assert.ok(
        await client.blobExists(repository, manifest.layer.digest),
        `${tag}: layer blob missing`,
      );
    }
  });
});

describe("registries that need credentials", () => {
  let lab: LabRegistry;
  const user = { username: "ksail-user", password: "s3cret-Pa55word" };

  before(async () => {
    lab = await startRegistry({ auth: { htpasswd: user } });
  });
  after(async () => lab?.stop());

  async function dockerConfig(auth: string | undefined): Promise<string> {
    const dir = await tempDir("ksail-docker-");
    const auths =
      auth === undefined ? {} : { [lab.registry]: { auth: Buffer.from(auth).toString("base64") } };
    await writeFile(join(dir, "config.json"), JSON.stringify({ auths }));
    return dir;
  }

  for (const [label, auth, expected] of [
    ["no credentials", undefined, 5],
    ["wrong password", `${user.username}:wrong-password`, 5],
    ["docker config credentials", `${user.username}:${user.password}`, 0],
  ] as const) {
    it(`${label} → exit ${expected}, and the password never appears`, async () => {
      const src = await manifests(1, label.replace(/\W/g, ""));
      const run = await runKsail(
        [
          "workload",
          "push",
          "--registry",
          `oci://${lab.registry}/private`,
          "--path",
          ".",
          "--bump",
          "minor",
        ],
        { cwd: src, env: { DOCKER_CONFIG: await dockerConfig(auth) } },
      );
      assert.equal(run.code, expected, run.stderr);
      const output = run.stdout + run.stderr;
      assert.ok(!output.includes(user.password), "password leaked into output");
      assert.ok(!output.includes("wrong-password"), "password leaked into output");
      if (expected !== 0) {
        assert.ok(run.stderr.includes(lab.registry), run.stderr);
        assert.match(run.stderr, /docker login|credentials/i);
      }
    });
  }
});

describe("pushing into an empty directory tree", () => {
  it("an empty source directory is refused before any network call", async () => {
    const dir = await tempDir("ksail-empty-");
    await mkdir(join(dir, "k8s"));
    // Port 9 (discard) on loopback: nothing listens, so reaching the network would be exit 4.
    const run = await runKsail(
      ["workload", "push", "--registry", "oci://127.0.0.1:9/x", "--path", "k8s"],
      { cwd: dir },
    );
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /empty/i);
  });
});
