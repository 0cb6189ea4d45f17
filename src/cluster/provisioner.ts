/**
 * One interface for the clusters ksail runs on: Kind and K3d (driving their CLIs, nodes seen
 * through the container engine) and External (an existing kubeconfig context; provisions nothing).
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, resolve } from "node:path";
import { parse } from "yaml";
import type { Engine } from "../engine/docker.js";
import { KsailError } from "../errors.js";
import { runToolOrFail, requireTool } from "./tools.js";

export type DistributionName = "Kind" | "K3d" | "External";

export interface ClusterNode {
  name: string;
  running: boolean;
}

export interface Provisioner {
  readonly distribution: DistributionName;
  /** Whether ksail creates and deletes this cluster (false for External). */
  readonly provisions: boolean;
  /** The Docker network the nodes are on (kind / k3d-<name>), undefined for External. */
  network(name: string): string | undefined;
  /** The kubeconfig context the distribution writes. */
  context(name: string): string;
  /** Fails with the install hint when the CLI is missing. */
  checkTools(): void;
  list(): Promise<string[]>;
  exists(name: string): Promise<boolean>;
  create(name: string, configPath: string, onLine?: (line: string) => void): Promise<void>;
  delete(name: string, onLine?: (line: string) => void): Promise<void>;
  start(name: string): Promise<void>;
  stop(name: string): Promise<void>;
  nodes(name: string): Promise<ClusterNode[]>;
}

export interface ProvisionerOptions {
  /** The environment kind and k3d run with (they read PATH, DOCKER_HOST, KUBECONFIG themselves). */
  env: NodeJS.ProcessEnv;
  /** Connects to the container engine when a provisioner needs it (node lists, start/stop). */
  engine: () => Promise<Engine>;
  /** The Docker network of Kind's nodes (config/load.ts resolveRuntime; default "kind"). */
  kindNetwork?: string;
}

async function nodesByLabel(engine: Engine, label: string, value: string): Promise<ClusterNode[]> {
  const containers = await engine.call("list cluster nodes", () =>
    engine.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${label}=${value}`] }),
    }),
  );
  return containers
    .map((c) => ({ name: (c.Names[0] ?? c.Id).replace(/^\//, ""), running: c.State === "running" }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export class KindProvisioner implements Provisioner {
  readonly distribution = "Kind" as const;
  readonly provisions = true;
  constructor(private readonly options: ProvisionerOptions) {}

  network(): string {
    return this.options.kindNetwork ?? "kind";
  }
  context(name: string): string {
    return `kind-${name}`;
  }
  checkTools(): void {
    requireTool("kind", this.options.env);
  }
  async list(): Promise<string[]> {
    const result = await runToolOrFail(
      "kind",
      ["get", "clusters"],
      { env: this.options.env },
      "listing kind clusters",
    );
    return result.stdout
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
  }
  async exists(name: string): Promise<boolean> {
    return (await this.list()).includes(name);
  }
  async create(name: string, configPath: string, onLine?: (line: string) => void): Promise<void> {
    await runToolOrFail(
      "kind",
      ["create", "cluster", "--name", name, "--config", configPath, "--wait", "60s"],
      { env: this.options.env, ...(onLine ? { onLine } : {}) },
      `creating kind cluster ${name}`,
    );
  }
  async delete(name: string, onLine?: (line: string) => void): Promise<void> {
    await runToolOrFail(
      "kind",
      ["delete", "cluster", "--name", name],
      { env: this.options.env, ...(onLine ? { onLine } : {}) },
      `deleting kind cluster ${name}`,
    );
  }
  async nodes(name: string): Promise<ClusterNode[]> {
    return nodesByLabel(await this.options.engine(), "io.x-k8s.kind.cluster", name);
  }
  /** kind has no start/stop: its nodes are containers, started and stopped through the engine. */
  async start(name: string): Promise<void> {
    const engine = await this.options.engine();
    for (const node of await this.nodes(name)) {
      if (!node.running)
        await engine.call(`start node ${node.name}`, () =>
          engine.docker.getContainer(node.name).start(),
        );
    }
  }
  async stop(name: string): Promise<void> {
    const engine = await this.options.engine();
    for (const node of await this.nodes(name)) {
      if (node.running)
        await engine.call(`stop node ${node.name}`, () =>
          engine.docker.getContainer(node.name).stop({ t: 30 }),
        );
    }
  }
}

export class K3dProvisioner implements Provisioner {
  readonly distribution = "K3d" as const;
  readonly provisions = true;
  constructor(private readonly options: ProvisionerOptions) {}

  network(name: string): string {
    return `k3d-${name}`;
  }
  context(name: string): string {
    return `k3d-${name}`;
  }
  checkTools(): void {
    requireTool("k3d", this.options.env);
  }
  async list(): Promise<string[]> {
    const result = await runToolOrFail(
      "k3d",
      ["cluster", "list", "--output", "json"],
      { env: this.options.env },
      "listing k3d clusters",
    );
    const parsed = JSON.parse(result.stdout.trim() || "[]") as Array<{ name?: string }>;
    return parsed.map((c) => c.name).filter((n): n is string => typeof n === "string");
  }
  async exists(name: string): Promise<boolean> {
    return (await this.list()).includes(name);
  }
  async create(name: string, configPath: string, onLine?: (line: string) => void): Promise<void> {
    await runToolOrFail(
      "k3d",
      ["cluster", "create", name, "--config", configPath, "--wait"],
      { env: this.options.env, ...(onLine ? { onLine } : {}) },
      `creating k3d cluster ${name}`,
    );
  }
  async delete(name: string, onLine?: (line: string) => void): Promise<void> {
    await runToolOrFail(
      "k3d",
      ["cluster", "delete", name],
      { env: this.options.env, ...(onLine ? { onLine } : {}) },
      `deleting k3d cluster ${name}`,
    );
  }
  async start(name: string): Promise<void> {
    await runToolOrFail(
      "k3d",
      ["cluster", "start", name, "--wait"],
      { env: this.options.env },
      `starting k3d cluster ${name}`,
    );
  }
  async stop(name: string): Promise<void> {
    await runToolOrFail(
      "k3d",
      ["cluster", "stop", name],
      { env: this.options.env },
      `stopping k3d cluster ${name}`,
    );
  }
  async nodes(name: string): Promise<ClusterNode[]> {
    return nodesByLabel(await this.options.engine(), "k3d.cluster", name);
  }
}

/** An existing cluster reached through a kubeconfig context: nothing is created or deleted. */
export class ExternalProvisioner implements Provisioner {
  readonly distribution = "External" as const;
  readonly provisions = false;
  constructor(
    private readonly options: ProvisionerOptions & {
      /** The kubeconfig files whose contexts are the clusters (kubeconfigFiles below). */
      files: readonly string[];
      contextName?: string;
    },
  ) {}

  network(): undefined {
    return undefined;
  }
  context(): string {
    return this.options.contextName ?? "";
  }
  checkTools(): void {}
  async list(): Promise<string[]> {
    return (await this.contexts()).contexts;
  }
  async exists(): Promise<boolean> {
    const { contexts, current } = await this.contexts();
    const wanted = this.options.contextName ?? current;
    return wanted !== undefined && contexts.includes(wanted);
  }
  async create(): Promise<void> {
    if (!(await this.exists())) {
      throw new KsailError(
        "not-found",
        `kubeconfig context ${this.options.contextName ?? "(current)"} not found in ${this.options.files.join(delimiter)}`,
        {
          hint: "An External cluster must already exist: set spec.connection.context (or --context) to one of `kubectl config get-contexts`.",
        },
      );
    }
  }
  async delete(): Promise<void> {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async nodes(): Promise<ClusterNode[]> {
    return [];
  }

  private async contexts(): Promise<{ contexts: string[]; current: string | undefined }> {
    const names: string[] = [];
    let current: string | undefined;
    for (const file of this.options.files) {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        continue;
      }
      const doc = (parse(text) ?? {}) as {
        contexts?: Array<{ name?: string }>;
        "current-context"?: string;
      };
      for (const c of doc.contexts ?? []) if (c.name && !names.includes(c.name)) names.push(c.name);
      current ??= doc["current-context"] || undefined;
    }
    return { contexts: names, current };
  }
}

/**
 * The kubeconfig files to read, as ksail's Kubernetes client (k8s/client.ts) and kubectl read
 * them: the configured path (--kubeconfig, spec.connection.kubeconfig), else $KUBECONFIG's files
 * (resolved by config/load.ts), else ~/.kube/config.
 */
export function kubeconfigFiles(
  configured: string | undefined,
  fromEnvironment: readonly string[],
): string[] {
  const list =
    configured !== undefined
      ? [configured]
      : fromEnvironment.length > 0
        ? fromEnvironment
        : ["~/.kube/config"];
  return list.map((path) =>
    path.startsWith("~/") ? resolve(homedir(), path.slice(2)) : resolve(path),
  );
}

/** The provisioner for a distribution; External reaches an existing kubeconfig context. */
export function createProvisioner(
  distribution: DistributionName,
  options: ProvisionerOptions & {
    connection?: { kubeconfig?: string | undefined; context?: string | undefined };
    /** $KUBECONFIG's files (config/load.ts resolveRuntime), read when no kubeconfig is configured. */
    kubeconfigFiles?: readonly string[];
  },
): Provisioner {
  const { env, engine, kindNetwork, connection = {} } = options;
  if (distribution === "Kind") {
    return new KindProvisioner({ env, engine, ...(kindNetwork ? { kindNetwork } : {}) });
  }
  if (distribution === "K3d") return new K3dProvisioner({ env, engine });
  return new ExternalProvisioner({
    env,
    engine,
    files: kubeconfigFiles(connection.kubeconfig, options.kubeconfigFiles ?? []),
    ...(connection.context === undefined ? {} : { contextName: connection.context }),
  });
}
