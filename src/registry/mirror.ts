/**
 * Mirror registries (pull-through caches): one `registry:3` container per upstream, started with
 * REGISTRY_PROXY_REMOTEURL, published on 127.0.0.1 only on its own port, with its own volume.
 * The container is created here (the create request is the local registry's plus the proxy
 * env and mirror labels); starting, waiting, stopping, deleting and network attachment are the
 * local registry's code in ./container.ts.
 */
import { createServer } from "node:net";
import type Docker from "dockerode";
import type { Engine } from "../engine/docker.js";
import { KsailError } from "../errors.js";
import { silentProgress, type Progress } from "../progress.js";
import { REGISTRY_CONTAINER_PORT } from "./address.js";
import {
  containerOptions,
  DEFAULT_REGISTRY_IMAGE,
  describeBinding,
  ensureRegistry,
  LABEL_MANAGED,
  LABEL_ROLE,
  portIsFree,
  registrySpec,
  type EnsureResult,
  type RegistrySpec,
} from "./container.js";

export const MIRROR_ROLE = "registry-mirror";
export const LABEL_MIRROR_HOST = "dev.ksail.mirror.host";
export const LABEL_MIRROR_UPSTREAM = "dev.ksail.mirror.upstream";
export const PROXY_ENV = "REGISTRY_PROXY_REMOTEURL";

/** Where `docker.io` images really come from (Docker Hub's registry API host). */
export const DOCKER_HUB_UPSTREAM = "https://registry-1.docker.io";

export interface MirrorSpec {
  /** The registry host images are named with, e.g. docker.io or ghcr.io. */
  host: string;
  /** The upstream registry URL the cache pulls from, e.g. https://registry-1.docker.io. */
  upstream: string;
  /** Container name; also its host name on cluster networks. */
  name: string;
}

/** ksail-mirror-docker-io for docker.io: lower case, every other character a dash. */
export function mirrorContainerName(host: string): string {
  return `ksail-mirror-${host
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")}`;
}

const HOST_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i;

/**
 * `--mirror-registry HOST=URL` (or just HOST: docker.io → https://registry-1.docker.io, any
 * other host → https://HOST).
 */
export function parseMirrorSpec(text: string): MirrorSpec {
  const eq = text.indexOf("=");
  const host = (eq < 0 ? text : text.slice(0, eq)).trim().toLowerCase();
  const usage = (problem: string) =>
    new KsailError("usage", `--mirror-registry ${text}: ${problem}`, {
      hint: "Use HOST=URL, e.g. --mirror-registry docker.io=https://registry-1.docker.io (repeatable).",
    });
  if (!HOST_RE.test(host)) throw usage(`"${host}" is not a registry host name`);
  const upstreamText =
    eq < 0 ? (host === "docker.io" ? DOCKER_HUB_UPSTREAM : `https://${host}`) : text.slice(eq + 1);
  let url: URL;
  try {
    url = new URL(upstreamText.trim());
  } catch {
    throw usage(`"${upstreamText}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw usage(`the upstream must be an http:// or https:// URL, not ${url.protocol}`);
  if (url.username || url.password)
    throw usage("credentials in the upstream URL would be stored in the container's environment");
  if (url.search || url.hash) throw usage("the upstream URL cannot have a query or fragment");
  const upstream = url.href.replace(/\/+$/, "");
  return { host, upstream, name: mirrorContainerName(host) };
}

/** Parses every flag value; two mirrors for one host are a usage error. */
export function parseMirrorSpecs(values: readonly string[] = []): MirrorSpec[] {
  const mirrors: MirrorSpec[] = [];
  for (const value of values) {
    const mirror = parseMirrorSpec(value);
    const same = mirrors.find((m) => m.host === mirror.host || m.name === mirror.name);
    if (same) {
      if (same.upstream === mirror.upstream && same.host === mirror.host) continue;
      throw new KsailError(
        "usage",
        `--mirror-registry given twice for ${mirror.host} (${same.upstream}, ${mirror.upstream})`,
      );
    }
    mirrors.push(mirror);
  }
  return mirrors;
}

/** The in-cluster endpoint of a mirror: http://<container>:5000. */
export function mirrorEndpoint(mirror: { name: string }): string {
  return `http://${mirror.name}:${REGISTRY_CONTAINER_PORT}`;
}

export interface MirrorOptions {
  image?: string;
  /** Extra labels (tests mark their objects with one). */
  labels?: Record<string, string>;
}

/** The mirror's container as a local-registry spec (own volume <name>-data). */
export function mirrorRegistrySpec(
  mirror: MirrorSpec,
  hostPort: number,
  options: MirrorOptions = {},
): RegistrySpec {
  return registrySpec({
    name: mirror.name,
    image: options.image ?? DEFAULT_REGISTRY_IMAGE,
    hostPort,
    ...(options.labels ? { labels: options.labels } : {}),
  });
}

/** The create request: the local registry's (127.0.0.1 binding, volume, labels) plus the proxy. */
export function mirrorContainerOptions(
  mirror: MirrorSpec,
  spec: RegistrySpec,
): Docker.ContainerCreateOptions {
  const base = containerOptions(spec);
  return {
    ...base,
    Env: [...(base.Env ?? []), `${PROXY_ENV}=${mirror.upstream}`],
    Labels: {
      ...base.Labels,
      [LABEL_ROLE]: MIRROR_ROLE,
      [LABEL_MIRROR_HOST]: mirror.host,
      [LABEL_MIRROR_UPSTREAM]: mirror.upstream,
    },
  };
}

/** A free port on 127.0.0.1 chosen by the kernel. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

export interface EnsureMirrorResult extends EnsureResult {
  mirror: MirrorSpec;
}

/**
 * Makes the mirror run. Nothing → volume + container on a free 127.0.0.1 port, then started by
 * `ensureRegistry`; stopped → started; running → nothing. An existing container for another
 * upstream, or one that is not a ksail mirror, is a conflict that says how to fix it.
 */
export async function ensureMirror(
  engine: Engine,
  mirror: MirrorSpec,
  options: MirrorOptions & { cacheDir: string },
  progress: Progress = silentProgress,
): Promise<EnsureMirrorResult> {
  const existing = await engine.inspectContainer(mirror.name);
  if (existing) {
    assertMirrorMatches(existing, mirror);
    const port = describeBinding(existing)?.hostPort ?? 0;
    const spec = mirrorRegistrySpec(mirror, port, {
      ...options,
      image: options.image ?? existing.Config.Image,
    });
    if (!existing.State.Running) await setRestartPolicy(engine, mirror.name, "no");
    const result = await startOrExplain(engine, mirror, () =>
      ensureRegistry(engine, spec, progress, { cacheDir: options.cacheDir }),
    );
    return { ...result, mirror };
  }
  const image = options.image ?? DEFAULT_REGISTRY_IMAGE;
  await progress.step(`registry image ${image}`, async () => {
    if (!(await engine.imageExists(image))) await engine.pullImage(image, progress);
  });
  let port = await freeLoopbackPort();
  if (!(await portIsFree(port))) port = await freeLoopbackPort();
  const spec = mirrorRegistrySpec(mirror, port, options);
  await progress.step(
    `create mirror container ${mirror.name} on 127.0.0.1:${port} for ${mirror.upstream}`,
    async () => {
      await engine.call(`create volume ${spec.volume}`, () =>
        engine.docker.createVolume({
          Name: spec.volume,
          Labels: {
            ...(options.labels ?? {}),
            [LABEL_MANAGED]: "true",
            [LABEL_ROLE]: "mirror-data",
          },
        }),
      );
      const create = mirrorContainerOptions(mirror, spec);
      // First start without restarts, so that a crash shows at once (see startOrExplain).
      create.HostConfig = { ...create.HostConfig, RestartPolicy: { Name: "no" } };
      await engine.call(`create container ${mirror.name}`, () =>
        engine.docker.createContainer(create),
      );
    },
  );
  try {
    const result = await startOrExplain(engine, mirror, () =>
      ensureRegistry(engine, spec, progress, { cacheDir: options.cacheDir }),
    );
    return { ...result, action: "created", mirror };
  } catch (error) {
    // Leave nothing half-made: a second run creates it again.
    await engine.docker
      .getContainer(mirror.name)
      .remove({ force: true })
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Runs the start, with restarts off, then turns `unless-stopped` back on. The distribution
 * registry's proxy asks <upstream>/v2/ for its auth endpoints when it starts and panics when
 * that request fails (no network, wrong URL); with restarts on, the engine would hide the
 * crash in a restart loop. A panic in the logs becomes an error that names the upstream.
 */
async function startOrExplain<T>(
  engine: Engine,
  mirror: MirrorSpec,
  start: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await start();
  } catch (error) {
    const logs = await engine.logs(mirror.name, 50);
    const panic = logs
      .split("\n")
      .find((line) => line.includes("panic: "))
      ?.replace(/^.*?panic: /, "")
      .trim();
    if (!panic) throw error;
    throw new KsailError(
      "unreachable",
      `mirror registry ${mirror.name} exited right after starting: it could not reach ${mirror.upstream}`,
      {
        details: [panic],
        hint: `A pull-through cache contacts ${mirror.upstream}/v2/ when it starts. Check that the container engine's network reaches it, or leave out --mirror-registry ${mirror.host}.`,
        cause: error,
      },
    );
  }
  await setRestartPolicy(engine, mirror.name, "unless-stopped");
  return result;
}

async function setRestartPolicy(
  engine: Engine,
  name: string,
  policy: "no" | "unless-stopped",
): Promise<void> {
  await engine.call(`update restart policy of ${name}`, () =>
    engine.docker.getContainer(name).update({ RestartPolicy: { Name: policy } }),
  );
}

function assertMirrorMatches(info: Docker.ContainerInspectInfo, mirror: MirrorSpec): void {
  const labels = info.Config.Labels ?? {};
  const fix = `Remove it with \`docker rm -f ${mirror.name}\` (its cache volume ${mirror.name}-data is kept) and run the command again.`;
  if (labels[LABEL_MANAGED] !== "true" || labels[LABEL_ROLE] !== MIRROR_ROLE) {
    throw new KsailError(
      "conflict",
      `a container named ${mirror.name} exists that is not a ksail mirror registry`,
      { hint: fix },
    );
  }
  const env = (info.Config.Env ?? []).find((e) => e.startsWith(`${PROXY_ENV}=`));
  const upstream = env?.slice(PROXY_ENV.length + 1);
  if (upstream !== mirror.upstream) {
    throw new KsailError(
      "conflict",
      `mirror registry ${mirror.name} caches ${upstream ?? "nothing"}, not ${mirror.upstream}`,
      { hint: fix },
    );
  }
}

/** A mirror container as found in the engine (from its labels). */
export function mirrorFromContainer(labels: Record<string, string> | undefined, name: string) {
  const host = labels?.[LABEL_MIRROR_HOST];
  const upstream = labels?.[LABEL_MIRROR_UPSTREAM];
  if (labels?.[LABEL_ROLE] !== MIRROR_ROLE || !host || !upstream) return undefined;
  return { host, upstream, name } satisfies MirrorSpec;
}

/** Every ksail mirror container attached to a Docker network (a cluster's). */
export async function mirrorsOnNetwork(engine: Engine, network: string): Promise<MirrorSpec[]> {
  const containers = await engine.call("list mirror registries", () =>
    engine.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABEL_ROLE}=${MIRROR_ROLE}`] }),
    }),
  );
  const mirrors: MirrorSpec[] = [];
  for (const c of containers) {
    if (!c.NetworkSettings?.Networks?.[network]) continue;
    const mirror = mirrorFromContainer(c.Labels, (c.Names[0] ?? c.Id).replace(/^\//, ""));
    if (mirror) mirrors.push(mirror);
  }
  return mirrors.sort((a, b) => a.name.localeCompare(b.name));
}
