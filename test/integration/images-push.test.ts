/**
 * A push with spec.images on a real dockerd and the distribution registry: the images are built
 * and pushed, the version pins their digests (annotation and packaged kustomization), the
 * user's files stay as they are, and Flux's own build (`flux build kustomization`, the Flux
 * CLI) of the pulled artifact yields `image: <cluster registry>/web@sha256:…` — with and
 * without a kustomization.yaml in the source directory, and otherwise the same objects as
 * Flux builds from the unpinned directory.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { connectEngine, type Engine } from "../../src/engine/docker.js";
import { buildImages, imageDestination, type BuiltImage } from "../../src/images/build.js";
import { pinsOf } from "../../src/images/pin.js";
import { RegistryClient } from "../../src/oci/client.js";
import { pullWorkload } from "../../src/workload/pull.js";
import { pushWorkload } from "../../src/workload/push.js";
import { listVersions } from "../../src/workload/versions.js";
import { writeAppContext } from "../../lab/app-image.js";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { fluxBinary, fluxBuild } from "../../lab/flux-build.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: web:dev
        - name: sidecar
          image: busybox:1.36
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;

function objects(yaml: string): Record<string, unknown>[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Record<string, unknown>)
    .filter((o) => o !== null);
}

function images(objs: Record<string, unknown>[]): string[] {
  return objs.flatMap((o) =>
    o.kind === "Deployment"
      ? (
          o as { spec: { template: { spec: { containers: { image: string }[] } } } }
        ).spec.template.spec.containers.map((c) => c.image)
      : [],
  );
}

describe("push with spec.images", { timeout: 600_000 }, () => {
  let lab: TestEngine;
  let registry: LabRegistry;
  let client: RegistryClient;
  let engine: Engine;
  let flux: string;

  before(async () => {
    flux = fluxBinary();
    [lab, registry] = await Promise.all([startDockerEngine(), startRegistry()]);
    client = new RegistryClient();
    engine = await connectEngine(lab.env);
  });
  after(async () => {
    client?.close();
    await Promise.allSettled([lab?.stop(), registry?.stop()]);
  });

  for (const layout of ["with a kustomization.yaml", "without one (Flux generates it)"]) {
    test(`pins the built digest ${layout}; flux build of the pulled artifact agrees`, async () => {
      const work = await mkdtemp(join(tmpdir(), "ksail-images-push-"));
      const source = join(work, "k8s");
      mkdirSync(source);
      writeFileSync(join(source, "deploy.yaml"), DEPLOYMENT);
      writeFileSync(join(source, "service.yaml"), SERVICE);
      const withKustomization = layout.startsWith("with a");
      if (withKustomization)
        writeFileSync(
          join(source, "kustomization.yaml"),
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deploy.yaml\n  - service.yaml\n",
        );
      const before = readFileSync(join(source, "deploy.yaml"), "utf8");
      const repository = {
        registry: registry.registry,
        repository: `app${withKustomization ? 1 : 2}`,
      };
      const destination = imageDestination(repository, "localhost:5000");
      const [web] = (await buildImages(
        { client, engine: () => Promise.resolve(engine) },
        { images: [{ name: "web", context: writeAppContext("pinned") }], destination },
      )) as [BuiltImage];
      assert.equal(web.clusterImage, `localhost:5000/web@${web.digest}`);

      const warnings: string[] = [];
      const pushed = await pushWorkload(
        { client },
        { repository, sourceDir: source, images: pinsOf([web]), reproducible: true },
        { step: (_l, run) => run(), info: () => {}, warn: (l) => warnings.push(l) },
      );
      assert.deepEqual(warnings, []);
      assert.deepEqual(pushed.images, { web: web.clusterImage });
      // The user's files are as they were: no kustomization added, none edited.
      assert.equal(readFileSync(join(source, "deploy.yaml"), "utf8"), before);
      assert.equal(existsSync(join(source, "kustomization.yaml")), withKustomization);

      const [version] = await listVersions({ client }, { repository });
      assert.deepEqual(version?.images, { web: web.clusterImage });

      const pulled = join(work, "pulled");
      await pullWorkload({ client }, { repository, destination: pulled });
      const built = await fluxBuild(flux, pulled, work);
      assert.ok(built.ok, built.output);
      const pinnedObjects = objects(built.output);
      assert.deepEqual(images(pinnedObjects), [web.clusterImage, "busybox:1.36"]);

      // Flux's build of the unpinned directory: the same objects but for the pinned image.
      const plain = await fluxBuild(flux, source, work);
      assert.ok(plain.ok, plain.output);
      assert.deepEqual(
        objects(plain.output.replaceAll("image: web:dev", `image: ${web.clusterImage}`)),
        pinnedObjects,
      );

      // Same images, same manifests: the next push is unchanged.
      const again = await pushWorkload(
        { client },
        { repository, sourceDir: source, images: pinsOf([web]), reproducible: true },
      );
      assert.equal(again.unchanged, true);
      assert.equal(again.version, pushed.version);
    });
  }

  test("an image no manifest uses is named in a warning", async () => {
    const source = await mkdtemp(join(tmpdir(), "ksail-images-push-"));
    writeFileSync(join(source, "service.yaml"), SERVICE);
    const warnings: string[] = [];
    await pushWorkload(
      { client },
      {
        repository: { registry: registry.registry, repository: "app3" },
        sourceDir: source,
        images: [
          { name: "web", newName: "localhost:5000/web", digest: `sha256:${"b".repeat(64)}` },
        ],
      },
      { step: (_l, run) => run(), info: () => {}, warn: (l) => warnings.push(l) },
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /image web of spec\.images is used by no manifest/);
  });
});
