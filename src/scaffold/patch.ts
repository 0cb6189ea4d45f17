/**
 * `init --force` on an existing project: ksail's own wiring patched into the user's ksail.yaml,
 * kind.yaml or k3d.yaml with the `yaml` Document API, so comments, ordering and every other
 * field (extra nodes, port mappings, feature gates…) stay as the user wrote them.
 */
import { isDeepStrictEqual } from "node:util";
import { isMap, isScalar, parse, parseDocument, Scalar, stringify, type Document } from "yaml";
import { KIND_CONFIG_PATH_PATCH } from "../cluster/distribution-config.js";
import { registriesYamlMirrors } from "../cluster/wiring.js";
import type { KsailConfig } from "../config/schema.js";
import { REGISTRY_CONTAINER_PORT } from "../registry/address.js";
import { withSchemaLine } from "./schema-file.js";

export interface Patched {
  text: string;
  /** What changed, one line each ("spec.distribution: Kind → K3d"); empty when nothing did. */
  changes: string[];
}

/** The file could not be patched (not YAML, not a mapping): init replaces it and keeps a backup. */
export class Unpatchable extends Error {}

function load(text: string): Document {
  const doc: Document = parseDocument(text);
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!.message.split("\n")[0]!.replace(/:$/, "");
    throw new Unpatchable(`not valid YAML: ${first}`);
  }
  if (doc.contents === null) doc.contents = doc.createNode({});
  if (!isMap(doc.contents)) throw new Unpatchable("the file is not a YAML mapping");
  return doc;
}

function show(value: unknown): string {
  if (value === undefined) return "(unset)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Sets `path` to `value` unless it already holds it; records the change. */
function setLeaf(doc: Document, path: string[], value: unknown, changes: string[]): void {
  const node = doc.getIn(path, true);
  const current = isScalar(node) ? node.value : (node as { toJSON?: () => unknown })?.toJSON?.();
  if (isDeepStrictEqual(current, value)) return;
  doc.setIn(path, value);
  changes.push(`${path.join(".")}: ${show(current)} → ${show(value)}`);
}

/** Every leaf of a plain object (arrays are leaves), with its path. */
function leaves(value: unknown, path: string[] = []): [string[], unknown][] {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([key, v]) => leaves(v, [...path, key]));
  }
  return [[path, value]];
}

/** The `# yaml-language-server: $schema=…` line editors read, set to `schemaLine`. */
function withSchemaComment(text: string, schemaLine: string, changes: string[]): string {
  const patched = withSchemaLine(text, schemaLine);
  if (patched.change) changes.push(patched.change);
  return patched.text;
}

/**
 * ksail.yaml: every value ksail writes (`written`, the document a fresh init would write) set
 * where the file differs; other fields and all comments stay.
 */
export function patchKsailYaml(text: string, written: object, schemaLine: string): Patched {
  const doc = load(text);
  const changes: string[] = [];
  for (const [path, value] of leaves(written)) setLeaf(doc, path, value, changes);
  return { text: withSchemaComment(doc.toString(), schemaLine, changes), changes };
}

function localRegistry(config: KsailConfig) {
  return config.spec.localRegistry === "Enabled" ? config.spec.options.localRegistry : undefined;
}

/** kind.yaml: the cluster name, and containerd's config_path patch when there is a registry. */
export function patchKindConfig(text: string, config: KsailConfig): Patched {
  const doc = load(text);
  const changes: string[] = [];
  if (!doc.has("kind")) setLeaf(doc, ["kind"], "Cluster", changes);
  if (!doc.has("apiVersion")) setLeaf(doc, ["apiVersion"], "kind.x-k8s.io/v1alpha4", changes);
  setLeaf(doc, ["name"], config.metadata.name, changes);
  if (localRegistry(config)) {
    const patches = doc.get("containerdConfigPatches", true);
    const list = (patches as { toJSON?: () => unknown } | undefined)?.toJSON?.();
    const has =
      Array.isArray(list) && list.some((p) => typeof p === "string" && p.includes("config_path"));
    if (!has) {
      const block = new Scalar(KIND_CONFIG_PATH_PATCH);
      block.type = Scalar.BLOCK_LITERAL;
      if (Array.isArray(list)) doc.addIn(["containerdConfigPatches"], block);
      else doc.set("containerdConfigPatches", doc.createNode([block]));
      changes.push("containerdConfigPatches: + config_path (registry mirrors)");
    }
  }
  return { text: doc.toString(), changes };
}

/**
 * k3d.yaml: the cluster name, and registries.config mirrors for the local registry's names —
 * localhost:<port> and <name>:5000 — replacing entries for an old port of the same registry.
 */
export function patchK3dConfig(text: string, config: KsailConfig): Patched {
  const doc = load(text);
  const changes: string[] = [];
  setLeaf(doc, ["metadata", "name"], config.metadata.name, changes);
  const registry = localRegistry(config);
  if (registry) {
    const current = doc.getIn(["registries", "config"]);
    const inner = (typeof current === "string" ? (parse(current) ?? {}) : {}) as {
      mirrors?: Record<string, { endpoint?: string[] }>;
    };
    const mirrors = { ...inner.mirrors };
    const ours = registriesYamlMirrors(registry);
    const endpoint = `http://${registry.name}:${REGISTRY_CONTAINER_PORT}`;
    for (const [host, entry] of Object.entries(mirrors)) {
      // The same registry under an old port: the new port replaces it.
      if (!(host in ours) && entry?.endpoint?.includes(endpoint)) {
        delete mirrors[host];
        changes.push(`registries.config: - mirror ${host}`);
      }
    }
    for (const [host, entry] of Object.entries(ours)) {
      if (isDeepStrictEqual(mirrors[host], entry)) continue;
      mirrors[host] = entry;
      changes.push(`registries.config: mirror ${host} → ${entry.endpoint.join(", ")}`);
    }
    if (changes.some((c) => c.startsWith("registries.config"))) {
      const block = new Scalar(stringify({ ...inner, mirrors }));
      block.type = Scalar.BLOCK_LITERAL;
      doc.setIn(["registries", "config"], block);
    }
  }
  return { text: doc.toString(), changes };
}
