/**
 * Garbage collection of the local registry container while pushes run (issue 10 item 4), on a
 * real Docker Engine with the registry:3 stand-in image: `prune` collects with the registry in
 * read-only maintenance mode, so afterwards no tag points at a missing blob, every push either
 * landed whole or failed with a message that says why, and a failed push works when retried.
 * A collection that dies midway leaves the registry read-only; the next ensure (what `ksail
 * registry start` and `ksail up` run) makes it read-write again.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  FLUX_CONFIG_MEDIA_TYPE,
  FLUX_CONTENT_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
} from "../../src/artifact/media-types.js";
import { connectEngine, type Engine } from "../../src/engine/docker.js";
import { KsailError } from "../../src/errors.js";
import { RegistryClient } from "../../src/oci/client.js";
import type { RepositoryRef } from "../../src/oci/reference.js";
import { ensureRegistry, registrySpec, type RegistrySpec } from "../../src/registry/container.js";
import { garbageCollect } from "../../src/registry/garbage-collect.js";
import { resolveRuntime } from "../../src/config/load.js";
import {
  isReadOnlyConfig,
  readContainerFile,
  writeReadOnlyConfig,
} from "../../src/registry/maintenance.js";
import { silentProgress } from "../../src/progress.js";
import { pruneWorkload } from "../../src/workload/prune.js";
import { pushWorkload } from "../../src/workload/push.js";
import { mapLimit } from "../../src/util/map-limit.js";
import {
  buildRegistryImage,
  freeTcpPort,
  removeLabelled,
  startDockerEngine,
  type TestEngine,
} from "../../lab/docker.js";
import { runKsail } from "../../lab/ksail.js";

/** ksail's cache directory as the CLI resolves it here (the registry maintenance lock lives there). */
const { cacheDir } = resolveRuntime(process.env);

const RUN = `t${process.pid}${randomBytes(3).toString("hex")}`;
const TEST_LABEL = "dev.ksail.test";

let lab: TestEngine;
let engine: Engine;
let work: string;
const client = new RegistryClient();

before(async () => {
  lab = await startDockerEngine();
  await buildRegistryImage(lab.docker);
  engine = await connectEngine(lab.env);
  work = await mkdtemp(join(tmpdir(), "ksail-gc-push-"));
});

after(async () => {
  if (lab) {
    await removeLabelled(lab.docker, TEST_LABEL, RUN);
    await lab.stop();
  }
  if (work) await rm(work, { recursive: true, force: true });
});

let counter = 0;
async function newRegistry(): Promise<RegistrySpec> {
  counter += 1;
  const spec = registrySpec({
    name: `ksail-gc-${RUN}-${counter}`,
    hostPort: await freeTcpPort(),
    labels: { [TEST_LABEL]: RUN },
  });
  await ensureRegistry(engine, spec, silentProgress, { cacheDir });
  return spec;
}

/** Writes a source directory whose content is unique to `seed` (~64 KiB, so uploads take a moment). */
async function source(seed: string): Promise<string> {
  const dir = join(work, seed);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const blob = randomBytes(48 * 1024).toString("base64");
  await writeFile(
    join(dir, "cm.yaml"),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  seed: "${seed}"\n  blob: "${blob}"\n`,
  );
  return dir;
}

/** Tags whose manifest or any blob it names cannot be read back intact. */
async function brokenTags(registry: string): Promise<string[]> {
  const broken: string[] = [];
  for (const repository of await client.catalog(registry)) {
    const repo = { registry, repository };
    for (const tag of await client.listTags(repo)) {
      try {
        const manifest = JSON.parse(
          (await client.fetchManifest(repo, tag)).bytes.toString("utf8"),
        ) as { config: { digest: string }; layers: { digest: string }[] };
        for (const blob of [manifest.config, ...manifest.layers])
          await client.fetchBlob(repo, blob.digest);
      } catch (error) {
        broken.push(`${repository}:${tag}: ${(error as Error).message}`);
      }
    }
  }
  return broken;
}

interface PushAttempt {
  repository: RepositoryRef;
  dir: string;
  version?: string;
  digest?: string;
  error?: KsailError;
}

/** A Flux-typed artifact with a random layer, as raw blobs + manifest (fast to make many). */
function rawArtifact(): { blobs: Blob[]; manifest: Buffer; layer: Blob } {
  const config: Blob = blob(Buffer.from("{}"));
  const layer: Blob = blob(randomBytes(2048));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: FLUX_CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size },
      layers: [{ mediaType: FLUX_CONTENT_MEDIA_TYPE, digest: layer.digest, size: layer.size }],
    }),
  );
  return { blobs: [config, layer], manifest, layer };
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

function blob(data: Buffer): Blob {
  return {
    digest: `sha256:${createHash("sha256").update(data).digest("hex")}`,
    size: data.length,
    data,
  };
}

/** Where the registry container's volume keeps a blob's data, seen from this machine. */
async function blobFile(spec: RegistrySpec, digest: string): Promise<string> {
  const volume = await lab.docker.getVolume(spec.volume).inspect();
  assert.ok(
    volume.Mountpoint && existsSync(volume.Mountpoint),
    `volume ${spec.volume} is not visible here (${volume.Mountpoint}); run this test against a local engine`,
  );
  const hex = digest.slice(7);
  return join(volume.Mountpoint, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
}

describe("garbage collection while pushes run", () => {
  it("prune's GC leaves no tag on missing blobs; pushes land whole or fail clearly and retry fine", async () => {
    const spec = await newRegistry();
    const registry = `127.0.0.1:${spec.hostPort}`;
    // Enough versions that the collector has real work (and so takes a while) to sweep.
    const app = { registry, repository: "z-app" };
    await mapLimit(
      Array.from({ length: 200 }, (_, i) => i),
      8,
      async (i) => {
        const artifact = rawArtifact();
        for (const b of artifact.blobs) await client.pushBlob(app, b);
        await client.pushManifest(app, `0.1.${i}`, artifact.manifest, OCI_MANIFEST_MEDIA_TYPE);
      },
    );
    await client.pushManifest(
      app,
      "latest",
      (await client.fetchManifest(app, "0.1.199")).bytes,
      OCI_MANIFEST_MEDIA_TYPE,
    );

    // A push in flight: its blobs are in the registry, its manifest not yet. It puts the
    // manifest the moment the collector has removed its layer (which nothing named yet).
    const writer = { registry, repository: "a-writer" };
    const inFlight = rawArtifact();
    for (const b of inFlight.blobs) await client.pushBlob(writer, b);
    const layerFile = await blobFile(spec, inFlight.layer.digest);
    assert.ok(existsSync(layerFile));
    let pruneDone = false;
    const manifestPut = (async () => {
      while (existsSync(layerFile) && !pruneDone) await sleep(5);
      return client.pushManifest(writer, "1.0.0", inFlight.manifest, OCI_MANIFEST_MEDIA_TYPE).then(
        () => undefined,
        (error: unknown) => error,
      );
    })();

    // And ordinary pushes, one after another, all through the prune.
    const attempts: PushAttempt[] = [];
    const pusher = (async () => {
      const repository = { registry, repository: "b-pushes" };
      for (let round = 0; !pruneDone || round < 2; round++) {
        const dir = await source(`b-${round}`);
        const attempt: PushAttempt = { repository, dir };
        attempts.push(attempt);
        try {
          const pushed = await pushWorkload(
            { client: new RegistryClient() },
            { repository, sourceDir: dir },
            silentProgress,
          );
          attempt.version = pushed.version;
          attempt.digest = pushed.digest;
        } catch (error) {
          assert.ok(error instanceof KsailError, `not a KsailError: ${String(error)}`);
          attempt.error = error;
        }
      }
    })();

    const started = performance.now();
    const result = await pruneWorkload(
      { client, garbageCollect: () => garbageCollect(engine, spec.name, cacheDir) },
      { repository: app, keep: 2 },
      silentProgress,
    ).finally(() => {
      pruneDone = true;
    });
    const pruneMs = performance.now() - started;
    const putError = await manifestPut;
    await pusher;
    assert.equal(result.garbageCollection, "ran");
    assert.equal(result.deleted.length, 198);

    const failed = attempts.filter((a) => a.error);
    console.log(
      `prune + GC ${Math.round(pruneMs)} ms; in-flight manifest put: ${putError ? (putError as Error).message : "accepted"}; ` +
        `${attempts.length} pushes during it, ${failed.length} refused`,
    );
    // The invariant: no tag on missing content, whatever the timing.
    assert.deepEqual(await brokenTags(registry), []);
    for (const attempt of attempts.filter((a) => a.version)) {
      assert.equal(
        (await client.resolve(attempt.repository, attempt.version!))?.digest,
        attempt.digest,
        `${attempt.repository.repository}:${attempt.version} lost`,
      );
    }
    // The in-flight push's layer was collected while the registry was read-only, so its
    // manifest was refused, and the message says why.
    assert.ok(putError instanceof KsailError, "the manifest naming a collected blob was accepted");
    for (const error of [putError, ...failed.map((a) => a.error!)]) {
      assert.match(error.message, /read-only/i, `unclear failure: ${error.message}`);
    }
    // Retried, the pushes work: the blobs again, then the manifest.
    for (const b of inFlight.blobs) await client.pushBlob(writer, b);
    await client.pushManifest(writer, "1.0.0", inFlight.manifest, OCI_MANIFEST_MEDIA_TYPE);
    for (const attempt of failed) {
      const pushed = await pushWorkload(
        { client: client },
        { repository: attempt.repository, sourceDir: attempt.dir },
        silentProgress,
      );
      assert.equal(
        (await client.resolve(attempt.repository, pushed.version))?.digest,
        pushed.digest,
      );
    }
    assert.deepEqual(await brokenTags(registry), []);
    assert.equal(
      isReadOnlyConfig(await readContainerFile(engine, spec.name, "/etc/distribution/config.yml")),
      false,
    );
  });

  it("a registry left read-only by an interrupted collection is read-write after the next ensure", async () => {
    const spec = await newRegistry();
    const repository = { registry: `127.0.0.1:${spec.hostPort}`, repository: "left" };
    await pushWorkload(
      { client: client },
      { repository, sourceDir: await source("left-1") },
      silentProgress,
    );
    // What a kill between "read-only" and "read-write again" leaves behind.
    await writeReadOnlyConfig(engine, spec.name);
    await lab.docker.getContainer(spec.name).restart({ t: 10 });
    const refused = await pushWorkload(
      { client: client },
      { repository, sourceDir: await source("left-refused") },
      silentProgress,
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(refused instanceof KsailError, "the read-only registry took a push");
    await ensureRegistry(engine, { ...spec }, silentProgress, { cacheDir });
    // ensure waited for /v2/; the registry takes writes again.
    const pushed = await pushWorkload(
      { client: client },
      { repository, sourceDir: await source("left-2") },
      silentProgress,
    );
    assert.equal(pushed.version, "0.0.2");
    assert.equal(
      isReadOnlyConfig(await readContainerFile(engine, spec.name, "/etc/distribution/config.yml")),
      false,
    );
  });

  it("two garbage collections at once take turns and leave the registry read-write", async () => {
    const spec = await newRegistry();
    const repository = { registry: `127.0.0.1:${spec.hostPort}`, repository: "twice" };
    await pushWorkload(
      { client: client },
      { repository, sourceDir: await source("twice-1") },
      silentProgress,
    );
    const outputs = await Promise.all([
      garbageCollect(engine, spec.name, cacheDir),
      garbageCollect(engine, spec.name, cacheDir),
    ]);
    assert.equal(outputs.length, 2);
    assert.equal(
      isReadOnlyConfig(await readContainerFile(engine, spec.name, "/etc/distribution/config.yml")),
      false,
    );
    const pushed = await pushWorkload(
      { client: client },
      { repository, sourceDir: await source("twice-2") },
      silentProgress,
    );
    assert.equal(pushed.version, "0.0.2");
    assert.deepEqual(await brokenTags(`127.0.0.1:${spec.hostPort}`), []);
  });

  it("`ksail workload prune` first puts a registry left read-only back to read-write", async () => {
    const spec = await newRegistry();
    const project = join(work, "cli-project");
    await mkdir(join(project, "k8s"), { recursive: true });
    await writeFile(
      join(project, "ksail.yaml"),
      `apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: app\nspec:\n  gitOpsEngine: Flux\n  options:\n    localRegistry:\n      hostPort: ${spec.hostPort}\n      name: ${spec.name}\n`,
    );
    const ksail = (...args: string[]) =>
      runKsail(args, { cwd: project, env: { DOCKER_HOST: lab.dockerHost } });
    for (const n of [1, 2]) {
      await writeFile(
        join(project, "k8s", "cm.yaml"),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "${n}"\n`,
      );
      const push = await ksail("workload", "push");
      assert.equal(push.code, 0, push.stderr);
    }
    await writeReadOnlyConfig(engine, spec.name);
    await lab.docker.getContainer(spec.name).restart({ t: 10 });
    const prune = await ksail("workload", "prune", "--keep", "1");
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stderr, /restore read-write mode of registry/);
    assert.match(prune.stdout, /deleted 0\.0\.1/);
    const repository = { registry: `127.0.0.1:${spec.hostPort}`, repository: "app" };
    assert.deepEqual((await client.listTags(repository)).sort(), ["0.0.2", "latest"]);
    assert.equal(
      isReadOnlyConfig(await readContainerFile(engine, spec.name, "/etc/distribution/config.yml")),
      false,
    );
  });
});
