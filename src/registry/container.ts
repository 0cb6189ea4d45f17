/**
 * The local registry container (FR-003, FR-005, FR-014, FR-015): `registry:3` with its port
 * published on 127.0.0.1 only, data in a named volume, deletes enabled, restarted unless
 * stopped, labelled as ksail's. Every operation is idempotent and prints nothing itself.
 */
import { createServer } from "node:net";
import type Docker from "dockerode";
import type { KsailConfig } from "../config/schema.js";
import { KsailError } from "../errors.js";
import { engineMessage, type Engine } from "../engine/docker.js";
import { sameImage } from "../engine/image-name.js";
import { PINNED_REGISTRY_IMAGE } from "../pins.js";
import { silentProgress, type Progress } from "../progress.js";
import { REGISTRY_CONTAINER_PORT, registryAddresses } from "./address.js";
import { REGISTRY_CONFIG_PATH, REGISTRY_DATA_DIR } from "./image-paths.js";
import {
  isReadOnlyConfig,
  readContainerFile,
  withMaintenanceLock,
  writeReadWriteConfig,
} from "./maintenance.js";

export const DEFAULT_REGISTRY_NAME = "ksail-registry";
export const DEFAULT_REGISTRY_IMAGE = PINNED_REGISTRY_IMAGE;
export const DEFAULT_REGISTRY_PORT = 5001;

/** Labels on everything ksail creates in the engine. */
export const LABEL_MANAGED = "dev.ksail.managed";
export const LABEL_ROLE = "dev.ksail.role";
export const LABEL_VOLUME = "dev.ksail.volume";

const PORT_KEY = `${REGISTRY_CONTAINER_PORT}/tcp`;

export interface RegistrySpec {
  /** Container name; also its host name on cluster networks. */
  name: string;
  image: string;
  /** Published on 127.0.0.1 only. */
  hostPort: number;
  /** Named volume mounted at /var/lib/registry. */
  volume: string;
  /** Extra labels (tests mark their objects with one). */
  labels?: Record<string, string>;
}

/** `<name>-data`: ksail-registry-data for the default name. */
export function registryVolumeName(name: string): string {
  return `${name}-data`;
}

export function registrySpec(options: Partial<RegistrySpec> = {}): RegistrySpec {
  const name = options.name ?? DEFAULT_REGISTRY_NAME;
  return {
    name,
    image: options.image ?? DEFAULT_REGISTRY_IMAGE,
    hostPort: options.hostPort ?? DEFAULT_REGISTRY_PORT,
    volume: options.volume ?? registryVolumeName(name),
    ...(options.labels ? { labels: options.labels } : {}),
  };
}

/** spec.options.localRegistry from ksail.yaml, with flag overrides. */
export function registrySpecFromConfig(
  config: KsailConfig,
  overrides: Partial<RegistrySpec> = {},
): RegistrySpec {
  const { name, image, hostPort } = config.spec.options.localRegistry;
  return registrySpec({ name, image, hostPort, ...stripUndefined(overrides) });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface RegistryStatus {
  name: string;
  image: string;
  /** Whether the container exists at all. */
  exists: boolean;
  running: boolean;
  /** The engine's state word: running, exited, created, ... or "absent". */
  state: string;
  /** The published host binding, e.g. "127.0.0.1:5000". */
  hostBinding: string | undefined;
  volume: string;
  volumeExists: boolean;
  /** Where the workstation pushes. */
  hostAddress: string;
  /** Where pods and Flux reach it on a cluster network (<name>:5000). */
  inClusterAddress: string;
  /** Docker networks the container is attached to. */
  networks: string[];
  containerId: string | undefined;
  managed: boolean;
}

export function describeBinding(
  info: Docker.ContainerInspectInfo,
): { hostIp: string; hostPort: number } | undefined {
  const binding = info.HostConfig.PortBindings?.[PORT_KEY]?.[0] as
    { HostIp?: string; HostPort?: string } | undefined;
  if (!binding?.HostPort) return undefined;
  return { hostIp: binding.HostIp ?? "", hostPort: Number(binding.HostPort) };
}

function volumeOf(info: Docker.ContainerInspectInfo): string | undefined {
  return info.Mounts.find((mount) => mount.Destination === REGISTRY_DATA_DIR)?.Name;
}

export async function registryStatus(engine: Engine, spec: RegistrySpec): Promise<RegistryStatus> {
  const info = await engine.inspectContainer(spec.name);
  const volume = (info && volumeOf(info)) ?? spec.volume;
  const binding = info && describeBinding(info);
  const hostPort = binding?.hostPort ?? spec.hostPort;
  const addresses = registryAddresses({ name: spec.name, hostPort });
  return {
    name: spec.name,
    image: info?.Config.Image ?? spec.image,
    exists: info !== undefined,
    running: info?.State.Running ?? false,
    state: info?.State.Status ?? "absent",
    hostBinding: binding ? `${binding.hostIp || "0.0.0.0"}:${binding.hostPort}` : undefined,
    volume,
    volumeExists: (await engine.inspectVolume(volume)) !== undefined,
    hostAddress: addresses.host,
    inClusterAddress: addresses.hostFromClusterNetwork,
    networks: Object.keys(info?.NetworkSettings.Networks ?? {}),
    containerId: info?.Id,
    managed: info?.Config.Labels?.[LABEL_MANAGED] === "true",
  };
}

export type EnsureAction = "created" | "started" | "unchanged";

export interface EnsureResult {
  action: EnsureAction;
  status: RegistryStatus;
}

export interface WaitOptions {
  /** How long to wait for /v2/ to answer after a start (default 30 s). */
  readyTimeoutMs?: number;
}

export interface EnsureOptions extends WaitOptions {
  /** ksail's cache directory (Runtime.cacheDir): where the registry maintenance lock lives. */
  cacheDir: string;
}

/**
 * Makes the registry run: nothing → create volume + container and start it; stopped → start;
 * running → nothing. A container of that name with another port, image or volume, or one ksail
 * did not create, is an error that says how to fix it. Waits until /v2/ answers.
 */
export async function ensureRegistry(
  engine: Engine,
  spec: RegistrySpec,
  progress: Progress,
  options: EnsureOptions,
): Promise<EnsureResult> {
  const existing = await engine.inspectContainer(spec.name);
  if (existing) {
    assertMatches(existing, spec);
    // A garbage collection that was interrupted leaves the registry read-only: undo that (a
    // collection running right now is waited for instead).
    if (isReadOnlyConfig(await readContainerFile(engine, spec.name, REGISTRY_CONFIG_PATH))) {
      await progress.step(
        `restore read-write mode of registry ${spec.name} (an interrupted garbage collection left it read-only)`,
        () =>
          withMaintenanceLock(
            spec.name,
            async () => {
              if (!(await writeReadWriteConfig(engine, spec.name))) return;
              const info = await engine.inspectContainer(spec.name);
              if (info?.State.Running) {
                await engine.call(`restart container ${spec.name}`, () =>
                  engine.docker.getContainer(spec.name).restart({ t: 10 }),
                );
              }
            },
            { cacheDir: options.cacheDir },
          ),
      );
    }
    if (existing.State.Running) {
      await waitForRegistry(engine, spec, options.readyTimeoutMs);
      return { action: "unchanged", status: await registryStatus(engine, spec) };
    }
    await progress.step(`start registry container ${spec.name}`, () =>
      startContainer(engine, spec, false, options),
    );
    return { action: "started", status: await registryStatus(engine, spec) };
  }

  await progress.step(`registry image ${spec.image}`, async () => {
    if (!(await engine.imageExists(spec.image))) await engine.pullImage(spec.image, progress);
  });
  await assertPortFree(engine, spec);
  await progress.step(`volume ${spec.volume}`, () =>
    engine.call(`create volume ${spec.volume}`, () =>
      engine.docker.createVolume({ Name: spec.volume, Labels: labels(spec, "registry-data") }),
    ),
  );
  await progress.step(
    `create registry container ${spec.name} on 127.0.0.1:${spec.hostPort}`,
    async () => {
      await engine.call(`create container ${spec.name}`, () =>
        engine.docker.createContainer(containerOptions(spec)),
      );
      await startContainer(engine, spec, true, options);
    },
  );
  return { action: "created", status: await registryStatus(engine, spec) };
}

/** The create request, exactly: 127.0.0.1-only binding, named volume, deletes on, unless-stopped. */
export function containerOptions(spec: RegistrySpec): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    Env: ["REGISTRY_STORAGE_DELETE_ENABLED=true"],
    ExposedPorts: { [PORT_KEY]: {} },
    Labels: { ...labels(spec, "registry"), [LABEL_VOLUME]: spec.volume },
    HostConfig: {
      PortBindings: { [PORT_KEY]: [{ HostIp: "127.0.0.1", HostPort: String(spec.hostPort) }] },
      Mounts: [{ Type: "volume", Source: spec.volume, Target: REGISTRY_DATA_DIR }],
      RestartPolicy: { Name: "unless-stopped" },
    },
  };
}

function labels(spec: RegistrySpec, role: string): Record<string, string> {
  return { ...(spec.labels ?? {}), [LABEL_MANAGED]: "true", [LABEL_ROLE]: role };
}

function assertMatches(info: Docker.ContainerInspectInfo, spec: RegistrySpec): void {
  if (info.Config.Labels?.[LABEL_MANAGED] !== "true") {
    throw new KsailError(
      "conflict",
      `a container named ${spec.name} exists that ksail did not create`,
      {
        hint: `Remove or rename it (docker rm -f ${spec.name}), or choose another name with spec.options.localRegistry.name / --name.`,
      },
    );
  }
  const problems: string[] = [];
  const binding = describeBinding(info);
  if (!binding || binding.hostPort !== spec.hostPort || binding.hostIp !== "127.0.0.1") {
    problems.push(
      `it publishes ${binding ? `${binding.hostIp || "0.0.0.0"}:${binding.hostPort}` : "no port"}, not 127.0.0.1:${spec.hostPort}`,
    );
  }
  if (!sameImage(info.Config.Image, spec.image))
    problems.push(`it runs image ${info.Config.Image}, not ${spec.image}`);
  const volume = volumeOf(info);
  if (volume !== spec.volume)
    problems.push(`it keeps its data in ${volume ?? "no named volume"}, not ${spec.volume}`);
  if (problems.length > 0) {
    const keepPort = binding
      ? ` or set spec.options.localRegistry.hostPort: ${binding.hostPort} (and image: ${info.Config.Image}) in ksail.yaml to keep using it`
      : "";
    throw new KsailError(
      "conflict",
      `registry container ${spec.name} exists with other settings: ${problems.join("; ")}`,
      {
        hint: `Run \`ksail registry delete --name ${spec.name}\` (keeps the data volume) and create it again${keepPort}.`,
      },
    );
  }
}

async function startContainer(
  engine: Engine,
  spec: RegistrySpec,
  createdNow: boolean,
  options: WaitOptions,
): Promise<void> {
  const container = engine.docker.getContainer(spec.name);
  try {
    await startWithNetworkRepair(engine, spec);
  } catch (error) {
    if (createdNow) await container.remove({ force: true }).catch(() => undefined);
    throw error;
  }
  await waitForRegistry(engine, spec, options.readyTimeoutMs);
}

/**
 * Starts the container. A container attached to a network that no longer exists (a deleted
 * cluster's) cannot start; such attachments are dropped and the start retried once.
 */
async function startWithNetworkRepair(engine: Engine, spec: RegistrySpec): Promise<void> {
  const container = engine.docker.getContainer(spec.name);
  try {
    await container.start();
    return;
  } catch (error) {
    const message = engineMessage(error);
    if (/port is already allocated|address already in use|bind for/i.test(message))
      throw portTaken(spec, error);
    if (!/network .* not found/i.test(message)) throw startFailed(spec, error);
  }
  const info = await engine.inspectContainer(spec.name);
  for (const network of Object.keys(info?.NetworkSettings.Networks ?? {})) {
    if (network === "bridge") continue;
    if (!(await engine.inspectNetwork(network))) {
      await engine.docker
        .getNetwork(network)
        .disconnect({ Container: spec.name, Force: true })
        .catch(() => undefined);
    }
  }
  try {
    await container.start();
  } catch (error) {
    if (/port is already allocated|address already in use/i.test(engineMessage(error)))
      throw portTaken(spec, error);
    throw startFailed(spec, error);
  }
}

function startFailed(spec: RegistrySpec, cause: unknown): KsailError {
  return new KsailError(
    "failed",
    `could not start registry container ${spec.name}: ${engineMessage(cause)}`,
    { cause },
  );
}

function portTaken(spec: RegistrySpec, cause?: unknown): KsailError {
  return new KsailError(
    "conflict",
    `port ${spec.hostPort} on 127.0.0.1 is already in use by another program`,
    {
      hint: `Stop what listens there, or pick a free port: --port PORT or spec.options.localRegistry.hostPort in ksail.yaml.`,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Whether the engine runs on this machine, so a local port check means something. */
function engineIsLocal(engine: Engine): boolean {
  const host = engine.endpoint.options.host;
  return host === undefined || host === "localhost" || host === "::1" || host.startsWith("127.");
}

async function assertPortFree(engine: Engine, spec: RegistrySpec): Promise<void> {
  if (!engineIsLocal(engine)) return;
  if (!(await portIsFree(spec.hostPort))) throw portTaken(spec);
}

/** Tries to listen on 127.0.0.1:port (the engine would need the same). */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Waits until GET /v2/ on 127.0.0.1:<port> answers (200 or 401). Fails early with the
 * container's last log lines when the container stops instead.
 */
export async function waitForRegistry(
  engine: Engine,
  spec: RegistrySpec,
  timeoutMs = 30_000,
): Promise<void> {
  const host = engineIsLocal(engine) ? "127.0.0.1" : engine.endpoint.options.host!;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${spec.hostPort}/v2/`;
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (let attempt = 0; ; attempt++) {
    try {
      // A ref'd timer (AbortSignal.timeout's is not): a half-open connection through
      // docker-proxy must neither hang the wait nor let the process exit mid-await.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 2000);
      const response = await fetch(url, { signal: controller.signal }).finally(() =>
        clearTimeout(timer),
      );
      await response.body?.cancel();
      if (response.status === 200 || response.status === 401) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    }
    if (attempt % 5 === 4) {
      const info = await engine.inspectContainer(spec.name);
      if (info && !info.State.Running) {
        const logs = await engine.logs(spec.name, 20);
        throw new KsailError(
          "failed",
          `registry container ${spec.name} stopped right after starting (${info.State.Status}, exit ${info.State.ExitCode})`,
          {
            details: logs.split("\n").filter(Boolean).slice(-5),
            hint: `See \`docker logs ${spec.name}\`; check that ${spec.image} is a distribution registry image.`,
          },
        );
      }
    }
    if (Date.now() > deadline) {
      throw new KsailError(
        "timeout",
        `registry ${spec.name} did not answer ${url} within ${Math.round(timeoutMs / 1000)} s (${last})`,
        {
          hint: `See \`docker logs ${spec.name}\`.`,
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
  }
}

/** Starts an existing registry container (not-found when there is none). */
export async function startRegistry(
  engine: Engine,
  spec: RegistrySpec,
  progress: Progress,
  options: EnsureOptions,
): Promise<EnsureResult> {
  const info = await engine.inspectContainer(spec.name);
  if (!info) {
    throw new KsailError("not-found", `there is no registry container named ${spec.name}`, {
      hint: "Create it with `ksail registry create` (or `ksail up`).",
    });
  }
  return ensureRegistry(
    engine,
    {
      ...spec,
      hostPort: describeBinding(info)?.hostPort ?? spec.hostPort,
      image: info.Config.Image,
      volume: volumeOf(info) ?? spec.volume,
    },
    progress,
    options,
  );
}

/** Stops the container; its data stays in the volume (FR-014). Returns whether it was running. */
export async function stopRegistry(
  engine: Engine,
  name: string,
  progress: Progress = silentProgress,
): Promise<{ stopped: boolean; exists: boolean }> {
  const info = await engine.inspectContainer(name);
  if (!info) return { stopped: false, exists: false };
  assertManaged(info, name);
  if (!info.State.Running) return { stopped: false, exists: true };
  await progress.step(`stop registry container ${name}`, () =>
    engine.call(`stop container ${name}`, () => engine.docker.getContainer(name).stop({ t: 10 })),
  );
  return { stopped: true, exists: true };
}

export interface DeleteRegistryOptions {
  /** Also remove the data volume (FR-015). */
  deleteVolume?: boolean;
}

export interface DeleteRegistryResult {
  containerRemoved: boolean;
  volume: string;
  volumeRemoved: boolean;
}

/**
 * Removes the container; the volume only with `deleteVolume`. Idempotent. Same argument order as
 * ensureRegistry: engine, the registry, progress, options. `registry.volume` is the volume removed
 * when the container is already gone (default <name>-data); the container's own mount wins.
 */
export async function deleteRegistry(
  engine: Engine,
  registry: Pick<RegistrySpec, "name"> & Partial<Pick<RegistrySpec, "volume">>,
  progress: Progress = silentProgress,
  options: DeleteRegistryOptions = {},
): Promise<DeleteRegistryResult> {
  const { name } = registry;
  const info = await engine.inspectContainer(name);
  const volume = (info && volumeOf(info)) ?? registry.volume ?? registryVolumeName(name);
  let containerRemoved = false;
  if (info) {
    assertManaged(info, name);
    await progress.step(`remove registry container ${name}`, () =>
      engine.call(`remove container ${name}`, () =>
        engine.docker.getContainer(name).remove({ force: true }),
      ),
    );
    containerRemoved = true;
  }
  let volumeRemoved = false;
  if (options.deleteVolume) {
    const existing = await engine.inspectVolume(volume);
    if (existing) {
      if (existing.Labels?.[LABEL_MANAGED] !== "true") {
        throw new KsailError(
          "conflict",
          `volume ${volume} was not created by ksail; leaving it alone`,
          {
            hint: `Remove it yourself with \`docker volume rm ${volume}\` if it is no longer needed.`,
          },
        );
      }
      await progress.step(`remove volume ${volume}`, () =>
        engine.call(`remove volume ${volume}`, () => engine.docker.getVolume(volume).remove()),
      );
      volumeRemoved = true;
    }
  }
  return { containerRemoved, volume, volumeRemoved };
}

function assertManaged(info: Docker.ContainerInspectInfo, name: string): void {
  if (info.Config.Labels?.[LABEL_MANAGED] !== "true") {
    throw new KsailError(
      "conflict",
      `container ${name} was not created by ksail; leaving it alone`,
      {
        hint: "Pass --name with the name of ksail's registry container.",
      },
    );
  }
}

/** Attaches the registry to a Docker network (a cluster's) under its own name. Idempotent. */
export async function connectRegistryToNetwork(
  engine: Engine,
  name: string,
  network: string,
): Promise<boolean> {
  const info = await engine.inspectContainer(name);
  if (!info) throw new KsailError("not-found", `there is no registry container named ${name}`);
  if (info.NetworkSettings.Networks?.[network]) return false;
  if (!(await engine.inspectNetwork(network))) {
    throw new KsailError("not-found", `Docker network ${network} does not exist`, {
      hint: "Is the cluster running? `ksail cluster list` shows the clusters.",
    });
  }
  await engine.call(`connect ${name} to network ${network}`, () =>
    engine.docker
      .getNetwork(network)
      .connect({ Container: name, EndpointConfig: { Aliases: [name] } }),
  );
  return true;
}

/** Detaches the registry from a network (before its cluster is deleted). Idempotent. */
export async function disconnectRegistryFromNetwork(
  engine: Engine,
  name: string,
  network: string,
): Promise<boolean> {
  const info = await engine.inspectContainer(name);
  if (!info?.NetworkSettings.Networks?.[network]) return false;
  await engine.call(`disconnect ${name} from network ${network}`, () =>
    engine.docker.getNetwork(network).disconnect({ Container: name, Force: true }),
  );
  return true;
}
