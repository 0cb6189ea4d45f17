// The run-time settings the cluster commands resolve in config/load.ts and hand to the
// provisioners as plain values: $KUBECONFIG's files, kind's network, the editor, the key password.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createProvisioner } from "../../src/cluster/provisioner.js";
import { resolveCosignPassword, resolveRuntime } from "../../src/config/load.js";

const noEngine = () => Promise.reject(new Error("no engine in this test"));

const kubeconfig = (context: string) =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
    "users: [{name: u, user: {}}]",
    `contexts: [{name: ${context}, context: {cluster: c, user: u}}]`,
    `current-context: ${context}`,
    "",
  ].join("\n");

describe("External provisioner: which kubeconfig", () => {
  let dir: string;
  let fileA: string;
  let fileB: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-provisioner-"));
    fileA = join(dir, "a.yaml");
    fileB = join(dir, "b.yaml");
    await writeFile(fileA, kubeconfig("in-a"));
    await writeFile(fileB, kubeconfig("in-b"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const external = (env: NodeJS.ProcessEnv, connection: { kubeconfig?: string; context: string }) =>
    createProvisioner("External", {
      env,
      engine: noEngine,
      kubeconfigFiles: resolveRuntime(env).kubeconfigFiles,
      connection,
    });

  it("a configured kubeconfig wins over $KUBECONFIG, as in ksail's Kubernetes client and kubectl", async () => {
    const env = { KUBECONFIG: fileB };
    assert.equal(await external(env, { kubeconfig: fileA, context: "in-a" }).exists(""), true);
    assert.equal(await external(env, { kubeconfig: fileA, context: "in-b" }).exists(""), false);
  });

  it("without one, the contexts of every file in $KUBECONFIG count", async () => {
    const env = { KUBECONFIG: [fileA, fileB].join(delimiter) };
    assert.equal(await external(env, { context: "in-b" }).exists(""), true);
    assert.deepEqual(await external(env, { context: "in-a" }).list(), ["in-a", "in-b"]);
  });

  it("a missing context names the files it looked in", async () => {
    await assert.rejects(
      external({ KUBECONFIG: fileB }, { context: "nowhere" }).create("", ""),
      (e: Error) => e.message.includes(fileB) && e.message.includes("nowhere"),
    );
  });
});

describe("run-time settings resolved once (config/load.ts)", () => {
  it("Kind's network follows KIND_EXPERIMENTAL_DOCKER_NETWORK, else kind", () => {
    const kind = (env: NodeJS.ProcessEnv) =>
      createProvisioner("Kind", {
        env,
        engine: noEngine,
        kindNetwork: resolveRuntime(env).kindNetwork,
      }).network("x");
    assert.equal(kind({ KIND_EXPERIMENTAL_DOCKER_NETWORK: "lab-net" }), "lab-net");
    assert.equal(kind({ KIND_EXPERIMENTAL_DOCKER_NETWORK: "" }), "kind");
    assert.equal(kind({}), "kind");
  });

  it("the editor: $SOPS_EDITOR, else $EDITOR, else vi", () => {
    assert.equal(resolveRuntime({ SOPS_EDITOR: "ed", EDITOR: "nano" }).editor, "ed");
    assert.equal(resolveRuntime({ EDITOR: "nano" }).editor, "nano");
    assert.equal(resolveRuntime({}).editor, "vi");
  });

  it("COSIGN_PASSWORD: set but empty is a password (as cosign), unset is none; never in Runtime", () => {
    assert.equal(resolveCosignPassword({ COSIGN_PASSWORD: "" }), "");
    assert.equal(resolveCosignPassword({ COSIGN_PASSWORD: "s3cret" }), "s3cret");
    assert.equal(resolveCosignPassword({}), undefined);
    assert.doesNotMatch(JSON.stringify(resolveRuntime({ COSIGN_PASSWORD: "s3cret" })), /s3cret/);
  });
});
