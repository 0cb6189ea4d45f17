/**
 * Phase 2 of validation: the checks of each Kubernetes object in a manifest file. Rules:
 * - not-an-object: a document is a sequence or scalar instead of a mapping
 * - missing-field / invalid-field: apiVersion, kind, metadata.name (metadata.namespace when set)
 * - generate-name: metadata.generateName without metadata.name (kustomize needs a name)
 * A `*List` kind's items are the objects. kustomize's own config types (a Kustomization in a file
 * that is not a kustomization file) are objects too, as kustomize reads them: they need a name.
 */
import { isMap, isScalar, isSeq } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { position, type ParsedYaml, type ValidationIssue } from "./issues.js";
import type { FastObject } from "./fast-objects.js";
import { idFromKey, type ObjectId } from "./identity.js";

/** Where an object is written: exact, or (fast path) its document index until needed. */
export type ObjectLocation =
  { file: string; line?: number; column?: number } | { file: string; document: number };

export interface FoundObject {
  id: ObjectId;
  location: ObjectLocation;
}

function getNode(map: YAMLMap, key: string): { key: Node; value: Node | null } | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair === undefined
    ? undefined
    : { key: pair.key as Node, value: (pair.value as Node | null) ?? null };
}

function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

function stringField(
  map: YAMLMap,
  key: string,
  label: string,
  parsed: ParsedYaml,
  issues: ValidationIssue[],
  mapNode: Node,
): string | undefined {
  const pair = getNode(map, key);
  if (pair === undefined || isNull(pair.value)) {
    issues.push({
      file: parsed.path,
      ...position(parsed, pair?.key ?? mapNode),
      rule: "missing-field",
      message: `missing ${label}`,
    });
    return undefined;
  }
  const value = pair.value!;
  if (!isScalar(value) || typeof value.value !== "string" || value.value.trim() === "") {
    issues.push({
      file: parsed.path,
      ...position(parsed, value),
      rule: "invalid-field",
      message: `${label} must be a non-empty string`,
    });
    return undefined;
  }
  return value.value;
}

/** Checks one object (mapping) and adds its identity to `objects` when it has one. */
function checkObject(
  node: Node,
  where: string,
  parsed: ParsedYaml,
  issues: ValidationIssue[],
  objects: FoundObject[],
): void {
  if (!isMap(node)) {
    const what = isSeq(node) ? "a list (YAML sequence)" : "a scalar value";
    issues.push({
      file: parsed.path,
      ...position(parsed, node),
      rule: "not-an-object",
      message: `${where} is ${what}, not a Kubernetes object (a mapping with apiVersion, kind and metadata)`,
    });
    return;
  }
  const apiVersion = stringField(node, "apiVersion", "apiVersion", parsed, issues, node);
  const kind = stringField(node, "kind", "kind", parsed, issues, node);

  // v1 List (and *List kinds): the items are the objects.
  const items = getNode(node, "items");
  if (kind !== undefined && kind.endsWith("List") && items !== undefined && isSeq(items.value)) {
    items.value.items.forEach((item, i) => {
      checkObject(item as Node, `item ${i + 1} of ${kind}`, parsed, issues, objects);
    });
    return;
  }

  const metadata = getNode(node, "metadata");
  if (metadata === undefined || isNull(metadata.value)) {
    issues.push({
      file: parsed.path,
      ...position(parsed, metadata?.key ?? node),
      rule: "missing-field",
      message: "missing metadata.name",
    });
    return;
  }
  if (!isMap(metadata.value)) {
    issues.push({
      file: parsed.path,
      ...position(parsed, metadata.value),
      rule: "invalid-field",
      message: "metadata must be a mapping",
    });
    return;
  }
  const meta = metadata.value;
  const generateName = getNode(meta, "generateName");
  if (getNode(meta, "name") === undefined && generateName !== undefined) {
    issues.push({
      file: parsed.path,
      ...position(parsed, generateName.key),
      rule: "generate-name",
      message:
        "metadata.generateName without metadata.name: kustomize (and so Flux) needs a name to build the object; set metadata.name",
    });
    return;
  }
  const name = stringField(meta, "name", "metadata.name", parsed, issues, metadata.key);
  const namespaceNode = getNode(meta, "namespace");
  let namespace = "";
  if (namespaceNode !== undefined && namespaceNode.value !== null) {
    const ns = stringField(meta, "namespace", "metadata.namespace", parsed, issues, metadata.key);
    if (ns === undefined) return;
    namespace = ns;
  }
  if (apiVersion === undefined || kind === undefined || name === undefined) return;
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
  objects.push({
    id: { group, kind, namespace, name },
    location: { file: parsed.path, ...position(parsed, node) },
  });
}

/** The objects of a parsed manifest file; their issues go to `issues`. */
export function checkObjects(parsed: ParsedYaml, issues: ValidationIssue[]): FoundObject[] {
  const objects: FoundObject[] = [];
  parsed.docs.forEach((doc, i) => {
    const node = doc.contents as Node | null;
    if (isNull(node)) return;
    checkObject(node!, `document ${i + 1}`, parsed, issues, objects);
  });
  return objects;
}

/** The objects the fast path found (no issues by construction). */
export function fastFoundObjects(path: string, fast: FastObject[]): FoundObject[] {
  return fast.map((o) => ({
    id: idFromKey(o.key),
    location: { file: path, document: o.document },
  }));
}
