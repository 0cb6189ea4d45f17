/**
 * The Kind and K3d cluster configs `ksail init` writes. With the local registry enabled,
 * nodes' containerd is pointed at it: Kind through config_path + hosts.toml files,
 * K3d through its registries.yaml mirrors.
 */
import { stringify } from "yaml";
import type { KsailConfig } from "../config/schema.js";
import { registriesYaml } from "./wiring.js";

export function kindConfig(config: KsailConfig): string {
  const cluster: Record<string, unknown> = {
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    name: config.metadata.name,
    nodes: [{ role: "control-plane" }],
  };
  if (config.spec.localRegistry === "Enabled") {
    cluster.containerdConfigPatches = [
      '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"',
    ];
  }
  return stringify(cluster);
}

export function k3dConfig(config: KsailConfig): string {
  const cluster: Record<string, unknown> = {
    apiVersion: "k3d.io/v1alpha5",
    kind: "Simple",
    metadata: { name: config.metadata.name },
    servers: 1,
    agents: 0,
  };
  if (config.spec.localRegistry === "Enabled") {
    cluster.registries = { config: registriesYaml(config.spec.options.localRegistry) };
  }
  return stringify(cluster);
}

export function distributionConfigFor(config: KsailConfig): string {
  return config.spec.distribution === "Kind" ? kindConfig(config) : k3dConfig(config);
}
