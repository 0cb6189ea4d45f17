/**
 * `ksail registry ...` end to end: the built CLI as a process against a real engine and the
 * registry:3 stand-in image. registry-cli.test.ts runs these scenarios against dockerd
 * (lab/docker.ts), registry-cli-podman.test.ts against a Podman service (lab/podman.ts).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildRegistryImage, freeTcpPort, type TestEngine } from "../../lab/docker.js";
import { json, runKsail } from "../../lab/ksail.js";

const RUN = `c${process.pid}${randomBytes(3).toString("hex")}`;

/** How each engine names the image a container runs when it was created from `registry:3`. */
const IMAGE_AS_INSPECTED = { docker: "registry:3", podman: "docker.io/library/registry:3" };

/** Registers the scenarios against the engine `startEngine` starts (and stops after them). */
export function registryCliScenarios(title: string, startEngine: () => Promise<TestEngine>) {
  describe(`ksail registry (CLI) on a real engine: ${title}`, () => {
    let lab: TestEngine;
    let project: string;
    let port: number;
    const name = `ksail-test-${RUN}`;

    before(async () => {
      lab = await startEngine();
      await buildRegistryImage(lab.docker);
      project = await mkdtemp(join(tmpdir(), "ksail-registry-cli-"));
      port = await freeTcpPort();
      // Defaults come from ksail.yaml when present.
      await writeFile(
        join(project, "ksail.yaml"),
        `apiVersion: ksail.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  gitOpsEngine: Flux
  options:
    localRegistry:
      hostPort: ${port}
      name: ${name}
`,
      );
    });

    after(async () => {
      if (lab) {
        await lab.docker
          .getContainer(name)
          .remove({ force: true })
          .catch(() => undefined);
        await lab.docker
          .getVolume(`${name}-data`)
          .remove()
          .catch(() => undefined);
        await lab.stop();
      }
      if (project) await rm(project, { recursive: true, force: true });
    });

    const ksail = (...args: string[]) =>
      runKsail(args, { cwd: project, env: { DOCKER_HOST: lab.dockerHost } });

    test("create, status, stop, start, gc, delete", async () => {
      const created = await ksail("registry", "create");
      assert.equal(created.code, 0, created.stderr);
      assert.match(
        created.stdout,
        new RegExp(
          `registry ${name} created: push to 127\\.0\\.0\\.1:${port}, in cluster ${name}:5000`,
        ),
      );
      assert.match(created.stderr, /✓ created registry container .* \(\d+(\.\d+)?m?s\)/);

      const again = await ksail("registry", "create", "-o", "json");
      assert.equal(again.code, 0, again.stderr);
      assert.equal(json(again).action, "unchanged");

      const status = await ksail("registry", "status", "-o", "json");
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(json(status), {
        name,
        image: IMAGE_AS_INSPECTED[lab.product],
        hostBinding: `127.0.0.1:${port}`,
        volume: `${name}-data`,
        volumeExists: true,
        exists: true,
        running: true,
        state: "running",
        hostAddress: `127.0.0.1:${port}`,
        inClusterAddress: `${name}:5000`,
        networks: [lab.defaultNetwork],
      });
      const human = await ksail("registry", "status");
      assert.match(human.stdout, /in cluster: .*:5000/);

      const stopped = await ksail("registry", "stop");
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stdout, /stopped/);
      const started = await ksail("registry", "start", "-o", "json");
      assert.equal(started.code, 0, started.stderr);
      assert.equal(json(started).action, "started");

      const gc = await ksail("registry", "gc", "-o", "json");
      assert.equal(gc.code, 0, gc.stderr);
      assert.equal(json(gc).blobsDeleted, 0);

      const deleted = await ksail("registry", "delete");
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(deleted.stdout, /volume .*-data kept \(pass --delete-volumes to remove it\)/);
      const gone = await ksail("registry", "status", "-o", "json");
      assert.equal(json(gone).exists, false);
      assert.equal(json(gone).volumeExists, true);

      const purged = await ksail("registry", "delete", "--delete-volumes", "-o", "json");
      assert.equal(purged.code, 0, purged.stderr);
      assert.equal(json(purged).volumeRemoved, true);
    });

    test("workload push + prune on the local registry garbage-collects inside its container", async () => {
      const created = await ksail("registry", "create", "-q");
      assert.equal(created.code, 0, created.stderr);
      try {
        await mkdir(join(project, "k8s"), { recursive: true });
        const digests: string[] = [];
        for (let i = 1; i <= 3; i++) {
          await writeFile(
            join(project, "k8s", "cm.yaml"),
            `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "${i}"\n`,
          );
          const push = await ksail("workload", "push", "-o", "json");
          assert.equal(push.code, 0, push.stderr);
          digests.push(json(push).layerDigest as string);
        }
        const prune = await ksail("workload", "prune", "--keep", "1", "-o", "json");
        assert.equal(prune.code, 0, prune.stderr);
        const result = json(prune);
        assert.equal(result.garbageCollection, "ran");
        assert.match(prune.stderr, /✓ Garbage-collected the registry/);
        const blobs = `http://127.0.0.1:${port}/v2/demo/blobs`;
        for (const digest of digests.slice(0, 2)) {
          assert.equal((await fetch(`${blobs}/${digest}`, { method: "HEAD" })).status, 404, digest);
        }
        assert.equal((await fetch(`${blobs}/${digests[2]}`, { method: "HEAD" })).status, 200);
      } finally {
        await ksail("registry", "delete", "--delete-volumes", "-q");
      }
    });

    test("flags override ksail.yaml, and a port in use exits 7 with a hint", async () => {
      const other = `${name}-flags`;
      const busy = port; // taken by the registry of this run
      const first = await ksail("registry", "create", "--name", `${name}`, "-q");
      assert.equal(first.code, 0, first.stderr);
      try {
        const clash = await ksail("registry", "create", "--name", other, "--port", String(busy));
        assert.equal(clash.code, 7, clash.stderr);
        assert.match(
          clash.stderr,
          new RegExp(`error: port ${busy} on 127\\.0\\.0\\.1 is already in use`),
        );
        assert.match(clash.stderr, /hint: .*--port/);
      } finally {
        await ksail("registry", "delete", "--delete-volumes", "-q");
      }
    });
  });
}
