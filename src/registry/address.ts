/**
 * The local registry's addresses, seen from each side. One place decides them so that
 * pushes, node mirrors and Flux objects always agree.
 */
import type { KsailConfig } from "../config/schema.js";

/** The port the registry listens on inside its container. */
export const REGISTRY_CONTAINER_PORT = 5000;

export interface LocalRegistryAddresses {
  /** Where the workstation pushes: 127.0.0.1:<hostPort> (never 0.0.0.0). */
  host: string;
  /** What images on nodes are named with, mirrored by containerd: localhost:<hostPort>. */
  hostFromContainerRuntime: string;
  /** What pods and Flux use on the cluster network: <container-name>:5000. */
  hostFromClusterNetwork: string;
}

export function localRegistryAddresses(config: KsailConfig): LocalRegistryAddresses {
  const registry = config.spec.options.localRegistry;
  const addresses = registryAddresses(registry);
  // An explicit clusterAddress wins: existing clusters and the process lab reach it elsewhere.
  return registry.clusterAddress
    ? { ...addresses, hostFromClusterNetwork: registry.clusterAddress }
    : addresses;
}

/** The same addresses for a registry given by container name and host port (e.g. from flags). */
export function registryAddresses({
  name,
  hostPort,
}: {
  name: string;
  hostPort: number;
}): LocalRegistryAddresses {
  return {
    host: `127.0.0.1:${hostPort}`,
    hostFromContainerRuntime: `localhost:${hostPort}`,
    hostFromClusterNetwork: inClusterRegistryAddress({ name }),
  };
}

/**
 * The address pods, Flux objects (`oci://<this>/<repo>`, `insecure: true`) and node mirrors use
 * to reach the registry on the cluster's Docker network: `<container-name>:5000`.
 */
export function inClusterRegistryAddress(registry: { name: string }): string {
  return `${registry.name}:${REGISTRY_CONTAINER_PORT}`;
}
