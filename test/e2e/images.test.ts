/**
 * spec.images end to end (issue 25), every part real: our own dockerd builds the project's image
 * and pushes it to the distribution registry; the built CLI runs `workload reconcile --push`;
 * kube-apiserver with Flux's source-controller and kustomize-controller (lab/k8s) fetch and apply
 * the artifact. The applied Deployment's pod template carries the pinned digest — rewritten by
 * Flux's own kustomize from `image: web` — and `flux build kustomization` of the pulled artifact
 * says the same. A code change gives a new digest and Flux rolls the template to it; a
 * manifest-only change builds nothing. (No kubelet in this lab: the pods themselves run in the
 * Kind system test.)
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments, parseDocument } from "yaml";
import { writeAppContext } from "../../lab/app-image.js";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { writeLabInstallManifests } from "../../lab/flux-install-manifests.js";
import { fluxBinary, fluxBuild } from "../../lab/flux-build.js";
import {
  LAB_FLUX_VERSION,
  labInitArgs,
  pointFluxAtLabRegistry,
  startFluxLab,
} from "../../lab/flux-lab.js";
import { kubeRequest, type KubeLab } from "../../lab/k8s/lab.js";
import { json, runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";

const NAME = "shop";
const deploymentPath = `/apis/apps/v1/namespaces/default/deployments/${NAME}-web`;

const deployment = (greeting: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${NAME}-web
  namespace: default
  annotations:
    greeting: ${JSON.stringify(greeting)}
spec:
  replicas: 0
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: web:dev
`;

interface Pushed {
  pushed: { version: string; digest: string; unchanged: boolean; images?: Record<string, string> };
}

describe("your own image in the loop (process lab + dockerd)", { timeout: 900_000 }, () => {
  let lab: KubeLab;
  let registry: LabRegistry;
  let engine: TestEngine;
  let project: string;
  let flux: string;
  const ksail = (...args: string[]) =>
    runKsail(args, { cwd: project, env: { DOCKER_HOST: engine.dockerHost } });

  const templateImage = async (): Promise<string> => {
    const response = await kubeRequest(lab, "GET", deploymentPath);
    assert.equal(response.status, 200, response.body);
    return (response.json as { spec: { template: { spec: { containers: { image: string }[] } } } })
      .spec.template.spec.containers[0]!.image;
  };

  before(async () => {
    flux = fluxBinary();
    [{ lab, registry }, engine] = await Promise.all([startFluxLab(), startDockerEngine()]);
    project = await mkdtemp(join(tmpdir(), "ksail-e2e-images-"));
  });
  after(async () => {
    await Promise.allSettled([lab?.stop(), registry?.stop(), engine?.stop()]);
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("sets up a Flux project whose manifests use `image: web` (no kustomization.yaml)", async () => {
    const init = await ksail(...labInitArgs(lab, registry, NAME, "1h"));
    assert.equal(init.code, 0, init.stderr);
    await pointFluxAtLabRegistry(project, registry);
    const configPath = join(project, "ksail.yaml");
    const doc = parseDocument(await readFile(configPath, "utf8"));
    doc.setIn(["spec", "images"], [{ name: "web", context: "./web" }]);
    await writeFile(configPath, doc.toString());
    writeAppContext("hello v1", {}, join(project, "web"));
    await unlink(join(project, "k8s", "kustomization.yaml"));
    await writeFile(join(project, "k8s", "web.yaml"), deployment("hi"));
    const manifests = await writeLabInstallManifests(
      join(project, "install.yaml"),
      LAB_FLUX_VERSION,
    );
    const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
    assert.equal(install.code, 0, install.stderr);
    const sync = await ksail("flux", "sync");
    assert.equal(sync.code, 0, sync.stderr);
  });

  let firstImage: string;

  it("reconcile --push builds, pushes, pins: the applied Deployment runs localhost:<port>/web@sha256:…", async () => {
    const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s", "-o", "json");
    assert.equal(run.code, 0, `${run.stderr}\n${lab.logs("kustomize-controller", 20)}`);
    const { pushed } = json<Pushed>(run);
    const port = registry.registry.split(":")[1];
    firstImage = pushed.images?.web ?? "";
    assert.match(firstImage, new RegExp(`^localhost:${port}/web@sha256:[0-9a-f]{64}$`));
    assert.equal(await templateImage(), firstImage);
    // The digest is the registry's own for the built tag.
    const build = await ksail("workload", "build", "-o", "json");
    assert.equal(build.code, 0, build.stderr);
    const [item] = json<{ items: { image: string; built: boolean }[] }>(build).items;
    assert.deepEqual(item, { ...item, image: firstImage, built: false });

    // Flux's own build of the pulled artifact agrees.
    const pulled = join(project, "pulled");
    const pull = await ksail("workload", "pull", pushed.version, "--dest", pulled);
    assert.equal(pull.code, 0, pull.stderr);
    const built = await fluxBuild(flux, pulled, project);
    assert.ok(built.ok, built.output);
    type Deployment = {
      kind: string;
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    const objects = parseAllDocuments(built.output).map((d) => d.toJS() as Deployment | null);
    const web = objects.find((o) => o?.kind === "Deployment");
    assert.equal(web?.spec.template.spec.containers[0]?.image, firstImage);

    const versions = await ksail("workload", "versions", "-o", "json");
    assert.deepEqual(
      json<{ items: { version: string; images?: Record<string, string> }[] }>(versions).items.map(
        (v) => [v.version, v.images],
      ),
      [[pushed.version, { web: firstImage }]],
    );
  });

  it("a code change: a new digest, and Flux rolls the Deployment to it", async () => {
    await writeFile(join(project, "web", "www", "index.html"), "hello v2\n");
    const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s", "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    const { pushed } = json<Pushed>(run);
    assert.equal(pushed.unchanged, false);
    assert.notEqual(pushed.images?.web, firstImage);
    assert.equal(await templateImage(), pushed.images?.web);
    assert.match(run.stderr, /Built web →/);
  });

  it("a manifest-only change builds nothing and keeps the digest", async () => {
    const before = await templateImage();
    await writeFile(join(project, "k8s", "web.yaml"), deployment("hello again"));
    const run = await ksail("workload", "reconcile", "--push", "--timeout", "90s", "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /web unchanged: .* is in the registry/);
    assert.doesNotMatch(run.stderr, /Step 1\//);
    assert.equal(json<Pushed>(run).pushed.unchanged, false);
    assert.equal(await templateImage(), before);
  });
});
