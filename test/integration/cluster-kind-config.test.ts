/**
 * kind's own config loader accepts the kind.yaml files ksail generates. The real `kind` CLI
 * (v0.30.0, built from Go modules: `bash lab/go-tools.sh kind`) runs `create cluster` against
 * the test Docker Engine with a node image that cannot be pulled. kind reads and decodes the
 * config strictly (encoding.Load: unknown fields and apiVersions are errors), asks the engine for
 * its info, checks that no such cluster exists, validates the config (config.Validate), prints
 * `Creating cluster "…"`, and only then fails pulling the node image — so reaching the pull
 * means the config passed both the loader and the validation. Broken configs show that the same
 * run does fail on config errors. Not covered: containerdConfigPatches are only merged into the
 * node's containerd config after the nodes exist, so their TOML is not checked here.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import {
  addMirrorsToDistributionConfig,
  kindConfig,
} from "../../src/cluster/distribution-config.js";
import { demoConfig as config } from "../../lab/project-config.js";
import { parseMirrorSpecs } from "../../src/registry/mirror.js";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { dockerCliPath, kindBinary, runKind } from "../../lab/kind.js";

const RUN = `${process.pid}${randomBytes(3).toString("hex")}`;
/** Nothing listens on port 1: the engine's pull is refused at once. */
const MISSING_IMAGE = "127.0.0.1:1/ksail-test/no-such-node:v0";
const CONFIG_ERROR =
  /unable to decode config|unknown apiVersion|unknown kind|could not determine kind|invalid configuration|is not a valid|must have at least one/;

describe("kind v0.30.0's config loader and validation on ksail's kind.yaml", () => {
  let kind: string;
  let lab: TestEngine;
  let dir: string;

  before(async () => {
    // Fails (never skips) with the build command as the message.
    kind = kindBinary();
    dockerCliPath();
    lab = await startDockerEngine();
    dir = await mkdtemp(join(tmpdir(), "ksail-kind-config-"));
  });

  after(async () => {
    if (lab) await lab.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** `kind create cluster` with HOME/KUBECONFIG in a temp dir (kind edits the kubeconfig). */
  async function create(file: string, yaml: string, name: string) {
    const path = join(dir, file);
    await writeFile(path, yaml);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      KUBECONFIG: join(dir, "kubeconfig"),
      DOCKER_HOST: lab.dockerHost,
      KIND_EXPERIMENTAL_DOCKER_NETWORK: `ksail-kind-test-${RUN}`,
    };
    return runKind(
      kind,
      ["create", "cluster", "--config", path, "--name", name, "--image", MISSING_IMAGE],
      env,
    );
  }

  const generated: Array<[string, string]> = [
    ["local registry (the golden kind.yaml)", kindConfig(config())],
    ["no local registry", kindConfig(config({ localRegistry: "Disabled" }))],
    [
      "mirror registries, no local registry",
      kindConfig(config({ localRegistry: "Disabled" }), {
        mirrors: parseMirrorSpecs(["docker.io", "ghcr.io"]),
      }),
    ],
    [
      "a project kind.yaml with the mirror patch added",
      addMirrorsToDistributionConfig(
        "Kind",
        stringify({
          kind: "Cluster",
          apiVersion: "kind.x-k8s.io/v1alpha4",
          nodes: [{ role: "control-plane" }, { role: "worker" }],
        }),
        parseMirrorSpecs(["docker.io"]),
      )!,
    ],
  ];

  test("every generated kind.yaml passes loading and validation; kind fails only on the image", async () => {
    const runs = await Promise.all(
      generated.map(([, yaml], i) => create(`good-${i}.yaml`, yaml, `ok${i}-${RUN}`)),
    );
    runs.forEach((run, i) => {
      const [what] = generated[i]!;
      const context = `${what}:\n${run.output}`;
      assert.equal(run.code, 1, context);
      assert.doesNotMatch(run.output, CONFIG_ERROR, context);
      // Past config.Validate(): kind announces the cluster and starts on the node image.
      assert.match(run.output, new RegExp(`Creating cluster "ok${i}-${RUN}" \\.\\.\\.`), context);
      assert.match(run.output, /Ensuring node image \(127\.0\.0\.1:1\/ksail-test/, context);
      assert.match(run.output, /failed to pull image "127\.0\.0\.1:1\/ksail-test/, context);
    });
    // The generated config for the default project is the golden file the unit tests pin.
    assert.deepEqual(parse(generated[0]![1]), {
      kind: "Cluster",
      apiVersion: "kind.x-k8s.io/v1alpha4",
      name: "demo",
      nodes: [{ role: "control-plane" }],
      containerdConfigPatches: [
        '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"',
      ],
    });
    // kind left nothing behind in the engine: no node containers, no network.
    const nodes = await lab.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: ["io.x-k8s.kind.cluster"] }),
    });
    assert.deepEqual(nodes, []);
    await assert.rejects(lab.docker.getNetwork(`ksail-kind-test-${RUN}`).inspect());
  });

  test("broken kind.yaml files fail with kind's config errors, before any image pull", async () => {
    const good = parse(kindConfig(config())) as Record<string, unknown>;
    const broken: Array<[string, string, RegExp]> = [
      [
        "unknown top-level field",
        stringify({ ...good, registry: { port: 5000 } }),
        /unable to decode config: .*\n?.*field registry not found in type v1alpha4\.Cluster/,
      ],
      [
        "unknown node field",
        stringify({ ...good, nodes: [{ rol: "control-plane" }] }),
        /field rol not found in type v1alpha4\.Node/,
      ],
      [
        "wrong apiVersion",
        stringify({ ...good, apiVersion: "kind.x-k8s.io/v1alpha3" }),
        /unknown apiVersion: kind\.x-k8s\.io\/v1alpha3/,
      ],
      [
        "wrong kind",
        stringify({ ...good, kind: "Simple" }),
        /unknown kind Simple for apiVersion: kind\.x-k8s\.io\/v1alpha4/,
      ],
      [
        // Decodes fine; config.Validate() rejects it (so that stage is exercised too).
        "no control-plane node",
        stringify({ ...good, nodes: [{ role: "worker" }] }),
        /must have at least one control-plane node/,
      ],
    ];
    const runs = await Promise.all(
      broken.map(([, yaml], i) => create(`bad-${i}.yaml`, yaml, `bad${i}-${RUN}`)),
    );
    runs.forEach((run, i) => {
      const [what, , expected] = broken[i]!;
      const context = `${what}:\n${run.output}`;
      assert.equal(run.code, 1, context);
      assert.match(run.output, /ERROR: failed to create cluster: /, context);
      assert.match(run.output, expected, context);
      assert.doesNotMatch(run.output, /Ensuring node image|failed to pull image/, context);
    });
  });
});
