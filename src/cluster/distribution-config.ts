/**
 * The Kind and K3d cluster configs `ksail init` writes. With the local registry enabled (or
 * mirror registries given), nodes' containerd is pointed at them: Kind through config_path +
 * hosts.toml files, K3d through its registries.yaml mirrors.
 */
import { parse, stringify } from "yaml";
import type { KsailConfig } from "../config/schema.js";
import type { MirrorSpec } from "../registry/mirror.js";
import { CERTS_DIR, registriesYaml, registriesYamlMirrors } from "./wiring.js";

export interface DistributionConfigOptions {
  /** Mirror registries (--mirror-registry) to wire into the nodes. */
  mirrors?: readonly MirrorSpec[];
}

/** Points the CRI plugin's registry config at certs.d, where ksail writes the hosts.toml files. */
export const KIND_CONFIG_PATH_PATCH = `[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${CERTS_DIR}"`;

function localRegistry(config: KsailConfig) {
  return config.spec.localRegistry === "Enabled" ? config.spec.options.localRegistry : undefined;
}

export function kindConfig(config: KsailConfig, options: DistributionConfigOptions = {}): string {
  const cluster: Record<string, unknown> = {
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    name: config.metadata.name,
    nodes: [{ role: "control-plane" }],
  };
  if (localRegistry(config) || (options.mirrors?.length ?? 0) > 0) {
    cluster.containerdConfigPatches = [KIND_CONFIG_PATH_PATCH];
  }
  return stringify(cluster);
}

export function k3dConfig(config: KsailConfig, options: DistributionConfigOptions = {}): string {
  const cluster: Record<string, unknown> = {
    apiVersion: "k3d.io/v1alpha5",
    kind: "Simple",
    metadata: { name: config.metadata.name },
    servers: 1,
    agents: 0,
  };
  const registry = localRegistry(config);
  if (registry || (options.mirrors?.length ?? 0) > 0) {
    cluster.registries = { config: registriesYaml(registry, options.mirrors) };
  }
  return stringify(cluster);
}

export function distributionConfigFor(
  config: KsailConfig,
  options: DistributionConfigOptions = {},
): string {
  return config.spec.distribution === "Kind"
    ? kindConfig(config, options)
    : k3dConfig(config, options);
}

/**
 * The project's own kind.yaml / k3d.yaml with the mirrors added, or undefined when it already
 * has them: Kind gets the config_path patch if no patch sets config_path; K3d gets a
 * registries.config mirror entry for each mirror host it does not mention yet.
 */
export function addMirrorsToDistributionConfig(
  distribution: "Kind" | "K3d",
  text: string,
  mirrors: readonly MirrorSpec[],
): string | undefined {
  if (mirrors.length === 0) return undefined;
  const doc = (parse(text) ?? {}) as Record<string, unknown>;
  if (distribution === "Kind") {
    const patches = Array.isArray(doc.containerdConfigPatches)
      ? (doc.containerdConfigPatches as unknown[])
      : [];
    if (patches.some((p) => typeof p === "string" && p.includes("config_path"))) return undefined;
    doc.containerdConfigPatches = [...patches, KIND_CONFIG_PATH_PATCH];
    return stringify(doc);
  }
  const registries = (doc.registries ?? {}) as Record<string, unknown>;
  const existing = (
    typeof registries.config === "string" ? (parse(registries.config) ?? {}) : {}
  ) as Record<string, unknown>;
  const existingMirrors = (existing.mirrors ?? {}) as Record<string, unknown>;
  const missing = mirrors.filter((m) => !(m.host in existingMirrors));
  if (missing.length === 0) return undefined;
  existing.mirrors = { ...existingMirrors, ...registriesYamlMirrors(undefined, missing) };
  doc.registries = { ...registries, config: stringify(existing) };
  return stringify(doc);
}
