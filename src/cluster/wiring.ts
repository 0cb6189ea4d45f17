/**
 * Cluster ⇄ local registry wiring (FR-004): what each node's containerd needs so that an image
 * named localhost:<hostPort>/x (or <registry-name>:5000/x) is pulled from the registry container
 * on the cluster's Docker network, and the KEP-1755 ConfigMap that tells tools where it is.
 */
import { stringify } from "yaml";
import type { Engine } from "../engine/docker.js";
import { KsailError } from "../errors.js";
import { registryAddresses, type LocalRegistryAddresses } from "../registry/address.js";
import { mirrorEndpoint, type MirrorSpec } from "../registry/mirror.js";

export interface RegistryRef {
  name: string;
  hostPort: number;
}

/** Where Kind nodes look for per-registry config (set by the containerdConfigPatches entry). */
export const CERTS_DIR = "/etc/containerd/certs.d";

export interface HostsTomlFile {
  /** The registry host containerd sees in image names, e.g. localhost:5000. */
  host: string;
  /** /etc/containerd/certs.d/<host>/hosts.toml */
  path: string;
  content: string;
}

/** One hosts.toml per name the nodes may use for the registry, all pointing at http://<name>:5000. */
export function hostsTomlFiles(registry: RegistryRef): HostsTomlFile[] {
  const addresses = registryAddresses(registry);
  const endpoint = `http://${addresses.hostFromClusterNetwork}`;
  const content = `server = "${endpoint}"

[host."${endpoint}"]
  capabilities = ["pull", "resolve"]
`;
  return [addresses.hostFromContainerRuntime, addresses.hostFromClusterNetwork].map((host) => ({
    host,
    path: `${CERTS_DIR}/${host}/hosts.toml`,
    content,
  }));
}

/**
 * A mirror's hosts.toml under certs.d/<upstream host>/: pulls go to the mirror container on the
 * cluster network first, and to the upstream itself (`server`) when the mirror fails.
 */
export function mirrorHostsTomlFile(mirror: MirrorSpec): HostsTomlFile {
  const endpoint = mirrorEndpoint(mirror);
  return {
    host: mirror.host,
    path: `${CERTS_DIR}/${mirror.host}/hosts.toml`,
    content: `server = "${mirror.upstream}"

[host."${endpoint}"]
  capabilities = ["pull", "resolve"]
`,
  };
}

/**
 * K3s's registries.yaml: the local registry's two names mirrored to http://<name>:5000, and
 * each mirror's upstream host to http://<mirror>:5000 (k3s falls back to the upstream itself).
 */
export function registriesYaml(
  registry: RegistryRef | undefined,
  mirrors: readonly MirrorSpec[] = [],
): string {
  return stringify({ mirrors: registriesYamlMirrors(registry, mirrors) });
}

export function registriesYamlMirrors(
  registry: RegistryRef | undefined,
  mirrors: readonly MirrorSpec[] = [],
): Record<string, { endpoint: string[] }> {
  // Separate arrays: one shared array would be written as a YAML anchor and alias.
  const entries: Record<string, { endpoint: string[] }> = {};
  if (registry) {
    const addresses = registryAddresses(registry);
    const endpoint = () => [`http://${addresses.hostFromClusterNetwork}`];
    entries[addresses.hostFromContainerRuntime] = { endpoint: endpoint() };
    entries[addresses.hostFromClusterNetwork] = { endpoint: endpoint() };
  }
  for (const mirror of mirrors) entries[mirror.host] = { endpoint: [mirrorEndpoint(mirror)] };
  return entries;
}

export const LOCAL_REGISTRY_HOSTING_HELP =
  "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry";

/** KEP-1755: kube-public/local-registry-hosting, data key localRegistryHosting.v1. */
export function localRegistryHostingConfigMap(addresses: LocalRegistryAddresses): string {
  return stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "local-registry-hosting", namespace: "kube-public" },
    data: {
      "localRegistryHosting.v1": stringify({
        host: addresses.host,
        hostFromContainerRuntime: addresses.hostFromContainerRuntime,
        hostFromClusterNetwork: addresses.hostFromClusterNetwork,
        help: LOCAL_REGISTRY_HOSTING_HELP,
      }),
    },
  });
}

/** The argv that writes one hosts.toml inside a node (content passed as an argument, no quoting). */
export function writeHostsTomlCommand(file: HostsTomlFile): string[] {
  return [
    "sh",
    "-c",
    'mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"',
    "ksail-write-hosts-toml",
    file.path,
    file.content,
  ];
}

/** Writes every hosts.toml into every node with `docker exec`. Idempotent. */
export async function writeHostsTomlToNodes(
  engine: Engine,
  nodes: string[],
  registry: RegistryRef,
): Promise<number> {
  return writeHostsTomlFilesToNodes(engine, nodes, hostsTomlFiles(registry));
}

/** Writes the given hosts.toml files into every node with `docker exec`. Idempotent. */
export async function writeHostsTomlFilesToNodes(
  engine: Engine,
  nodes: string[],
  files: readonly HostsTomlFile[],
): Promise<number> {
  for (const node of nodes) {
    for (const file of files) {
      const result = await engine.exec(node, writeHostsTomlCommand(file));
      if (result.exitCode !== 0) {
        throw new KsailError(
          "failed",
          `could not write ${file.path} on node ${node} (exit ${result.exitCode})`,
          {
            details: `${result.stderr}${result.stdout}`.split("\n").filter(Boolean).slice(-5),
          },
        );
      }
    }
  }
  return nodes.length * files.length;
}
