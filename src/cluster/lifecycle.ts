/**
 * Cluster lifecycle as a list of small named steps (as kind does), each reported with its
 * duration through a Progress: registry → cluster → wiring → GitOps engine. Every step checks
 * what exists first, so a second `create` finishes whatever a failed one left.
 */
import { count } from "../util/plural.js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { KsailConfig } from "../config/schema.js";
import type { Engine } from "../engine/docker.js";
import { KsailError } from "../errors.js";
import { localRegistryAddresses } from "../registry/address.js";
import {
  connectRegistryToNetwork,
  deleteRegistry,
  disconnectRegistryFromNetwork,
  ensureRegistry,
  registrySpecFromConfig,
  registryStatus,
  stopRegistry,
  type RegistrySpec,
  type RegistryStatus,
} from "../registry/container.js";
import {
  ensureMirror,
  mirrorsOnNetwork,
  mirrorRegistrySpec,
  type MirrorSpec,
} from "../registry/mirror.js";
import { silentProgress, type Progress } from "../progress.js";
import { readBoundedFile } from "../util/bounded-read.js";
import { addMirrorsToDistributionConfig, distributionConfigFor } from "./distribution-config.js";
import type { ClusterNode, Provisioner } from "./provisioner.js";
import { runTool, runToolOrFail } from "./tools.js";
import {
  hostsTomlFiles,
  localRegistryHostingConfigMap,
  mirrorHostsTomlFile,
  writeHostsTomlFilesToNodes,
  type HostsTomlFile,
} from "./wiring.js";

/**
 * Installs the GitOps engine (Flux) once the cluster and registry are wired
 * (the CLI passes src/flux/bootstrap.ts's fluxStep; without one, `createCluster` reports the step skipped).
 */
export type GitOpsInstallHook = (context: {
  config: KsailConfig;
  kubeContext: string;
  progress: Progress;
}) => Promise<void>;

/** What the lifecycle services talk to (the `deps` of `service(deps, input, progress)`). */
export interface ClusterDeps {
  provisioner: Provisioner;
  engine: () => Promise<Engine>;
  env: NodeJS.ProcessEnv;
  /** ksail's cache directory (Runtime.cacheDir): the registry maintenance lock lives there. */
  cacheDir: string;
  /** The GitOps step of `createCluster`. */
  installGitOps?: GitOpsInstallHook;
}

/** Which cluster: the project's configuration (the `input`). */
export interface ClusterInput {
  config: KsailConfig;
  /** Directory ksail.yaml lives in (distribution config paths are relative to it). */
  baseDir: string;
  registry?: Partial<RegistrySpec>;
  /** Mirror registries (--mirror-registry): pull-through caches wired into the nodes. */
  mirrors?: MirrorSpec[];
}

/** Deps, input and progress together, as the steps below pass them around. */
type LifecycleOptions = ClusterDeps & ClusterInput & { progress: Progress };

export interface CreateResult {
  name: string;
  distribution: string;
  context: string;
  cluster: "created" | "started" | "unchanged" | "external";
  registry: RegistryStatus | undefined;
  mirrors: MirrorStatus[];
  gitOps: "installed" | "skipped" | "none";
}

export interface MirrorStatus {
  name: string;
  host: string;
  upstream: string;
  /** Where the workstation reaches the cache: 127.0.0.1:<port>. */
  hostAddress: string;
  /** What nodes use on the cluster network: http://<name>:5000. */
  endpoint: string;
}

function registryEnabled(config: KsailConfig): boolean {
  return config.spec.localRegistry === "Enabled";
}

export async function createCluster(
  deps: ClusterDeps,
  input: ClusterInput,
  progress: Progress = silentProgress,
): Promise<CreateResult> {
  const options: LifecycleOptions = { ...deps, ...input, progress };
  const { config, provisioner, installGitOps } = options;
  const name = config.metadata.name;
  const spec = registrySpecFromConfig(config, options.registry);
  provisioner.checkTools();

  let registry: RegistryStatus | undefined;
  if (registryEnabled(config)) {
    const engine = await options.engine();
    registry = await progress.step(
      `local registry ${spec.name}`,
      async () =>
        (await ensureRegistry(engine, spec, progress, { cacheDir: options.cacheDir })).status,
      (status) => `local registry ${status.name} on ${status.hostAddress}`,
    );
  }
  const mirrors = await ensureMirrors(options, options.mirrors ?? [], spec.image, progress);

  let cluster: CreateResult["cluster"] = "external";
  if (provisioner.provisions) {
    cluster = await progress.step(
      `${provisioner.distribution} cluster ${name}`,
      async () => {
        if (await provisioner.exists(name)) {
          const nodes = await provisioner.nodes(name);
          if (nodes.length > 0 && nodes.every((n) => n.running)) return "unchanged" as const;
          await provisioner.start(name);
          return "started" as const;
        }
        await withDistributionConfig(options, (path) =>
          provisioner.create(name, path, (line) => progress.info(`  ${line}`)),
        );
        return "created" as const;
      },
      (state) =>
        `${provisioner.distribution} cluster ${name} ${state === "unchanged" ? "already running" : state}`,
    );
  } else {
    await progress.step(
      `use existing cluster (context ${provisioner.context(name) || "current"})`,
      () => provisioner.create(name, ""),
    );
  }

  await wireRegistries(options, registry ? spec : undefined, options.mirrors ?? [], progress);

  let gitOps: CreateResult["gitOps"] = "none";
  if (config.spec.gitOpsEngine === "Flux") {
    if (installGitOps) {
      await progress.step("install Flux", () =>
        installGitOps({ config, kubeContext: provisioner.context(name), progress }),
      );
      gitOps = "installed";
    } else {
      progress.warn(
        "no Flux installer was given; the cluster and registry are ready without Flux.",
      );
      gitOps = "skipped";
    }
  }
  return {
    name,
    distribution: provisioner.distribution,
    context: provisioner.context(name),
    cluster,
    registry,
    mirrors,
    gitOps,
  };
}

/** Creates or starts each mirror container (same image as the local registry). */
async function ensureMirrors(
  options: LifecycleOptions,
  mirrors: readonly MirrorSpec[],
  image: string | undefined,
  progress: Progress,
): Promise<MirrorStatus[]> {
  if (mirrors.length === 0) return [];
  const engine = await options.engine();
  const statuses: MirrorStatus[] = [];
  for (const mirror of mirrors) {
    const result = await progress.step(
      `mirror registry ${mirror.name} for ${mirror.host}`,
      () =>
        ensureMirror(
          engine,
          mirror,
          { ...(image ? { image } : {}), cacheDir: options.cacheDir },
          progress,
        ),
      (r) =>
        `mirror registry ${mirror.name} (${mirror.host} → ${mirror.upstream}) on ${r.status.hostAddress}`,
    );
    statuses.push({
      name: mirror.name,
      host: mirror.host,
      upstream: mirror.upstream,
      hostAddress: result.status.hostAddress,
      endpoint: `http://${result.status.inClusterAddress}`,
    });
  }
  return statuses;
}

/** The mirrors given on the command line plus those already attached to the cluster's network. */
async function clusterMirrors(options: LifecycleOptions): Promise<MirrorSpec[]> {
  const given = options.mirrors ?? [];
  const network = options.provisioner.network(options.config.metadata.name);
  if (!network) return given;
  const attached = await mirrorsOnNetwork(await options.engine(), network);
  return [...given, ...attached.filter((a) => !given.some((g) => g.name === a.name))];
}

/** kind.yaml / k3d.yaml: a regular file of at most 1 MiB (exit 8 otherwise); undefined when absent. */
async function readDistributionConfig(path: string): Promise<string | undefined> {
  try {
    const bytes = await readBoundedFile(path, {
      maxBytes: 1024 * 1024,
      what: "distribution config",
      hint: "spec.distributionConfig (--distribution-config) names the kind.yaml or k3d.yaml of the cluster.",
    });
    return bytes.toString("utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The project's distribution config file, or (when absent) one generated from ksail.yaml. */
async function withDistributionConfig<T>(
  options: LifecycleOptions,
  run: (path: string) => Promise<T>,
): Promise<T> {
  const path = resolve(options.baseDir, options.config.spec.distributionConfig);
  const distribution = options.config.spec.distribution === "Kind" ? "Kind" : "K3d";
  const mirrors = options.mirrors ?? [];
  let content: string;
  const text = await readDistributionConfig(path);
  if (text !== undefined) {
    const merged = addMirrorsToDistributionConfig(distribution, text, mirrors);
    if (merged === undefined) return run(path);
    content = merged;
    options.progress.info(
      `  ${options.config.spec.distributionConfig} with the mirror registries added (the file itself is unchanged)`,
    );
  } else {
    content = distributionConfigFor(options.config, { mirrors });
    options.progress.info(
      `  ${options.config.spec.distributionConfig} not found; using a generated one`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "ksail-cluster-"));
  try {
    const generated = join(dir, distribution === "Kind" ? "kind.yaml" : "k3d.yaml");
    await writeFile(generated, content);
    return await run(generated);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Network attachment, containerd mirrors on Kind nodes, KEP-1755 ConfigMap, for the local
 * registry (when given) and every mirror registry. Idempotent.
 */
export async function wireRegistries(
  options: LifecycleOptions,
  spec: RegistrySpec | undefined,
  mirrors: readonly MirrorSpec[],
  progress: Progress,
): Promise<void> {
  if (!spec && mirrors.length === 0) return;
  const { provisioner, config } = options;
  const name = config.metadata.name;
  const network = provisioner.network(name);
  const engine = await options.engine();
  if (network) {
    for (const container of [...(spec ? [spec.name] : []), ...mirrors.map((m) => m.name)]) {
      await progress.step(`connect ${container} to network ${network}`, () =>
        connectRegistryToNetwork(engine, container, network),
      );
    }
  }
  if (provisioner.distribution === "Kind") {
    const nodes = await provisioner.nodes(name);
    const files: HostsTomlFile[] = [
      ...(spec ? hostsTomlFiles(spec) : []),
      ...mirrors.map(mirrorHostsTomlFile),
    ];
    await progress.step(
      `Write containerd mirrors on ${count(nodes.length, "node")}`,
      () =>
        writeHostsTomlFilesToNodes(
          engine,
          nodes.map((n) => n.name),
          files,
        ),
      (written) =>
        `Wrote containerd hosts.toml on ${count(nodes.length, "node")} (${count(written, "file")})`,
    );
  }
  if (!spec) return;
  const addresses = localRegistryAddresses({
    ...config,
    spec: {
      ...config.spec,
      options: {
        ...config.spec.options,
        localRegistry: {
          ...config.spec.options.localRegistry,
          name: spec.name,
          hostPort: spec.hostPort,
        },
      },
    },
  });
  await progress.step("ConfigMap kube-public/local-registry-hosting", () =>
    applyManifest(localRegistryHostingConfigMap(addresses), provisioner.context(name), options.env),
  );
}

/** The local registry's wiring alone (see wireRegistries). */
export async function wireRegistry(
  options: LifecycleOptions,
  spec: RegistrySpec,
  progress: Progress,
): Promise<void> {
  await wireRegistries(options, spec, [], progress);
}

/** `kubectl apply -f -` against a context (the Kubernetes client arrives with the Flux issue). */
export async function applyManifest(
  yaml: string,
  context: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const args = [...(context ? ["--context", context] : []), "apply", "-f", "-"];
  await runToolOrFail(
    "kubectl",
    args,
    { env, input: yaml },
    "applying kube-public/local-registry-hosting",
  );
}

export interface DeleteOptions {
  deleteVolumes?: boolean;
}

export interface DeleteResult {
  name: string;
  cluster: "deleted" | "absent" | "external";
  registry: "removed" | "kept-in-use" | "absent" | "disabled";
  volumeRemoved: boolean;
  /** Other clusters still using the registry when it was kept. */
  users: string[];
  /** Mirror registries of this cluster (given, or attached to its network). */
  mirrors: Array<{
    name: string;
    state: "removed" | "kept-in-use" | "absent";
    volumeRemoved: boolean;
    users: string[];
  }>;
}

/**
 * Deletes the cluster, then the registry container unless another cluster still uses it;
 * the volume only with deleteVolumes (FR-015).
 */
export async function deleteCluster(
  deps: ClusterDeps,
  input: ClusterInput & DeleteOptions,
  progress: Progress = silentProgress,
): Promise<DeleteResult> {
  const options: LifecycleOptions = { ...deps, ...input, progress };
  const deleteOptions: DeleteOptions = input;
  const { config, provisioner } = options;
  const name = config.metadata.name;
  const spec = registrySpecFromConfig(config, options.registry);
  const network = provisioner.network(name);

  const otherClusters = provisioner.provisions
    ? (await provisioner.list()).filter((n) => n !== name)
    : [];
  // Found before the cluster (and a k3d network) goes away.
  const mirrors = await clusterMirrors(options);
  let cluster: DeleteResult["cluster"] = "external";
  if (provisioner.provisions) {
    cluster = await progress.step(
      `delete ${provisioner.distribution} cluster ${name}`,
      async () => {
        if (!(await provisioner.exists(name))) return "absent" as const;
        if (network && !sharedNetwork(provisioner, otherClusters)) {
          const containers = [
            ...(registryEnabled(config) ? [spec.name] : []),
            ...mirrors.map((m) => m.name),
          ];
          for (const container of containers) {
            await disconnectRegistryFromNetwork(await options.engine(), container, network).catch(
              () => false,
            );
          }
        }
        await provisioner.delete(name, (line) => progress.info(`  ${line}`));
        return "deleted" as const;
      },
    );
  }

  const removeUnused = async (registry: RegistrySpec) => {
    const engine = await options.engine();
    const status = await registryStatus(engine, registry);
    const users = registryUsers(status, provisioner, name, otherClusters);
    if (users.length > 0) {
      progress.info(`  keeping registry ${registry.name}: still used by ${users.join(", ")}`);
      return { state: "kept-in-use" as const, volumeRemoved: false, users };
    }
    const removed = await deleteRegistry(engine, registry, progress, {
      deleteVolume: deleteOptions.deleteVolumes === true,
    });
    return {
      state: removed.containerRemoved ? ("removed" as const) : ("absent" as const),
      volumeRemoved: removed.volumeRemoved,
      users: [],
    };
  };
  const mirrorResults: DeleteResult["mirrors"] = [];
  for (const mirror of mirrors) {
    // The port does not matter for removal.
    mirrorResults.push({
      name: mirror.name,
      ...(await removeUnused(mirrorRegistrySpec(mirror, 0))),
    });
  }
  if (!registryEnabled(config))
    return {
      name,
      cluster,
      registry: "disabled",
      volumeRemoved: false,
      users: [],
      mirrors: mirrorResults,
    };
  const local = await removeUnused(spec);
  return {
    name,
    cluster,
    registry: local.state,
    volumeRemoved: local.volumeRemoved,
    users: local.users,
    mirrors: mirrorResults,
  };
}

/** Kind clusters share one network: leave the registry on it while another kind cluster exists. */
function sharedNetwork(provisioner: Provisioner, otherClusters: string[]): boolean {
  return provisioner.distribution === "Kind" && otherClusters.length > 0;
}

function registryUsers(
  status: RegistryStatus,
  provisioner: Provisioner,
  name: string,
  otherClusters: string[],
): string[] {
  if (!status.exists) return [];
  const ownNetwork = provisioner.network(name);
  const users = status.networks
    .filter((n) => n !== "bridge" && n !== ownNetwork)
    .map((n) => (n.startsWith("k3d-") ? `k3d cluster ${n.slice(4)}` : `network ${n}`));
  if (provisioner.distribution === "Kind" && status.networks.includes(ownNetwork ?? "")) {
    users.push(...otherClusters.map((c) => `kind cluster ${c}`));
  }
  return users;
}

export interface StartStopResult {
  name: string;
  nodes: ClusterNode[];
  registry: RegistryStatus | undefined;
}

/** Stops the nodes and then the registry container; data stays in the volume (FR-014). */
export async function stopCluster(
  deps: ClusterDeps,
  input: ClusterInput,
  progress: Progress = silentProgress,
): Promise<StartStopResult> {
  const options: LifecycleOptions = { ...deps, ...input, progress };
  const { config, provisioner } = options;
  const name = config.metadata.name;
  await assertClusterExists(provisioner, name);
  await progress.step(`stop ${provisioner.distribution} cluster ${name}`, () =>
    provisioner.stop(name),
  );
  let registry: RegistryStatus | undefined;
  if (registryEnabled(config)) {
    const engine = await options.engine();
    const spec = registrySpecFromConfig(config, options.registry);
    await stopRegistry(engine, spec.name, progress);
    registry = await registryStatus(engine, spec);
  }
  for (const mirror of await clusterMirrors(options)) {
    await stopRegistry(await options.engine(), mirror.name, progress);
  }
  return { name, nodes: await provisioner.nodes(name), registry };
}

/** Starts the registry, then the nodes, then restores the wiring (network, mirrors, ConfigMap). */
export async function startCluster(
  deps: ClusterDeps,
  input: ClusterInput,
  progress: Progress = silentProgress,
): Promise<StartStopResult> {
  const options: LifecycleOptions = { ...deps, ...input, progress };
  const { config, provisioner } = options;
  const name = config.metadata.name;
  await assertClusterExists(provisioner, name);
  let registry: RegistryStatus | undefined;
  const spec = registrySpecFromConfig(config, options.registry);
  if (registryEnabled(config)) {
    const engine = await options.engine();
    registry = (
      await progress.step(`local registry ${spec.name}`, () =>
        ensureRegistry(engine, spec, progress, { cacheDir: options.cacheDir }),
      )
    ).status;
  }
  const mirrors = await clusterMirrors(options);
  // Existing mirrors keep their image and port.
  await ensureMirrors(options, mirrors, undefined, progress);
  await progress.step(`start ${provisioner.distribution} cluster ${name}`, () =>
    provisioner.start(name),
  );
  // Node containers run again at once; the API server inside takes a few seconds more, and the
  // wiring below applies a ConfigMap through it.
  if (provisioner.provisions) {
    const context = provisioner.context(name);
    await progress.step(`API server of ${context} ready`, () =>
      waitForApiServer(context, options.env, API_READY_TIMEOUT_MS),
    );
  }
  await wireRegistries(options, registry ? spec : undefined, mirrors, progress);
  return { name, nodes: await provisioner.nodes(name), registry };
}

const API_READY_TIMEOUT_MS = 180_000;

/** Polls `kubectl get --raw /readyz` once a second until it answers ok, or fails after `timeoutMs`. */
export async function waitForApiServer(
  context: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const args = [...(context ? ["--context", context] : []), "get", "--raw", "/readyz"];
  for (;;) {
    const result = await runTool("kubectl", args, { env });
    if (result.code === 0) return;
    if (Date.now() >= deadline) {
      throw new KsailError(
        "timeout",
        `the API server of ${context} was not ready ${Math.round(timeoutMs / 1000)} s after the cluster started`,
        {
          hint: `Look at the node containers (docker ps -a, docker logs <node>) and retry \`ksail cluster start\`.`,
          details: result.stderr
            .split("\n")
            .filter((line) => line.trim() !== "")
            .slice(-4),
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function assertClusterExists(provisioner: Provisioner, name: string): Promise<void> {
  if (provisioner.provisions && !(await provisioner.exists(name))) {
    throw new KsailError(
      "not-found",
      `there is no ${provisioner.distribution} cluster named ${name}`,
      {
        hint: "Create it with `ksail up`.",
      },
    );
  }
}
