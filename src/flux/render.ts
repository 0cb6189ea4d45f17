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
import { parseAllDocuments, type ScalarTag } from "yaml";
import { KsailError } from "../errors.js";
import { CLUSTER_SCOPED_KINDS } from "../validate/identity.js";
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
}

/** The kustomization fields this renderer handles exactly as kustomize does. */
const SUPPORTED_FIELDS = new Set(["apiVersion", "kind", "metadata", "resources", "namespace"]);

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

function parseObjects(file: string, data: Buffer): KubeObject[] {
  const objects: KubeObject[] = [];
  const docs = parseAllDocuments(data.toString("utf8").replace(/^\uFEFF/, ""), {
    customTags: (tags) => [yaml11Octal, ...tags],
  });
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      throw new KsailError("validation", `${file}: ${doc.errors[0]!.message.split("\n")[0]}`);
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
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
function setNamespace(rendered: RenderedObject[], namespace: string, where: string): void {
  for (const { object, file } of rendered) {
    const reference = namespaceReference(object);
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
): RenderedObject[] {
  if (seen.has(file)) throw new KsailError("validation", `${file}: kustomizations include a cycle`);
  seen.add(file);
  const docs = parseAllDocuments(files.get(file)!.toString("utf8"));
  const first = Array.isArray(docs) ? docs[0] : docs;
  const spec: unknown = first?.toJS() ?? {};
  if (!isObject(spec)) throw new KsailError("validation", `${file} is not a mapping`);
  const unsupported = Object.keys(spec).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) {
    throw unsupportedBuild(file, `uses ${unsupported.join(", ")}`);
  }
  const dir = posix.dirname(file);
  const rendered: RenderedObject[] = [];
  const resources = spec.resources ?? [];
  if (!Array.isArray(resources))
    throw new KsailError("validation", `${file}: resources is not a list`);
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
      rendered.push(...renderKustomization(nested, files, seen));
    } else {
      throw new KsailError(
        "validation",
        `${file}: resource ${entry} does not exist in the artifact`,
      );
    }
  }
  seen.delete(file);
  if (spec.namespace !== undefined) {
    if (typeof spec.namespace !== "string")
      throw new KsailError("validation", `${file}: namespace is not a string`);
    setNamespace(rendered, spec.namespace, file);
  }
  return rendered;
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
  if (top) {
    rendered = renderKustomization(top, files, new Set());
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
          rendered.push(...renderKustomization(kustomizationIn(unit, files)!, files, new Set()));
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
    setNamespace(rendered, options.targetNamespace, "spec.targetNamespace of the Kustomization");
  }
  return rendered;
}
