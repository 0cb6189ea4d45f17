/**
 * Mirror registries on a real engine: `ksail up --mirror-registry HOST=URL` with the recording
 * kind/kubectl stand-ins and a busybox node (as in cluster-lifecycle.test.ts). No public
 * registry is reachable here, so the upstream of the working mirror is the local registry
 * container itself, reached over the engine's default bridge: that makes pulling through the
 * cache a real test too (Docker Hub and other public upstreams are not tested).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
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

const RUN = `m${process.pid}${randomBytes(3).toString("hex")}`;
const LABEL = "dev.ksail.test";
const STANDINS = fileURLToPath(new URL("../fixtures/bin", import.meta.url));
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  assert.equal(start.status, 202);
  const location = new URL(start.headers.get("location")!, base);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", body: data });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

/** A one-layer OCI artifact in the registry at base; returns the manifest and layer digests. */
async function pushArtifact(base: string, repo: string, tag: string) {
  const config = Buffer.from("{}");
  const layer = randomBytes(2048);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: await pushBlob(base, repo, config),
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: await pushBlob(base, repo, layer),
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
  assert.equal(put.status, 201, await put.text());
  return { manifest: sha256(manifest), layer: sha256(layer) };
}

describe("mirror registries with stand-in kind/kubectl on a real engine", () => {
  let lab: TestEngine;
  let project: string;
  let state: string;
  let record: string;
  let port: number;
  const name = `mirror-${RUN}`;
  const registry = `ksail-test-${RUN}`;
  const network = `ksail-test-${RUN}-kind`;
  const nodeImage = `ksail-test-node:${RUN}`;
  // Unique upstream host names give unique mirror container names.
  const goodHost = `up-${RUN}.test`;
  const goodMirror = `ksail-mirror-up-${RUN}-test`;
  const badHost = `down-${RUN}.test`;
  const badMirror = `ksail-mirror-down-${RUN}-test`;

  before(async () => {
    lab = await startDockerEngine();
    await buildRegistryImage(lab.docker);
    await buildNodeImage(lab.docker, nodeImage);
    project = await mkdtemp(join(tmpdir(), "ksail-mirror-"));
    state = join(project, ".state");
    record = join(state, "record");
    await mkdir(state);
    port = await freeTcpPort();
  });

  after(async () => {
    if (lab) {
      await removeLabelled(lab.docker, LABEL, RUN).catch(() => undefined);
      for (const c of [`${name}-control-plane`, registry, goodMirror, badMirror])
        await lab.docker
          .getContainer(c)
          .remove({ force: true })
          .catch(() => undefined);
      for (const v of [`${registry}-data`, `${goodMirror}-data`, `${badMirror}-data`])
        await lab.docker
          .getVolume(v)
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

  const ksail = (args: string[]) =>
    runKsail(args, {
      cwd: project,
      env: {
        PATH: `${STANDINS}${delimiter}${process.env.PATH}`,
        DOCKER_HOST: lab.dockerHost,
        KSAIL_RECORD: record,
        KSAIL_STATE: state,
        KSAIL_NODE_IMAGE: nodeImage,
        KSAIL_TEST_LABEL: `${LABEL}=${RUN}`,
        KIND_EXPERIMENTAL_DOCKER_NETWORK: network,
      },
    });

  test("up --mirror-registry: proxy container on 127.0.0.1 only, wired into the node, pulls through; stop/start; down removes it", async () => {
    const init = await initKindProject(ksail, project, {
      name,
      registryPort: port,
      registryName: registry,
    });
    assert.equal(init.code, 0, init.stderr);

    // 1. An upstream that cannot be reached: the distribution registry's proxy asks
    // <upstream>/v2/ when it starts and exits; ksail says so and leaves no container behind.
    const bad = await ksail(["up", "--mirror-registry", `${badHost}=http://127.0.0.1:9`]);
    assert.equal(bad.code, 4, `${bad.stdout}\n${bad.stderr}`);
    assert.match(
      bad.stderr,
      new RegExp(`mirror registry ${badMirror} exited right after starting: it could not reach`),
    );
    assert.match(bad.stderr, /hint: A pull-through cache contacts http:\/\/127\.0\.0\.1:9\/v2\//);
    await assert.rejects(lab.docker.getContainer(badMirror).inspect());
    assert.ok(
      !(await readFile(record, "utf8").catch(() => "")).includes("kind create"),
      "no cluster without its mirrors",
    );

    // 2. The upstream is the local registry (created by step 1), on the engine's default bridge.
    const registryIp = (await lab.docker.getContainer(registry).inspect()).NetworkSettings.Networks
      .bridge!.IPAddress;
    const upstream = `http://${registryIp}:5000`;
    const pushed = await pushArtifact(`http://127.0.0.1:${port}`, "library/hello", "v1");

    const up = await ksail(["up", "-o", "json", "--mirror-registry", `${goodHost}=${upstream}`]);
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    assert.match(
      up.stderr,
      new RegExp(
        `✓ mirror registry ${goodMirror} \\(${goodHost} → ${upstream}\\) on 127\\.0\\.0\\.1:\\d+ \\(`,
      ),
    );
    assert.match(up.stderr, new RegExp(`✓ connect ${goodMirror} to network ${network} \\(`));
    assert.match(up.stderr, /✓ Wrote containerd hosts\.toml on 1 node \(3 files\)/);
    const upJson = json<{
      mirrors: Array<{ name: string; hostAddress: string; endpoint: string }>;
    }>(up);
    assert.equal(upJson.mirrors.length, 1);
    assert.equal(upJson.mirrors[0]!.endpoint, `http://${goodMirror}:5000`);

    const info = await lab.docker.getContainer(goodMirror).inspect();
    assert.ok(info.Config.Env.includes(`REGISTRY_PROXY_REMOTEURL=${upstream}`));
    assert.ok(info.Config.Env.includes("REGISTRY_STORAGE_DELETE_ENABLED=true"));
    assert.equal(info.Config.Image, "registry:3");
    const bindings = info.HostConfig.PortBindings as Record<
      string,
      Array<{ HostIp: string; HostPort: string }>
    >;
    assert.equal(Object.keys(bindings).length, 1);
    assert.equal(bindings["5000/tcp"]!.length, 1);
    assert.equal(bindings["5000/tcp"]![0]!.HostIp, "127.0.0.1");
    const mirrorPort = Number(bindings["5000/tcp"]![0]!.HostPort);
    assert.equal(upJson.mirrors[0]!.hostAddress, `127.0.0.1:${mirrorPort}`);
    assert.notEqual(mirrorPort, port, "its own port");
    // What the engine actually bound (not only what was asked for).
    assert.deepEqual(
      info.NetworkSettings.Ports["5000/tcp"]?.map((b) => b.HostIp),
      ["127.0.0.1"],
    );
    assert.deepEqual(
      info.Mounts.map((m) => [m.Type, m.Name, m.Destination]),
      [["volume", `${goodMirror}-data`, "/var/lib/registry"]],
    );
    assert.equal(info.Config.Labels["dev.ksail.managed"], "true");
    assert.equal(info.Config.Labels["dev.ksail.role"], "registry-mirror");
    assert.equal(info.Config.Labels["dev.ksail.mirror.host"], goodHost);
    assert.equal(info.HostConfig.RestartPolicy?.Name, "unless-stopped");
    assert.ok(info.NetworkSettings.Networks[network]?.Aliases?.includes(goodMirror));

    // The node: hosts.toml for the upstream host, and the mirror reachable by name.
    const node = `${name}-control-plane`;
    const golden = await readFile(
      new URL("../fixtures/golden/mirror-hosts.toml", import.meta.url),
      "utf8",
    );
    assert.equal(
      await execIn(lab, node, ["cat", `/etc/containerd/certs.d/${goodHost}/hosts.toml`]),
      golden
        .replace("https://registry-1.docker.io", upstream)
        .replace("ksail-mirror-docker-io", goodMirror),
    );
    assert.match(
      await execIn(lab, node, ["wget", "-q", "-O", "-", `http://${goodMirror}:5000/v2/`]),
      /\{\}/,
    );

    // Pull through the cache: manifest and blob come from the upstream via the mirror.
    const viaMirror = `http://127.0.0.1:${mirrorPort}/v2/library/hello`;
    const manifest = await fetch(`${viaMirror}/manifests/v1`, {
      headers: { accept: MANIFEST_TYPE },
    });
    assert.equal(manifest.status, 200, await manifest.clone().text());
    assert.equal(sha256(Buffer.from(await manifest.arrayBuffer())), pushed.manifest);
    const blob = await fetch(`${viaMirror}/blobs/${pushed.layer}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), pushed.layer);

    // Idempotent: a second up keeps the same mirror container.
    const again = await ksail(["up", "--mirror-registry", `${goodHost}=${upstream}`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await lab.docker.getContainer(goodMirror).inspect()).Id, info.Id);
    // Another upstream for the same host is a clear conflict, not a silent change.
    const other = await ksail(["up", "--mirror-registry", `${goodHost}=http://127.0.0.1:9`]);
    assert.equal(other.code, 7, other.stderr);
    assert.match(other.stderr, new RegExp(`caches ${upstream}, not http://127.0.0.1:9`));

    // stop/start (no flag needed: the mirror is found on the cluster network). The busybox
    // node ignores SIGTERM (a 30 s stop timeout), so it is killed first; ksail skips it then.
    await lab.docker.getContainer(node).kill();
    const stop = await ksail(["cluster", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await lab.docker.getContainer(goodMirror).inspect()).State.Running, false);
    const start = await ksail(["cluster", "start"]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await lab.docker.getContainer(goodMirror).inspect()).State.Running, true);
    assert.match(
      await execIn(lab, node, ["wget", "-q", "-O", "-", `http://${goodMirror}:5000/v2/`]),
      /\{\}/,
    );

    // down removes the mirror container (found on the network), keeps its volume...
    const down = await ksail(["down", "-o", "json"]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(json<{ mirrors: unknown[] }>(down).mirrors, [
      { name: goodMirror, state: "removed", volumeRemoved: false, users: [] },
    ]);
    await assert.rejects(lab.docker.getContainer(goodMirror).inspect());
    assert.ok(await lab.docker.getVolume(`${goodMirror}-data`).inspect());
    // ...and with --delete-volumes the volume too.
    const up2 = await ksail(["up", "-q", "--mirror-registry", `${goodHost}=${upstream}`]);
    assert.equal(up2.code, 0, up2.stderr);
    const purge = await ksail(["down", "--delete-volumes"]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stdout, new RegExp(`mirror ${goodMirror} removed with its volume`));
    await assert.rejects(lab.docker.getContainer(goodMirror).inspect());
    await assert.rejects(lab.docker.getVolume(`${goodMirror}-data`).inspect());
  });
});
