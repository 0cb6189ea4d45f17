/**
 * Object-level comparison of two sources (versions, the local directory): the objects are built
 * the way kustomize-controller builds them (../flux/render.ts: kustomization resources,
 * namespace, namePrefix / nameSuffix), keyed by kustomize's identity (../validate/identity.ts),
 * normalised as Flux compares them (../flux/normalize.ts), then compared field by field.
 *
 * So key order, comments, quoting, how objects are split over files and documents, and moves
 * between files are no change; a renamed object or one moved to another namespace is one removed
 * and one added. Lists whose items all carry a unique `name` (containers, env, volumes, ports)
 * are compared item by item, by name; other lists as a whole. Secret values never leave this
 * module: `data` / `stringData` values are replaced by `***` (changed ones by `*** (before)` and
 * `*** (after)`).
 */
import { diffLines } from "diff";
import { stringify } from "yaml";
import { KsailError } from "../errors.js";
import { normalize } from "../flux/normalize.js";
import { renderObjects, type KubeObject, type RenderOptions } from "../flux/render.js";
import { decryptResource, SopsError } from "../secrets/sops-file.js";
import { identityKey, type ObjectId } from "../validate/identity.js";

export interface SourceObject {
  id: ObjectId;
  apiVersion: string;
  object: KubeObject;
  /** The file it is written in, relative to the source root. */
  file: string;
}

/** One changed field: `before` absent when added, `after` absent when removed. */
export interface FieldChange {
  /** e.g. `spec.template.spec.containers[name=web].image`, `metadata.labels["app.kubernetes.io/name"]`. */
  path: string;
  before?: unknown;
  after?: unknown;
}

export type ObjectChangeKind = "added" | "removed" | "changed";

export interface ObjectChange {
  apiVersion: string;
  kind: string;
  /** As built ("" for cluster-scoped objects and objects without one). */
  namespace: string;
  name: string;
  change: ObjectChangeKind;
  /** The changed fields (changed objects only). */
  fields: FieldChange[];
}

export interface ObjectDiff {
  items: ObjectChange[];
  /** Objects present and equal on both sides. */
  unchanged: number;
}

/** The objects a source builds, by identity; throws on two objects with one identity. */
export function sourceObjects(
  files: ReadonlyMap<string, Buffer>,
  options: Omit<RenderOptions, "nameTransforms"> = {},
): Map<string, SourceObject> {
  const objects = new Map<string, SourceObject>();
  for (const { object, file } of renderObjects(files, { ...options, nameTransforms: true })) {
    const { apiVersion, kind, metadata } = object;
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
    const id: ObjectId = { group, kind, namespace: metadata.namespace ?? "", name: metadata.name };
    const key = identityKey(id);
    const first = objects.get(key);
    if (first !== undefined) {
      throw new KsailError(
        "validation",
        `${displayName(id)} is built twice (${first.file} and ${file}); kustomize refuses duplicates`,
        { hint: "Run `ksail workload push` (it validates first) to see every issue." },
      );
    }
    // A SOPS object is normalised once decrypted (its encrypted values must stay as written).
    if (!(object as { sops?: unknown }).sops) normalize(object);
    objects.set(key, { id, apiVersion, object, file });
  }
  return objects;
}

/**
 * Decrypts, in place, the SOPS-encrypted objects that one of `identities` opens (as
 * kustomize-controller would before applying them); the others stay as they are and are compared
 * by their encrypted content. Returns how many were decrypted and the files left encrypted.
 */
export async function decryptWhereKeyed(
  objects: Map<string, SourceObject>,
  identities: readonly string[],
): Promise<{ decrypted: number; encrypted: string[] }> {
  let decrypted = 0;
  const encrypted: string[] = [];
  for (const entry of objects.values()) {
    if (!(entry.object as { sops?: unknown }).sops) continue;
    if (identities.length === 0) {
      encrypted.push(entry.file);
      continue;
    }
    try {
      const plain = await decryptResource(entry.object, identities);
      if (plain === undefined) continue;
      entry.object = plain as KubeObject;
      normalize(entry.object);
      decrypted++;
    } catch (error) {
      if (!(error instanceof SopsError)) throw error;
      encrypted.push(entry.file);
    }
  }
  return { decrypted, encrypted };
}

/** `Kind namespace/name` (`Kind name` without a namespace). */
export function displayName(id: { kind: string; namespace: string; name: string }): string {
  return `${id.kind} ${id.namespace === "" ? "" : `${id.namespace}/`}${id.name}`;
}

/** Compares two object sets (before → after); items sorted by kind, namespace, name. */
export function diffObjects(
  before: ReadonlyMap<string, SourceObject>,
  after: ReadonlyMap<string, SourceObject>,
): ObjectDiff {
  const items: ObjectChange[] = [];
  let unchanged = 0;
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(key);
    const b = after.get(key);
    const subject = (b ?? a)!;
    const base = {
      apiVersion: subject.apiVersion,
      kind: subject.id.kind,
      namespace: subject.id.namespace,
      name: subject.id.name,
    };
    if (a === undefined) items.push({ ...base, change: "added", fields: [] });
    else if (b === undefined) items.push({ ...base, change: "removed", fields: [] });
    else {
      const fields = diffFields(a.object, b.object);
      if (fields.length === 0) unchanged++;
      else items.push({ ...base, change: "changed", fields });
    }
  }
  items.sort(
    (x, y) =>
      compareText(x.kind, y.kind) ||
      compareText(x.namespace, y.namespace) ||
      compareText(x.name, y.name),
  );
  return { items, unchanged };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A path step: a mapping key, or the item of a list whose items are keyed by `name`. */
type Segment = string | { name: string };

interface RawChange {
  path: Segment[];
  before?: unknown;
  after?: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON text with sorted keys: equal for values equal regardless of key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort(compareText);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The items by name, when every item is a mapping with a unique string `name`. */
function byName(list: unknown[]): Map<string, Record<string, unknown>> | undefined {
  if (list.length === 0) return undefined;
  const map = new Map<string, Record<string, unknown>>();
  for (const item of list) {
    if (!isPlainObject(item) || typeof item.name !== "string" || map.has(item.name))
      return undefined;
    map.set(item.name, item);
  }
  return map;
}

function diffValue(a: unknown, b: unknown, path: Segment[], out: RawChange[]): void {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    out.push({ path, before: a, after: b });
    return;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(compareText);
    for (const key of keys) {
      if (!(key in a)) out.push({ path: [...path, key], after: b[key] });
      else if (!(key in b)) out.push({ path: [...path, key], before: a[key] });
      else diffValue(a[key], b[key], [...path, key], out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const named = [byName(a), byName(b)] as const;
    if (named[0] && named[1]) {
      const [left, right] = named as [Map<string, unknown>, Map<string, unknown>];
      const names = [...new Set([...left.keys(), ...right.keys()])].sort(compareText);
      for (const name of names) {
        const segment = [...path, { name }];
        if (!left.has(name)) out.push({ path: segment, after: right.get(name) });
        else if (!right.has(name)) out.push({ path: segment, before: left.get(name) });
        else diffValue(left.get(name), right.get(name), segment, out);
      }
      return;
    }
  }
  if (canonicalJson(a) !== canonicalJson(b)) out.push({ path, before: a, after: b });
}

const SIMPLE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function formatPath(path: readonly Segment[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment !== "string") text += `[name=${segment.name}]`;
    else if (SIMPLE_KEY.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

function isSecret(object: KubeObject): boolean {
  return object.kind === "Secret" && object.apiVersion === "v1";
}

/** Every value under a Secret's data/stringData replaced by `mark`. */
function masked(value: unknown, mark: string): unknown {
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.keys(value).map((k) => [k, mark]));
  }
  return mark;
}

function maskSecretChange(change: RawChange): RawChange {
  const [top] = change.path;
  if (top !== "data" && top !== "stringData") return change;
  const both = "before" in change && "after" in change;
  return {
    path: change.path,
    ...("before" in change
      ? { before: masked(change.before, both && change.path.length > 1 ? "*** (before)" : "***") }
      : {}),
    ...("after" in change
      ? { after: masked(change.after, both && change.path.length > 1 ? "*** (after)" : "***") }
      : {}),
  };
}

/** The changed fields of one object (before → after), Secret values masked. */
export function diffFields(before: KubeObject, after: KubeObject): FieldChange[] {
  const raw: RawChange[] = [];
  diffValue(before, after, [], raw);
  const secret = isSecret(before) || isSecret(after);
  return raw.map((change) => {
    const shown = secret ? maskSecretChange(change) : change;
    const field: FieldChange = {
      path: formatPath(shown.path),
      ...("before" in shown ? { before: shown.before } : {}),
      ...("after" in shown ? { after: shown.after } : {}),
    };
    SEGMENTS.set(field, shown.path);
    return field;
  });
}

/** Each field's path as steps, for the YAML rendering (not part of the data output). */
const SEGMENTS = new WeakMap<FieldChange, readonly Segment[]>();

/** Places `value` at `path` in a projection (lists by name hold `{ name, … }` items). */
function place(root: Record<string, unknown>, path: readonly Segment[], value: unknown): void {
  let node: unknown = root;
  path.forEach((segment, i) => {
    const last = i === path.length - 1;
    const next = path[i + 1];
    if (typeof segment === "string") {
      const map = node as Record<string, unknown>;
      if (last) map[segment] = value;
      else {
        map[segment] ??= typeof next === "string" ? {} : [];
        node = map[segment];
      }
      return;
    }
    const list = node as Record<string, unknown>[];
    let item = list.find((x) => x.name === segment.name);
    if (item === undefined) {
      item = { name: segment.name };
      list.push(item);
    }
    if (last && isPlainObject(value)) Object.assign(item, value);
    node = item;
  });
}

function projection(fields: readonly FieldChange[], side: "before" | "after"): string {
  const root: Record<string, unknown> = {};
  for (const field of fields) {
    if (!(side in field)) continue;
    const segments = SEGMENTS.get(field) ?? [field.path];
    if (segments.length === 0) return stringify(field[side], { lineWidth: 0 });
    place(root, segments, field[side]);
  }
  return Object.keys(root).length === 0 ? "" : stringify(root, { lineWidth: 0 });
}

/** The changed fields as a YAML diff: `  ` context, `- ` before, `+ ` after. */
export function formatFieldDiff(fields: readonly FieldChange[]): string {
  const lines: string[] = [];
  for (const part of diffLines(projection(fields, "before"), projection(fields, "after"))) {
    const mark = part.added ? "+ " : part.removed ? "- " : "  ";
    for (const line of part.value.replace(/\n$/, "").split("\n")) lines.push(`${mark}  ${line}`);
  }
  return lines.join("\n");
}

/** Human rendering: `Kind namespace/name added|removed|changed`, then the YAML diff of changes. */
export function formatObjectDiff(items: readonly ObjectChange[], brief = false): string {
  const lines: string[] = [];
  for (const item of items) {
    lines.push(`${displayName(item)} ${item.change}`);
    if (!brief && item.change === "changed") lines.push(formatFieldDiff(item.fields));
  }
  return lines.join("\n");
}

/** "1 added, 2 changed" (kinds of change with a count). */
export function summarize(diff: ObjectDiff): string {
  const counts = (["added", "removed", "changed"] as const)
    .map((c) => [c, diff.items.filter((i) => i.change === c).length] as const)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${n} ${c}`);
  return `${counts.length === 0 ? "no object changes" : counts.join(", ")}, ${diff.unchanged} unchanged`;
}
