/**
 * `ksail up / cluster stop / start / info / list / down` as a process, with a real Docker Engine
 * and the real registry container, but recording stand-ins for `kind`, `k3d` and `kubectl`
 * (test/fixtures/bin), so the exact commands ksail runs and its error paths are checked in seconds.
 * The kind stand-in runs a busybox "node" container on the cluster network, so the hosts.toml
 * wiring is real `docker exec`. The real Kind cluster runs in test/system/kind-loop.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import {
  buildNodeImage,
  buildRegistryImage,
  execIn,
  freeTcpPort,
  removeLabelled,
  startDockerEngine,
  type TestEngine,
} from "../../lab/docker.js";
import { json, runKsail } from "../../lab/ksail.js";
import { initKindProject } from "../../lab/project-config.js";

const RUN = `k${process.pid}${randomBytes(3).toString("hex")}`;
const LABEL = "dev.ksail.test";
const STANDINS = fileURLToPath(new URL("../fixtures/bin", import.meta.url));
const golden = (name: string) =>
  readFile(new URL(`../fixtures/golden/${name}`, import.meta.url), "utf8");

describe("cluster lifecycle with stand-in kind/k3d/kubectl on a real engine", () => {
  let lab: TestEngine;
  let project: string;
  let state: string;
  let record: string;
  let port: number;
  const name = `demo-${RUN}`;
  const registry = `ksail-test-${RUN}`;
  const network = `ksail-test-${RUN}-kind`;
  const nodeImage = `ksail-test-node:${RUN}`;

  before(async () => {
    lab = await startDockerEngine();
    await buildRegistryImage(lab.docker);
    await buildNodeImage(lab.docker, nodeImage);
    project = await mkdtemp(join(tmpdir(), "ksail-cluster-"));
    state = join(project, ".state");
    record = join(state, "record");
    await rm(state, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(state));
    port = await freeTcpPort();
  });

  after(async () => {
    if (lab) {
      await removeLabelled(lab.docker, LABEL, RUN).catch(() => undefined);
      await lab.docker
        .getContainer(`${name}-control-plane`)
        .remove({ force: true })
        .catch(() => undefined);
      await lab.docker
        .getContainer(registry)
        .remove({ force: true })
        .catch(() => undefined);
      await lab.docker
        .getVolume(`${registry}-data`)
        .remove()
        .catch(() => undefined);
      await lab.docker
        .getNetwork(network)
        .remove()
        .catch(() => undefined);
      await lab.docker
        .getImage(nodeImage)
        .remove({ force: true })
        .catch(() => undefined);
      await lab.stop();
    }
    if (project) await rm(project, { recursive: true, force: true });
  });

  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    PATH: `${STANDINS}${delimiter}${process.env.PATH}`,
    DOCKER_HOST: lab.dockerHost,
    KSAIL_RECORD: record,
    KSAIL_STATE: state,
    KSAIL_NODE_IMAGE: nodeImage,
    KSAIL_TEST_LABEL: `${LABEL}=${RUN}`,
    KIND_EXPERIMENTAL_DOCKER_NETWORK: network,
    ...extra,
  });
  const ksail = (args: string[], extra?: NodeJS.ProcessEnv) =>
    runKsail(args, { cwd: project, env: env(extra) });
  const takeRecord = async () => {
    const text = await readFile(record, "utf8").catch(() => "");
    await writeFile(record, "");
    return text.split("\n").filter(Boolean);
  };

  test("Kind: up creates registry, cluster and wiring; a second up changes nothing; stop/start; down", async () => {
    // Flux needs a real API server: its step of `up` is tested in test/e2e/flux-loop.test.ts.
    const init = await initKindProject(ksail, project, {
      name,
      registryPort: port,
      registryName: registry,
    });
    assert.equal(init.code, 0, init.stderr);

    const up = await ksail(["up"]);
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    const calls = await takeRecord();
    assert.deepEqual(calls, [
      `kind get clusters`,
      `kind create cluster --name ${name} --config ${join(project, "kind.yaml")} --wait 60s`,
      `kubectl --context kind-${name} apply -f -`,
    ]);
    // Every step says what it did and how long it took.
    for (const step of [
      /✓ local registry .* on 127\.0\.0\.1:\d+ \(/,
      /✓ Kind cluster .* created \(/,
      /✓ connect .* to network .* \(/,
      /✓ Wrote containerd hosts\.toml on 1 node \(2 files\) \(/,
      /✓ ConfigMap kube-public\/local-registry-hosting \(/,
    ]) {
      assert.match(up.stderr, step);
    }
    assert.doesNotMatch(up.stderr, /Flux/);
    // kind got the project's kind.yaml (with the certs.d patch).
    assert.match(
      await readFile(join(state, `kind-config-${name}.yaml`), "utf8"),
      /config_path = "\/etc\/containerd\/certs.d"/,
    );

    // Wiring, for real: the registry is on the cluster network and the node has both hosts.toml.
    const reg = await lab.docker.getContainer(registry).inspect();
    assert.ok(reg.NetworkSettings.Networks[network], "registry attached to the cluster network");
    assert.deepEqual(reg.NetworkSettings.Networks[network]!.Aliases?.includes(registry), true);
    const node = `${name}-control-plane`;
    const expected = (await golden("hosts.toml")).replaceAll("ksail-registry", registry);
    assert.equal(
      await execIn(lab, node, ["cat", `/etc/containerd/certs.d/localhost:${port}/hosts.toml`]),
      expected,
    );
    assert.equal(
      await execIn(lab, node, ["cat", `/etc/containerd/certs.d/${registry}:5000/hosts.toml`]),
      expected,
    );
    // The node reaches the registry by name on the cluster network.
    assert.match(
      await execIn(lab, node, ["wget", "-q", "-O", "-", `http://${registry}:5000/v2/`]),
      /\{\}/,
    );
    const configMap = parse(await readFile(join(state, "kubectl-stdin"), "utf8")) as {
      data: Record<string, string>;
    };
    assert.deepEqual(parse(configMap.data["localRegistryHosting.v1"]!), {
      host: `127.0.0.1:${port}`,
      hostFromContainerRuntime: `localhost:${port}`,
      hostFromClusterNetwork: `${registry}:5000`,
      help: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry",
    });

    const again = await ksail(["up", "-o", "json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(json(again).cluster, "unchanged");
    assert.ok(!(await takeRecord()).some((c) => c.startsWith("kind create")), "no second create");

    const info = await ksail(["cluster", "info", "-o", "json"]);
    assert.equal(info.code, 0, info.stderr);
    const infoJson = json<{
      exists: boolean;
      context: string;
      nodes: Array<{ name: string; running: boolean }>;
      registry: { running: boolean; inClusterAddress: string };
    }>(info);
    assert.equal(infoJson.exists, true);
    assert.equal(infoJson.context, `kind-${name}`);
    assert.deepEqual(infoJson.nodes, [{ name: node, running: true }]);
    assert.equal(infoJson.registry.inClusterAddress, `${registry}:5000`);

    const list = await ksail(["cluster", "list", "-o", "json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(json<{ items: { name: string }[] }>(list).items.some((c) => c.name === name));

    const stop = await ksail(["cluster", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await lab.docker.getContainer(node).inspect()).State.Running, false);
    assert.equal((await lab.docker.getContainer(registry).inspect()).State.Running, false);
    const start = await ksail(["cluster", "start"]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await lab.docker.getContainer(node).inspect()).State.Running, true);
    assert.equal((await lab.docker.getContainer(registry).inspect()).State.Running, true);
    assert.match(
      await execIn(lab, node, ["wget", "-q", "-O", "-", `http://${registry}:5000/v2/`]),
      /\{\}/,
    );
    await takeRecord();

    const down = await ksail(["down"]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /registry volume kept/);
    assert.deepEqual(
      (await takeRecord()).filter((c) => c.includes("delete")),
      [`kind delete cluster --name ${name}`],
    );
    await assert.rejects(lab.docker.getContainer(registry).inspect());
    assert.ok(await lab.docker.getVolume(`${registry}-data`).inspect());

    // Re-run up after down, then down --delete-volumes removes the volume too.
    assert.equal((await ksail(["up", "-q"])).code, 0);
    const purge = await ksail(["down", "--delete-volumes", "-o", "json"]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.equal(json(purge).volumeRemoved, true);
    await assert.rejects(lab.docker.getVolume(`${registry}-data`).inspect());
  });

  test("K3d: exact k3d invocations, and the generated k3d.yaml is what k3d receives", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-k3d-"));
    try {
      const k3dName = `k3d-${RUN}`;
      const run = (args: string[]) => runKsail(args, { cwd: dir, env: env() });
      assert.equal(
        (
          await run([
            "init",
            "--name",
            k3dName,
            "--distribution",
            "K3d",
            "--local-registry",
            "Disabled",
            // The stand-in k3d writes no kubeconfig: no Flux step (init's default is Flux).
            "--gitops-engine",
            "None",
          ])
        ).code,
        0,
      );
      await takeRecord();
      const up = await run(["up"]);
      assert.equal(up.code, 0, up.stderr);
      assert.deepEqual(await takeRecord(), [
        `k3d cluster list --output json`,
        `k3d cluster create ${k3dName} --config ${join(dir, "k3d.yaml")} --wait`,
      ]);
      const down = await run(["down"]);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await takeRecord(), [
        `k3d cluster list --output json`,
        `k3d cluster list --output json`,
        `k3d cluster delete ${k3dName}`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a missing kind binary gives the install hint (exit 6)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-nokind-"));
    try {
      const run = (args: string[]) =>
        runKsail(args, { cwd: dir, env: { ...env(), PATH: "/usr/bin:/bin" } });
      assert.equal((await run(["init", "--name", "x", "--distribution", "Kind"])).code, 0);
      const up = await run(["up"]);
      assert.equal(up.code, 6, up.stderr);
      assert.match(
        up.stderr,
        /error: kind is not installed \(not found on PATH\)\nhint: Install kind:/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
