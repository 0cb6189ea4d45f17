/** `ksail cluster list` and `ksail cluster info`: which clusters exist, and the project's one. */
import type { Engine } from "../engine/docker.js";
import {
  registrySpecFromConfig,
  registryStatus,
  type RegistryStatus,
} from "../registry/container.js";
import type { ClusterDeps, ClusterInput } from "./lifecycle.js";
import { createProvisioner, type ClusterNode } from "./provisioner.js";
import { KsailError } from "../errors.js";
import { silentProgress, type Progress } from "../progress.js";
import { findOnPath, INSTALL_HINTS } from "./tools.js";

export interface ClusterListing {
  name: string;
  distribution: "Kind" | "K3d";
  context: string;
}

/**
 * Kind and K3d clusters, asking whichever of the two CLIs is installed. With neither installed
 * there is nothing to ask: "not found", naming both and how to install them — not "no clusters".
 */
export async function listClusters(
  deps: { env: NodeJS.ProcessEnv; engine: () => Promise<Engine> },
  _input: Record<string, never> = {},
  progress: Progress = silentProgress,
): Promise<ClusterListing[]> {
  const distributions = (["Kind", "K3d"] as const).filter((d) =>
    findOnPath(d.toLowerCase(), deps.env),
  );
  if (distributions.length === 0) {
    throw new KsailError(
      "not-found",
      "neither kind nor k3d is installed (not found on PATH), so there are no clusters to list",
      { hint: `${INSTALL_HINTS.kind} ${INSTALL_HINTS.k3d}` },
    );
  }
  if (distributions.length === 1) {
    const other = distributions[0] === "Kind" ? "k3d" : "kind";
    progress.info(
      `${other} is not installed (not found on PATH): listing ${distributions[0]} clusters only`,
    );
  }
  const rows: ClusterListing[] = [];
  for (const distribution of distributions) {
    const provisioner = createProvisioner(distribution, deps);
    for (const name of await provisioner.list())
      rows.push({ name, distribution, context: provisioner.context(name) });
  }
  return rows;
}

export interface ClusterInfo {
  name: string;
  distribution: string;
  exists: boolean;
  context: string;
  network: string | null;
  nodes: ClusterNode[];
  registry: RegistryStatus | null;
}

/** The project's cluster: distribution, context, nodes and its local registry. */
export async function clusterInfo(deps: ClusterDeps, input: ClusterInput): Promise<ClusterInfo> {
  const { provisioner } = deps;
  const { config } = input;
  const name = config.metadata.name;
  const exists = await provisioner.exists(name);
  const nodes = exists ? await provisioner.nodes(name) : [];
  const registry =
    config.spec.localRegistry === "Enabled"
      ? await registryStatus(await deps.engine(), registrySpecFromConfig(config))
      : undefined;
  return {
    name,
    distribution: provisioner.distribution,
    exists,
    context: provisioner.context(name),
    network: provisioner.network(name) ?? null,
    nodes,
    registry: registry ?? null,
  };
}
