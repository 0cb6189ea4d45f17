/**
 * The local registry container's scenarios against a real engine and a real distribution
 * registry image tagged registry:3. registry-container.test.ts runs them against dockerd (our own
 * unless KSAIL_TEST_DOCKER_HOST is set), registry-container-podman.test.ts against a Podman
 * service; where the two engines differ, the scenario says how (lab/README.md, "Podman").
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connectEngine, type Engine } from "../../src/engine/docker.js";
import { KsailError } from "../../src/errors.js";
import { silentProgress } from "../../src/progress.js";
import {
  connectRegistryToNetwork,
  deleteRegistry,
  disconnectRegistryFromNetwork,
  ensureRegistry,
  registrySpec,
  registryStatus,
  startRegistry,
  stopRegistry,
  type RegistrySpec,
} from "../../src/registry/container.js";
import { garbageCollect, garbageCollectContainer } from "../../src/registry/garbage-collect.js";
import { resolveRuntime } from "../../src/config/load.js";
import {
  buildRegistryImage,
  freeTcpPort,
  removeLabelled,
  type TestEngine,
} from "../../lab/docker.js";

/** ksail's cache directory as the CLI resolves it here (the registry maintenance lock lives there). */
const { cacheDir } = resolveRuntime(process.env);

const RUN = `t${process.pid}${randomBytes(3).toString("hex")}`;
const TEST_LABEL = "dev.ksail.test";

let lab: TestEngine;
let engine: Engine;
let counter = 0;

async function newSpec(): Promise<RegistrySpec> {
  counter += 1;
  return registrySpec({
    name: `ksail-test-${RUN}-${counter}`,
    hostPort: await freeTcpPort(),
    labels: { [TEST_LABEL]: RUN },
  });
}

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  assert.equal(start.status, 202, `upload start: ${start.status}`);
  const location = new URL(start.headers.get("location")!, base);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    body: data,
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(put.status, 201, `blob put: ${put.status} ${await put.text()}`);
  return digest;
}

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** Pushes a one-layer OCI artifact; returns the manifest and layer digests. */
async function pushArtifact(
  base: string,
  repo: string,
  tag: string,
): Promise<{ manifest: string; layer: string }> {
  const config = Buffer.from("{}");
  const layer = randomBytes(4096);
  const configDigest = await pushBlob(base, repo, config);
  const layerDigest = await pushBlob(base, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: "application/vnd.cncf.flux.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.cncf.flux.content.v1.tar+gzip",
          digest: layerDigest,
          size: layer.length,
        },
      ],
    }),
  );
  const put = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": MANIFEST_TYPE },
  });
  assert.equal(put.status, 201, `manifest put: ${put.status} ${await put.text()}`);
  return { manifest: sha256(manifest), layer: layerDigest };
}

async function resolves(
  base: string,
  repo: string,
  digest: string,
  kind: "manifests" | "blobs",
): Promise<boolean> {
  const response = await fetch(`${base}/v2/${repo}/${kind}/${digest}`, {
    headers: { accept: MANIFEST_TYPE },
  });
  const body = Buffer.from(await response.arrayBuffer());
  return response.status === 200 && sha256(body) === digest;
}

async function containersNamed(name: string): Promise<number> {
  const list = await lab.docker.listContainers({
    all: true,
    // Docker matches the pattern against "/<name>", Podman against "<name>".
    filters: JSON.stringify({ name: [`^/?${name}$`] }),
  });
  return list.length;
}

async function rejectsWith(
  promise: Promise<unknown>,
  kind: string,
  pattern: RegExp,
): Promise<KsailError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KsailError, `expected KsailError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail("expected a rejection");
}

/** How each engine names the image a container runs when it was created from `registry:3`. */
const IMAGE_AS_INSPECTED = {
  docker: "registry:3",
  // Podman stores and reports fully qualified names (its Docker API qualifies short ones).
  podman: "docker.io/library/registry:3",
};

/** Registers the scenarios against the engine `startEngine` starts (and stops after them). */
export function registryContainerScenarios(
  title: string,
  startEngine: () => Promise<TestEngine>,
): void {
  describe(`registry container on a real engine: ${title}`, () => {
    before(async () => {
      lab = await startEngine();
      await buildRegistryImage(lab.docker);
      engine = await connectEngine(lab.env);
    });

    after(async () => {
      if (lab) {
        await removeLabelled(lab.docker, TEST_LABEL, RUN);
        await lab.stop();
      }
    });

    test("ensure from nothing, from stopped, and when running keeps one container", async () => {
      const spec = await newSpec();
      const first = await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      assert.equal(first.action, "created");
      assert.equal(first.status.running, true);
      assert.equal(first.status.volume, `${spec.name}-data`);
      assert.equal((await fetch(`http://127.0.0.1:${spec.hostPort}/v2/`)).status, 200);

      const again = await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      assert.equal(again.action, "unchanged");
      assert.equal(again.status.containerId, first.status.containerId);

      assert.deepEqual(await stopRegistry(engine, spec.name), { stopped: true, exists: true });
      assert.equal((await registryStatus(engine, spec)).running, false);
      const restarted = await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      assert.equal(restarted.action, "started");
      assert.equal(restarted.status.containerId, first.status.containerId);
      assert.equal(await containersNamed(spec.name), 1);

      const info = await lab.docker.getContainer(spec.name).inspect();
      assert.equal(info.HostConfig.RestartPolicy?.Name, "unless-stopped");
      assert.ok(info.Config.Env.includes("REGISTRY_STORAGE_DELETE_ENABLED=true"));
      assert.equal(info.Config.Labels["dev.ksail.managed"], "true");
      assert.equal(info.Config.Image, IMAGE_AS_INSPECTED[lab.product]);
      const mount = info.Mounts.find((m) => m.Destination === "/var/lib/registry");
      assert.equal(mount?.Type, "volume");
      assert.equal(mount?.Name, spec.volume);
    });

    test("binds 127.0.0.1 only: inspect shows it and the machine's other address refuses", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      const info = await lab.docker.getContainer(spec.name).inspect();
      const bindings = info.NetworkSettings.Ports["5000/tcp"];
      assert.ok(bindings && bindings.length > 0);
      for (const binding of bindings) assert.equal(binding.HostIp, "127.0.0.1");
      assert.deepEqual(info.HostConfig.PortBindings["5000/tcp"], [
        { HostIp: "127.0.0.1", HostPort: String(spec.hostPort) },
      ]);

      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
      assert.ok(external, "this machine needs a non-loopback IPv4 address for this check");
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({ host: external, port: spec.hostPort });
        socket.setTimeout(3000, () => (socket.destroy(), resolve("timeout")));
        socket.once("connect", () => (socket.destroy(), resolve("connected")));
        socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
      });
      assert.equal(outcome, "ECONNREFUSED", `connecting to ${external}:${spec.hostPort}`);
    });

    test("every digest survives stop, start and a new container on the same volume (SC-007)", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      const base = `http://127.0.0.1:${spec.hostPort}`;
      const pushed: Array<{ manifest: string; layer: string }> = [];
      for (let i = 0; i < 3; i++) pushed.push(await pushArtifact(base, "app", `1.0.${i}`));
      const all = async () => {
        for (const p of pushed) {
          assert.ok(await resolves(base, "app", p.manifest, "manifests"), `manifest ${p.manifest}`);
          assert.ok(await resolves(base, "app", p.layer, "blobs"), `blob ${p.layer}`);
        }
      };
      await all();
      await stopRegistry(engine, spec.name);
      await startRegistry(engine, spec, silentProgress, { cacheDir });
      await all();
      const removed = await deleteRegistry(engine, spec);
      assert.deepEqual(removed, {
        containerRemoved: true,
        volume: spec.volume,
        volumeRemoved: false,
      });
      const recreated = await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      assert.equal(recreated.action, "created");
      await all();
    });

    test("delete keeps the volume; --delete-volumes removes it", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      await deleteRegistry(engine, spec);
      assert.equal(await containersNamed(spec.name), 0);
      assert.ok(await engine.inspectVolume(spec.volume), "volume kept");
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      const result = await deleteRegistry(engine, spec, silentProgress, { deleteVolume: true });
      assert.deepEqual(result, {
        containerRemoved: true,
        volume: spec.volume,
        volumeRemoved: true,
      });
      assert.equal(await engine.inspectVolume(spec.volume), undefined);
      // Idempotent.
      assert.deepEqual(await deleteRegistry(engine, spec, silentProgress, { deleteVolume: true }), {
        containerRemoved: false,
        volume: spec.volume,
        volumeRemoved: false,
      });
    });

    test("garbage collection through exec frees a deleted artifact's blobs", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      const base = `http://127.0.0.1:${spec.hostPort}`;
      const keep = await pushArtifact(base, "app", "1.0.0");
      const drop = await pushArtifact(base, "app", "1.0.1");
      const volume = await engine.inspectVolume(spec.volume);
      const blobFile = (digest: string) =>
        join(
          volume!.Mountpoint,
          "docker/registry/v2/blobs/sha256",
          digest.slice(7, 9),
          digest.slice(7),
          "data",
        );
      const canSeeVolume = existsSync(blobFile(drop.layer));
      // Our own dockerd runs on this machine, so its volume directory is readable here.
      if (lab.owned) assert.ok(canSeeVolume, `expected ${blobFile(drop.layer)}`);

      const del = await fetch(`${base}/v2/app/manifests/${drop.manifest}`, { method: "DELETE" });
      assert.equal(del.status, 202);
      const output = await garbageCollectContainer(spec.name, lab.env, cacheDir);
      assert.match(output, /blob eligible for deletion|marking/i);

      if (canSeeVolume) {
        assert.equal(
          existsSync(blobFile(drop.layer)),
          false,
          "deleted artifact's layer data is gone",
        );
        assert.equal(existsSync(blobFile(keep.layer)), true, "kept artifact's layer data stays");
      }
      // Through the API as well: the image caches blob descriptors in memory like the real
      // registry:3, so this holds only because garbage collection restarts the registry.
      assert.equal(
        (await fetch(`${base}/v2/app/blobs/${drop.layer}`, { method: "HEAD" })).status,
        404,
      );
      assert.ok(await resolves(base, "app", keep.layer, "blobs"));
      assert.ok(await resolves(base, "app", keep.manifest, "manifests"));
    });

    test("garbage collection: empty registry is fine; stopped or missing container is a clear error", async () => {
      const spec = await newSpec();
      await rejectsWith(
        garbageCollect(engine, spec.name, cacheDir),
        "not-found",
        /no registry container named/,
      );
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      // An empty registry has nothing to collect: that is not a failure.
      assert.match(await garbageCollect(engine, spec.name, cacheDir), /repositories/);
      await stopRegistry(engine, spec.name);
      await rejectsWith(garbageCollect(engine, spec.name, cacheDir), "failed", /not running/);
    });

    test("a port taken by another program is a clear conflict, and nothing is left behind", async () => {
      const spec = await newSpec();
      const server: Server = createServer();
      await new Promise<void>((resolve) => server.listen(spec.hostPort, "127.0.0.1", resolve));
      try {
        const error = await rejectsWith(
          ensureRegistry(engine, spec, silentProgress, { cacheDir }),
          "conflict",
          /port \d+ on 127\.0\.0\.1 is already in use/,
        );
        assert.match(error.hint ?? "", /--port/);
        assert.equal(await containersNamed(spec.name), 0);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    test("a stopped registry whose port was taken meanwhile fails to start with the same clear error", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      await stopRegistry(engine, spec.name);
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(spec.hostPort, "127.0.0.1", resolve));
      try {
        await rejectsWith(
          ensureRegistry(engine, spec, silentProgress, { cacheDir }),
          "conflict",
          /already in use/,
        );
        assert.equal(await containersNamed(spec.name), 1, "the existing container is kept");
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    test("a container of that name with another port or image is a clear error with the fix", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      const other = { ...spec, hostPort: await freeTcpPort() };
      const error = await rejectsWith(
        ensureRegistry(engine, other, silentProgress, { cacheDir }),
        "conflict",
        /exists with other settings: it publishes 127\.0\.0\.1:\d+, not/,
      );
      assert.match(error.hint ?? "", /ksail registry delete/);
      await rejectsWith(
        ensureRegistry(engine, { ...spec, image: "registry:2" }, silentProgress, { cacheDir }),
        "conflict",
        new RegExp(`runs image ${IMAGE_AS_INSPECTED[lab.product]}, not registry:2`),
      );
    });

    test("a container ksail did not create is left alone", async () => {
      const spec = await newSpec();
      await lab.docker.createContainer({
        name: spec.name,
        Image: "registry:3",
        Labels: { [TEST_LABEL]: RUN },
      });
      await rejectsWith(
        ensureRegistry(engine, spec, silentProgress, { cacheDir }),
        "conflict",
        /ksail did not create/,
      );
      await rejectsWith(deleteRegistry(engine, spec), "conflict", /not created by ksail/);
    });

    test("the registry joins a cluster network under its own name, and survives that network's removal", async () => {
      const spec = await newSpec();
      await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      const network = `ksail-test-${RUN}-net`;
      await lab.docker.createNetwork({ Name: network, Labels: { [TEST_LABEL]: RUN } });
      assert.equal(await connectRegistryToNetwork(engine, spec.name, network), true);
      assert.equal(await connectRegistryToNetwork(engine, spec.name, network), false);
      const status = await registryStatus(engine, spec);
      assert.ok(status.networks.includes(network));
      assert.equal(status.inClusterAddress, `${spec.name}:5000`);
      // The cluster goes away while the registry is stopped: start must still work.
      await stopRegistry(engine, spec.name);
      if (lab.product === "podman") {
        // Podman refuses to remove a network a container (even a stopped one) is attached to;
        // ksail's cluster delete detaches the registry first, as it does here.
        await assert.rejects(lab.docker.getNetwork(network).remove(), /network is being used/);
        assert.equal(await disconnectRegistryFromNetwork(engine, spec.name, network), true);
      }
      await lab.docker.getNetwork(network).remove();
      const restarted = await ensureRegistry(engine, spec, silentProgress, { cacheDir });
      assert.equal(restarted.status.running, true);
    });
  });
}
