/**
 * The objects kustomize-controller would build from a source directory — for the part of
 * kustomize that ksail can render faithfully without kustomize itself:
 *
 * - a directory without a kustomization file: every `.yaml`/`.yml` file (case-sensitive, as
 *   Flux's generator scans), with a sub-directory that holds a kustomization taken as one unit;
 * - kustomization files with `resources` (local files and directories) and `namespace`;
 * - the Flux Kustomization's `spec.path` and `spec.targetNamespace`.
 *
 * Anything else (patches, generators, name prefixes and suffixes, labels, images, components,
 * replacements, remote bases, Flux post-build substitution…) is refused with an UnsupportedBuild
 * error naming the file and field: a diff of objects built differently from Flux's would be
 * wrong, and a wrong diff is worse than none.
 */
import { posix } from "node:path";
import * as jsYaml from "js-yaml";
import { parseAllDocuments, type ScalarTag } from "yaml";
import { KsailError } from "../errors.js";
import { nameHash, type GeneratedContent } from "./name-hash.js";
import { CLUSTER_SCOPED_KINDS, transform } from "../validate/identity.js";
import {
  KUSTOMIZATION_FILE_NAMES,
  isKustomizeConfig,
  isRemoteReference,
} from "../validate/kustomization.js";

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

export interface RenderedObject {
  object: KubeObject;
  /** The file it came from, relative to the source root. */
  file: string;
}

export interface RenderOptions {
  /** The Kustomization's spec.path, relative to the source root (default "./"). */
  path?: string;
  /** The Kustomization's spec.targetNamespace. */
  targetNamespace?: string;
  /**
   * Also render kustomizations with `namePrefix` / `nameSuffix`: the objects are renamed as
   * kustomize renames them (./validate/identity.ts), but the references to them inside other
   * objects (a Deployment's configMapRef…) are left as written. Right for identities and for
   * comparing two sources with each other, not for a server-side dry run.
   */
  nameTransforms?: boolean;
  /**
   * Only the objects' identities are wanted (the inventory check): kustomizations may also use
   * the fields that neither create, remove nor rename objects (labels, annotations, images,
   * replicas…), patches that leave identities alone, and ConfigMap/Secret generators, whose
   * objects are stubs (apiVersion, kind, metadata.name/namespace) marked by hashSuffixed().
   * Implies nameTransforms.
   */
  identitiesOnly?: boolean;
}

/** The kustomization fields this renderer handles exactly as kustomize does. */
const SUPPORTED_FIELDS = new Set(["apiVersion", "kind", "metadata", "resources", "namespace"]);
const NAME_FIELDS = ["namePrefix", "nameSuffix"];
/** Fields that leave every object's identity as it is (the identitiesOnly mode). */
const IDENTITY_NEUTRAL_FIELDS = new Set([
  "bases",
  "commonLabels",
  "labels",
  "commonAnnotations",
  "images",
  "imageTags",
  "replicas",
  "buildMetadata",
  "sortOptions",
  "generatorOptions",
]);
/** Fields the identitiesOnly mode reads: patches (checked) and generators. */
const IDENTITY_READ_FIELDS = new Set([
  "patches",
  "patchesStrategicMerge",
  "patchesJson6902",
  "configMapGenerator",
  "secretGenerator",
]);

/** Generated ConfigMaps and Secrets whose final name gets kustomize's `-<hash>` suffix. */
const HASH_SUFFIXED = new WeakSet<KubeObject>();

/** Whether kustomize appends `-<hash>` to this (generated) object's name. */
export function hashSuffixed(object: KubeObject): boolean {
  return HASH_SUFFIXED.has(object);
}

/**
 * What a generated object's hash is computed from, or why it cannot be (then the inventory
 * check matches it by `name-` and any 10-character suffix).
 */
const GENERATED = new WeakMap<KubeObject, { content?: GeneratedContent; unknown?: string }>();

/** Why the hash suffix of this generated object could not be computed (see GENERATED). */
export function hashUnknown(object: KubeObject): string | undefined {
  return HASH_SUFFIXED.has(object) ? GENERATED.get(object)?.unknown : undefined;
}

type Mode = { nameTransforms: boolean; identitiesOnly: boolean };

/**
 * Where kustomize's namespace transformer also rewrites references (ServiceAccount subjects,
 * webhook and API service references): such objects are not rendered here.
 */
function namespaceReference(object: KubeObject): string | undefined {
  const spec = isObject(object.spec) ? object.spec : {};
  switch (object.kind) {
    case "RoleBinding":
    case "ClusterRoleBinding":
      return Array.isArray(object.subjects) &&
        object.subjects.some((s) => isObject(s) && s.kind === "ServiceAccount")
        ? "its ServiceAccount subjects"
        : undefined;
    case "ValidatingWebhookConfiguration":
    case "MutatingWebhookConfiguration":
      return Array.isArray(object.webhooks) &&
        object.webhooks.some(
          (w) => isObject(w) && isObject(w.clientConfig) && w.clientConfig.service,
        )
        ? "its webhook service references"
        : undefined;
    case "APIService":
      return spec.service ? "spec.service" : undefined;
    case "CustomResourceDefinition":
      return isObject(spec.conversion) && spec.conversion.webhook
        ? "its conversion webhook service"
        : undefined;
    default:
      return undefined;
  }
}

/**
 * YAML 1.1 octal (`0644`), as kustomize's YAML reader and Flux's YAML-to-JSON step read it
 * (file modes such as `defaultMode: 0644` become 420), instead of YAML 1.2's decimal 644.
 */
const yaml11Octal: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  default: true,
  test: /^[-+]?0[0-7]+$/,
  resolve: (text: string) => parseInt(text, 8),
};

export function unsupportedBuild(where: string, what: string): KsailError {
  return new KsailError(
    "usage",
    `${where}: ${what} — ksail cannot build this the way kustomize-controller does`,
    {
      hint: "`workload diff --cluster` renders plain manifest trees and kustomizations with resources and namespace only; for the rest use `flux diff kustomization NAME --path DIR`, which runs kustomize.",
    },
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** js-yaml's int with the YAML 1.1 octal of yaml11Octal: the same values for plain files. */
// js-yaml exports its built-in types; @types/js-yaml does not declare them.
const jsYamlInt = (
  jsYaml as unknown as {
    types: {
      int: {
        resolve(text: string): boolean;
        construct(text: string): unknown;
        predicate?: (value: unknown) => boolean;
      };
    };
  }
).types.int;
const JS_YAML_SCHEMA = jsYaml.CORE_SCHEMA.extend({
  implicit: [
    new jsYaml.Type("tag:yaml.org,2002:int", {
      kind: "scalar",
      resolve: (text: string) => yaml11Octal.test!.test(text) || jsYamlInt.resolve(text),
      construct: (text: string) =>
        yaml11Octal.test!.test(text) ? parseInt(text, 8) : jsYamlInt.construct(text),
      ...(jsYamlInt.predicate ? { predicate: jsYamlInt.predicate } : {}),
    }),
  ],
});

function isPlainValue(value: unknown): boolean {
  if (value === null || ["string", "number", "boolean"].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isPlainValue);
  if (typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value as object).every(isPlainValue);
}

/**
 * The documents' values. js-yaml first (several times faster, which a 2,000-object diff needs),
 * for text without tags, anchors or merge keys, where both parsers' schemas agree; the exact
 * `yaml` parser otherwise, and for the message of an invalid file.
 */
function documentValues(file: string, text: string): unknown[] {
  if (!text.includes("!") && !text.includes("&") && !text.includes("<<")) {
    try {
      const values = jsYaml.loadAll(text, undefined, { schema: JS_YAML_SCHEMA });
      if (values.every(isPlainValue)) return values;
    } catch {
      // The exact parser says what is wrong.
    }
  }
  const docs = parseAllDocuments(text, { customTags: (tags) => [yaml11Octal, ...tags] });
  return (Array.isArray(docs) ? docs : [docs]).map((doc) => {
    if (doc.errors.length > 0) {
      throw new KsailError("validation", `${file}: ${doc.errors[0]!.message.split("\n")[0]}`);
    }
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  });
}

function parseObjects(file: string, data: Buffer): KubeObject[] {
  const objects: KubeObject[] = [];
  const values = documentValues(file, data.toString("utf8").replace(/^\uFEFF/, ""));
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const add = (item: unknown, where: string) => {
      if (!isObject(item) || typeof item.kind !== "string" || typeof item.apiVersion !== "string")
        throw new KsailError("validation", `${where} is not a Kubernetes object`);
      if (isKustomizeConfig(item.apiVersion))
        throw unsupportedBuild(where, `a ${item.kind} among the resources`);
      const metadata = item.metadata;
      if (!isObject(metadata) || typeof metadata.name !== "string")
        throw unsupportedBuild(where, `${item.kind} without metadata.name (generateName)`);
      objects.push(item as KubeObject);
    };
    if (isObject(value) && typeof value.kind === "string" && value.kind.endsWith("List")) {
      if (Array.isArray(value.items)) {
        value.items.forEach((item, i) => add(item, `${file}: item ${i + 1} of ${value.kind}`));
        continue;
      }
    }
    add(value, file);
  }
  return objects;
}

function kustomizationIn(dir: string, files: ReadonlyMap<string, Buffer>): string | undefined {
  for (const name of KUSTOMIZATION_FILE_NAMES) {
    const path = dir === "." ? name : `${dir}/${name}`;
    if (files.has(path)) return path;
  }
  return undefined;
}

function isDirectory(dir: string, files: ReadonlyMap<string, Buffer>): boolean {
  const prefix = dir === "." ? "" : `${dir}/`;
  for (const path of files.keys()) if (path.startsWith(prefix)) return true;
  return false;
}

/** kustomize's namespace transformer, for the kinds it treats as namespaced. */
function setNamespace(
  rendered: RenderedObject[],
  namespace: string,
  where: string,
  identitiesOnly = false,
): void {
  for (const { object, file } of rendered) {
    // The references it would rewrite are not identities: only a full render needs them right.
    const reference = identitiesOnly ? undefined : namespaceReference(object);
    if (reference !== undefined) {
      throw unsupportedBuild(
        where,
        `namespace: ${namespace} would also rewrite ${reference} in ${object.kind}/${object.metadata.name} (${file})`,
      );
    }
    if (!CLUSTER_SCOPED_KINDS.has(object.kind)) object.metadata.namespace = namespace;
  }
}

function renderKustomization(
  file: string,
  files: ReadonlyMap<string, Buffer>,
  seen: Set<string>,
  mode: Mode,
): RenderedObject[] {
  const { nameTransforms, identitiesOnly } = mode;
  if (seen.has(file)) throw new KsailError("validation", `${file}: kustomizations include a cycle`);
  seen.add(file);
  const docs = parseAllDocuments(files.get(file)!.toString("utf8"));
  const first = Array.isArray(docs) ? docs[0] : docs;
  const spec: unknown = first?.toJS() ?? {};
  if (!isObject(spec)) throw new KsailError("validation", `${file} is not a mapping`);
  const unsupported = Object.keys(spec).filter(
    (key) =>
      !SUPPORTED_FIELDS.has(key) &&
      !(nameTransforms && NAME_FIELDS.includes(key)) &&
      !(identitiesOnly && (IDENTITY_NEUTRAL_FIELDS.has(key) || IDENTITY_READ_FIELDS.has(key))),
  );
  if (unsupported.length > 0) {
    throw unsupportedBuild(file, `uses ${unsupported.join(", ")}`);
  }
  const dir = posix.dirname(file);
  const rendered: RenderedObject[] = [];
  if (spec.resources !== undefined && !Array.isArray(spec.resources))
    throw new KsailError("validation", `${file}: resources is not a list`);
  // kustomize reads the deprecated `bases` as more resources, after them.
  const resources: unknown[] = [
    ...((spec.resources as unknown[] | undefined) ?? []),
    ...(identitiesOnly && Array.isArray(spec.bases) ? (spec.bases as unknown[]) : []),
  ];
  for (const entry of resources) {
    if (typeof entry !== "string")
      throw new KsailError("validation", `${file}: a resources entry is not a string`);
    if (isRemoteReference(entry)) throw unsupportedBuild(file, `remote resource ${entry}`);
    const target = posix.normalize(posix.join(dir, entry)).replace(/\/$/, "");
    if (target === ".." || target.startsWith("../") || posix.isAbsolute(target)) {
      throw new KsailError(
        "validation",
        `${file}: resource ${entry} lies outside the artifact (Flux cannot read it)`,
      );
    }
    if (files.has(target)) {
      rendered.push(
        ...parseObjects(target, files.get(target)!).map((object) => ({ object, file: target })),
      );
    } else if (isDirectory(target, files)) {
      const nested = kustomizationIn(target, files);
      if (!nested) {
        throw new KsailError(
          "validation",
          `${file}: resource ${entry} is a directory without a kustomization file (kustomize cannot build it)`,
        );
      }
      rendered.push(...renderKustomization(nested, files, seen, mode));
    } else {
      throw new KsailError(
        "validation",
        `${file}: resource ${entry} does not exist in the artifact`,
      );
    }
  }
  seen.delete(file);
  if (identitiesOnly) {
    rendered.push(...generatedObjects(spec, file, rendered, files));
    checkPatches(spec, file, files);
    const patched = ["patches", "patchesStrategicMerge", "patchesJson6902"].filter(
      (field) => Array.isArray(spec[field]) && (spec[field] as unknown[]).length > 0,
    );
    if (patched.length > 0) {
      for (const { object } of rendered) {
        const generated = GENERATED.get(object);
        if (generated && generated.unknown === undefined)
          GENERATED.set(object, {
            unknown: `${file} has ${patched[0]}, which may change its data`,
          });
      }
    }
  }
  if (spec.namespace !== undefined) {
    if (typeof spec.namespace !== "string")
      throw new KsailError("validation", `${file}: namespace is not a string`);
    setNamespace(rendered, spec.namespace, file, identitiesOnly);
  }
  if (nameTransforms) renameObjects(rendered, spec, file);
  return rendered;
}

const GENERATORS = { configMapGenerator: "ConfigMap", secretGenerator: "Secret" } as const;

/** `disableNameSuffixHash` of a generator's options (or of generatorOptions). */
function disablesHash(options: unknown): boolean | undefined {
  return isObject(options) && typeof options.disableNameSuffixHash === "boolean"
    ? options.disableNameSuffixHash
    : undefined;
}

/**
 * The ConfigMaps and Secrets of a kustomization's generators, as identity stubs: `behavior:
 * create` (the default) adds one, named `name` (plus `-<hash>` at the very end of the build,
 * unless disableNameSuffixHash); merge and replace change one already accumulated, whose name
 * stays.
 */
function generatedObjects(
  spec: Record<string, unknown>,
  file: string,
  accumulated: readonly RenderedObject[],
  files: ReadonlyMap<string, Buffer>,
): RenderedObject[] {
  const out: RenderedObject[] = [];
  const hashByDefault = !(disablesHash(spec.generatorOptions) ?? false);
  for (const [field, kind] of Object.entries(GENERATORS)) {
    const entries = spec[field];
    if (entries === undefined) continue;
    if (!Array.isArray(entries))
      throw new KsailError("validation", `${file}: ${field} is not a list`);
    entries.forEach((entry: unknown, i) => {
      const where = `${file}: ${field}[${i}]`;
      if (!isObject(entry) || typeof entry.name !== "string" || entry.name === "")
        throw new KsailError("validation", `${where} has no name`);
      if (entry.namespace !== undefined && typeof entry.namespace !== "string")
        throw new KsailError("validation", `${where}: namespace is not a string`);
      const behavior = entry.behavior ?? "create";
      if (behavior === "merge" || behavior === "replace") {
        const name = entry.name as string;
        const target = accumulated.find(
          (r) =>
            r.object.kind === kind &&
            r.object.metadata.name === name &&
            (entry.namespace === undefined || r.object.metadata.namespace === entry.namespace),
        );
        if (target === undefined)
          throw unsupportedBuild(where, `behavior: ${behavior} without a ${kind} ${name} below it`);
        const before = GENERATED.get(target.object);
        if (before !== undefined) {
          const added = generatorContent(kind, entry, file, files);
          GENERATED.set(
            target.object,
            behavior === "replace" ? added : mergeContent(before, added),
          );
        }
        return;
      }
      if (behavior !== "create") throw unsupportedBuild(where, `behavior: ${String(behavior)}`);
      const object: KubeObject = {
        apiVersion: "v1",
        kind,
        metadata: {
          name: entry.name as string,
          ...(entry.namespace ? { namespace: entry.namespace as string } : {}),
        },
      };
      if (!(disablesHash(entry.options) ?? !hashByDefault)) HASH_SUFFIXED.add(object);
      GENERATED.set(object, generatorContent(kind, entry, file, files));
      out.push({ object, file });
    });
  }
  return out;
}

type Generated = { content?: GeneratedContent; unknown?: string };

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function utf8(data: Buffer): string | undefined {
  try {
    return UTF8.decode(data);
  } catch {
    return undefined;
  }
}

/** A list of strings in a generator entry (absent: none). */
function stringList(entry: Record<string, unknown>, field: string, where: string): string[] {
  const value = field === "env" && typeof entry.env === "string" ? [entry.env] : entry[field];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
    throw new KsailError("validation", `${where}: ${field} is not a list of strings`);
  return value as string[];
}

/** A literal's value without one pair of surrounding quotes (as kustomize reads `k="v"`). */
function unquote(value: string): string {
  return value.length >= 2 && value[0] === value.at(-1) && (value[0] === '"' || value[0] === "'")
    ? value.slice(1, -1)
    : value;
}

/**
 * The data a generator entry puts into its ConfigMap or Secret, as kustomize's key-value loader
 * reads it: env files (KEY=VALUE lines; blank lines and `#` comments skipped; a line without `=`
 * gives ""), then literals, then files (`key=path` or the file's base name). A ConfigMap holds
 * UTF-8 content in data and other content base64 in binaryData; a Secret holds all base64.
 */
function generatorContent(
  kind: "ConfigMap" | "Secret",
  entry: Record<string, unknown>,
  file: string,
  files: ReadonlyMap<string, Buffer>,
): Generated {
  const where = `${file}: ${entry.name as string}`;
  const dir = posix.dirname(file);
  const read = (path: string): Buffer | string => {
    const full = posix.normalize(posix.join(dir, path));
    return files.get(full) ?? `${path} is not a file of the artifact`;
  };
  const pairs: [string, Buffer][] = [];
  for (const path of [...stringList(entry, "env", where), ...stringList(entry, "envs", where)]) {
    const data = read(path);
    if (typeof data === "string") return { unknown: data };
    const lines = data.toString("binary").split("\n");
    if (lines.at(-1) === "") lines.pop();
    for (const [i, raw] of lines.entries()) {
      const text = utf8(Buffer.from(raw.replace(/\r$/, ""), "binary"));
      if (text === undefined) return { unknown: `${path} line ${i + 1} is not UTF-8` };
      const line = (i === 0 ? text.replace(/^\uFEFF/, "") : text).trimStart();
      if (line === "" || line.startsWith("#")) continue;
      const eq = line.indexOf("=");
      pairs.push(
        eq < 0 ? [line, Buffer.alloc(0)] : [line.slice(0, eq), Buffer.from(line.slice(eq + 1))],
      );
    }
  }
  for (const literal of stringList(entry, "literals", where)) {
    const eq = literal.indexOf("=");
    if (eq <= 0) return { unknown: `literal ${literal} is not key=value` };
    pairs.push([literal.slice(0, eq), Buffer.from(unquote(literal.slice(eq + 1)))]);
  }
  for (const source of stringList(entry, "files", where)) {
    const eq = source.indexOf("=");
    const path = eq < 0 ? source : source.slice(eq + 1);
    const data = read(path);
    if (typeof data === "string") return { unknown: data };
    pairs.push([eq < 0 ? posix.basename(path) : source.slice(0, eq), data]);
  }
  const data = new Map<string, string>();
  const binaryData = new Map<string, string>();
  for (const [key, value] of pairs) {
    if (data.has(key) || binaryData.has(key)) return { unknown: `key ${key} is given twice` };
    const text = kind === "ConfigMap" ? utf8(value) : undefined;
    if (text !== undefined) data.set(key, text);
    else (kind === "ConfigMap" ? binaryData : data).set(key, value.toString("base64"));
  }
  return {
    content: {
      ...(data.size > 0 ? { data } : {}),
      ...(binaryData.size > 0 ? { binaryData } : {}),
      ...(kind === "Secret"
        ? { type: typeof entry.type === "string" && entry.type !== "" ? entry.type : "Opaque" }
        : {}),
    },
  };
}

/**
 * `behavior: merge`: the new keys over the old ones; a Secret takes the merging generator's type
 * (Opaque when it names none), as `flux build` shows.
 */
function mergeContent(before: Generated, added: Generated): Generated {
  if (before.content === undefined) return before;
  if (added.content === undefined) return added;
  const merged = (a?: Map<string, string>, b?: Map<string, string>) =>
    a === undefined && b === undefined ? undefined : new Map([...(a ?? []), ...(b ?? [])]);
  const data = merged(before.content.data, added.content.data);
  const binaryData = merged(before.content.binaryData, added.content.binaryData);
  return {
    content: {
      ...(data ? { data } : {}),
      ...(binaryData ? { binaryData } : {}),
      ...(added.content.type !== undefined ? { type: added.content.type } : {}),
    },
  };
}

/** kustomize's last step: `-<hash>` appended to the final names of hashed generated objects. */
function appendNameHashes(rendered: readonly RenderedObject[]): void {
  for (const { object } of rendered) {
    if (!HASH_SUFFIXED.has(object)) continue;
    const content = GENERATED.get(object)?.content;
    if (content === undefined) continue;
    const kind = object.kind as "ConfigMap" | "Secret";
    object.metadata.name = `${object.metadata.name}-${nameHash(kind, content)}`;
    HASH_SUFFIXED.delete(object);
  }
}

/** JSON pointers whose change would move, rename or re-kind an object. */
function touchesIdentity(pointer: unknown): boolean {
  if (typeof pointer !== "string") return false;
  return (
    pointer === "" ||
    pointer === "/" ||
    pointer === "/metadata" ||
    ["/metadata/name", "/metadata/namespace", "/kind", "/apiVersion"].some(
      (p) => pointer === p || pointer.startsWith(`${p}/`),
    )
  );
}

/**
 * Refuses the patches that may change which objects exist or what they are called: strategic
 * merge patches with a top-level `$patch` (delete, replace), patches allowed to change names or
 * kinds, and JSON 6902 operations on metadata.name/namespace, kind or apiVersion. All others
 * keep every identity (a strategic merge patch finds its target by them and cannot rename it).
 */
function checkPatches(
  spec: Record<string, unknown>,
  file: string,
  files: ReadonlyMap<string, Buffer>,
): void {
  const dir = posix.dirname(file);
  const text = (entry: Record<string, unknown>, where: string): string => {
    if (typeof entry.patch === "string") return entry.patch;
    if (typeof entry.path === "string") {
      const path = posix.normalize(posix.join(dir, entry.path));
      const data = files.get(path);
      if (data === undefined)
        throw new KsailError("validation", `${where}: patch ${entry.path} does not exist`);
      return data.toString("utf8");
    }
    throw new KsailError("validation", `${where} has neither patch nor path`);
  };
  const check = (source: string, where: string, json6902: boolean | undefined) => {
    const values = documentValues(where, source).filter((v) => v !== null && v !== undefined);
    const isOps = values.length === 1 && Array.isArray(values[0]);
    if (json6902 === true && !isOps)
      throw new KsailError(
        "validation",
        `${where}: a JSON 6902 patch must be a list of operations`,
      );
    if (isOps && json6902 !== false) {
      for (const op of values[0] as unknown[]) {
        if (
          isObject(op) &&
          (touchesIdentity(op.path) || (op.op === "move" && touchesIdentity(op.from)))
        )
          throw unsupportedBuild(
            where,
            `the patch operation ${String(op.op)} ${String(op.path)} may rename or move objects`,
          );
      }
      return;
    }
    for (const value of values) {
      if (isObject(value) && value.$patch !== undefined)
        throw unsupportedBuild(
          where,
          `$patch: ${String(value.$patch)} changes which objects exist`,
        );
    }
  };
  const list = (field: string): unknown[] => {
    const value = spec[field];
    if (value === undefined) return [];
    if (!Array.isArray(value))
      throw new KsailError("validation", `${file}: ${field} is not a list`);
    return value;
  };
  list("patchesStrategicMerge").forEach((entry, i) => {
    const where = `${file}: patchesStrategicMerge[${i}]`;
    if (typeof entry !== "string") throw new KsailError("validation", `${where} is not a string`);
    // A file path, or the patch itself inline.
    const path = posix.normalize(posix.join(dir, entry));
    check(files.has(path) ? files.get(path)!.toString("utf8") : entry, where, false);
  });
  list("patchesJson6902").forEach((entry, i) => {
    const where = `${file}: patchesJson6902[${i}]`;
    if (!isObject(entry)) throw new KsailError("validation", `${where} is not a mapping`);
    check(text(entry, where), where, true);
  });
  list("patches").forEach((entry, i) => {
    const where = `${file}: patches[${i}]`;
    if (!isObject(entry)) throw new KsailError("validation", `${where} is not a mapping`);
    const options = isObject(entry.options) ? entry.options : {};
    for (const option of ["allowNameChange", "allowKindChange"])
      if (options[option] === true) throw unsupportedBuild(where, `options.${option}: true`);
    check(text(entry, where), where, undefined);
  });
}

/** kustomize's prefix/suffix transformer, on the object names only (see nameTransforms). */
function renameObjects(rendered: RenderedObject[], spec: Record<string, unknown>, file: string) {
  const { namePrefix, nameSuffix } = spec;
  if (namePrefix === undefined && nameSuffix === undefined) return;
  for (const [field, value] of Object.entries({ namePrefix, nameSuffix })) {
    if (value !== undefined && typeof value !== "string")
      throw new KsailError("validation", `${file}: ${field} is not a string`);
  }
  const t = {
    ...(typeof namePrefix === "string" ? { namePrefix } : {}),
    ...(typeof nameSuffix === "string" ? { nameSuffix } : {}),
  };
  for (const { object } of rendered) {
    const { apiVersion, kind, metadata } = object;
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
    metadata.name = transform({ group, kind, namespace: "", name: metadata.name }, t).name;
  }
}

function isInside(path: string, root: string): boolean {
  return root === "." || path === root || path.startsWith(`${root}/`);
}

/**
 * Builds the objects from the artifact's files (path → content, relative to the source root, as
 * listSourceFiles selects them). Throws KsailError "usage" for what it cannot build faithfully.
 */
export function renderObjects(
  files: ReadonlyMap<string, Buffer>,
  options: RenderOptions = {},
): RenderedObject[] {
  const root = posix.normalize(options.path ?? "./").replace(/\/$/, "") || ".";
  if (root === ".." || root.startsWith("../") || posix.isAbsolute(root)) {
    throw new KsailError("usage", `spec.path ${options.path} lies outside the source`);
  }
  let rendered: RenderedObject[];
  const top = kustomizationIn(root, files);
  const mode: Mode = {
    nameTransforms: (options.nameTransforms ?? false) || (options.identitiesOnly ?? false),
    identitiesOnly: options.identitiesOnly ?? false,
  };
  if (top) {
    rendered = renderKustomization(top, files, new Set(), mode);
  } else {
    // Flux's generator: every .yaml/.yml file under the path; a sub-directory with its own
    // kustomization is one resource and is not descended into.
    rendered = [];
    const units = new Set<string>();
    const paths = [...files.keys()].filter((p) => isInside(p, root)).sort();
    for (const path of paths) {
      const parts = path.split("/");
      let unit: string | undefined;
      for (let i = root === "." ? 1 : root.split("/").length + 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (kustomizationIn(dir, files)) {
          unit = dir;
          break;
        }
      }
      if (unit !== undefined) {
        if (!units.has(unit)) {
          units.add(unit);
          rendered.push(
            ...renderKustomization(kustomizationIn(unit, files)!, files, new Set(), mode),
          );
        }
        continue;
      }
      const ext = posix.extname(path);
      if (ext !== ".yaml" && ext !== ".yml") continue;
      rendered.push(
        ...parseObjects(path, files.get(path)!).map((object) => ({ object, file: path })),
      );
    }
  }
  if (options.targetNamespace) {
    setNamespace(
      rendered,
      options.targetNamespace,
      "spec.targetNamespace of the Kustomization",
      mode.identitiesOnly,
    );
  }
  if (mode.identitiesOnly) appendNameHashes(rendered);
  return rendered;
}

/** One object's identity as the inventory names it (see renderIdentities). */
export interface RenderedIdentity {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  apiVersion: string;
  /**
   * A generated ConfigMap/Secret whose hash could not be computed (`hashUnknown` says why): its
   * final name is `name-` and a hash. Otherwise `name` already ends in kustomize's hash.
   */
  hashSuffix?: boolean;
  hashUnknown?: string;
}

/**
 * The identities of the objects kustomize-controller applies from these files (the
 * identitiesOnly render). Throws KsailError "usage" for what it cannot tell faithfully.
 */
export function renderIdentities(
  files: ReadonlyMap<string, Buffer>,
  options: Omit<RenderOptions, "nameTransforms" | "identitiesOnly"> = {},
): RenderedIdentity[] {
  return renderObjects(files, { ...options, identitiesOnly: true }).map(({ object }) => {
    const { apiVersion, kind, metadata } = object;
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
    return {
      group,
      kind,
      namespace: metadata.namespace ?? "",
      name: metadata.name,
      apiVersion,
      ...(hashSuffixed(object)
        ? { hashSuffix: true, hashUnknown: hashUnknown(object) ?? "its content is unknown" }
        : {}),
    };
  });
}
