/**
 * Checks the local paths a kustomization file references. Rules:
 * - kustomization-absolute-path: an absolute path (kustomize resolves paths from the file's dir)
 * - kustomization-path-escape: a path that leaves the source directory through `..` (it would be
 *   missing from the artifact)
 * - kustomization-missing-path: the path is not in the artifact (absent, or excluded by ignore
 *   rules — the message says which)
 * - kustomization-not-a-file / kustomization-not-a-directory: wrong kind of entry
 * - kustomization-missing-kustomization: a referenced directory has no kustomization file
 * - kustomization-invalid: the kustomization is not a mapping or a field has the wrong shape
 * - kustomization-unknown-field: a field kustomize does not know (it decodes strictly); in the
 *   root kustomization.yaml only a warning, as Flux rewrites that file and drops such fields
 * - kustomization-kind: a kind other than Kustomization/Component, or an apiVersion that does
 *   not go with the kind
 * - kustomization-helm: `helmCharts` / `helmChartInflationGenerator` / `helmGlobals` (Flux runs
 *   kustomize without Helm; use a HelmRelease)
 *
 * Remote references (URLs, `git@…`, `github.com/…`, anything with `?ref=`) are allowed and not
 * checked: kustomize-controller fetches them itself.
 */
import { stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { isMap, isScalar, isSeq } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { position, type ParsedYaml, type ValidationIssue } from "./issues.js";

export const KUSTOMIZATION_FILE_NAMES: readonly string[] = [
  "kustomization.yaml",
  "kustomization.yml",
  "Kustomization",
];

/** A local path a kustomization includes, with where the entry is written. */
export interface IncludedPath {
  path: string;
  directory: boolean;
  label: string;
  line?: number;
  column?: number;
}

export interface KustomizationInfo {
  /** `Kustomization` (also when the kind is left out) or `Component`. */
  kind: string;
  /** resources/bases entries, in order. */
  resources: IncludedPath[];
  /** components entries. */
  components: IncludedPath[];
  /** Files kustomize reads as YAML but not as objects: patches, CRDs for schemas, replacements, openapi, configurations. */
  patchFiles: string[];
  /** Files used as opaque data: generator inputs. */
  dataFiles: string[];
  namespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  /** Its top-level fields, as written (what an identity computation must model). */
  fields: string[];
}

const REMOTE_HOSTS =
  /^(github\.com|gitlab\.com|bitbucket\.org|ssh\.dev\.azure\.com|dev\.azure\.com)\//;

/** Whether an object is kustomize's own configuration (Kustomization, Component), not a resource. */
export function isKustomizeConfig(apiVersion: string): boolean {
  return apiVersion.startsWith("kustomize.config.k8s.io/");
}

export function isRemoteReference(ref: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) ||
    ref.startsWith("git@") ||
    ref.startsWith("git::") ||
    /[?&](ref|version|submodules|timeout)=/.test(ref) ||
    REMOTE_HOSTS.test(ref)
  );
}

/** The fields of kustomize's Kustomization type (sigs.k8s.io/kustomize/api/types). */
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  "apiVersion",
  "kind",
  "metadata",
  "openapi",
  "namePrefix",
  "nameSuffix",
  "namespace",
  "commonLabels",
  "labels",
  "commonAnnotations",
  "patchesStrategicMerge",
  "patchesJson6902",
  "patches",
  "images",
  "imageTags",
  "replacements",
  "replicas",
  "vars",
  "sortOptions",
  "resources",
  "components",
  "crds",
  "bases",
  "configMapGenerator",
  "secretGenerator",
  "helmGlobals",
  "helmCharts",
  "helmChartInflationGenerator",
  "generatorOptions",
  "configurations",
  "generators",
  "transformers",
  "validators",
  "buildMetadata",
]);

const API_VERSIONS: Readonly<Record<string, string>> = {
  Kustomization: "kustomize.config.k8s.io/v1beta1",
  Component: "kustomize.config.k8s.io/v1alpha1",
};

type Expect = "resource" | "component" | "file";
/** What kustomize does with the entry: include it, or read it as a patch or as data. */
type Role = "include" | "patch" | "data";

interface Context {
  root: string;
  parsed: ParsedYaml;
  dir: string;
  fileSet: ReadonlySet<string>;
  dirSet: ReadonlySet<string>;
  issues: ValidationIssue[];
  info: KustomizationInfo;
  pending: Promise<void>[];
}

function issue(ctx: Context, node: Node | null | undefined, rule: string, message: string): void {
  ctx.issues.push({ file: ctx.parsed.path, ...position(ctx.parsed, node), rule, message });
}

function hasKustomization(ctx: Context, dir: string): boolean {
  const prefix = dir === "." ? "" : `${dir}/`;
  return KUSTOMIZATION_FILE_NAMES.some((name) => ctx.fileSet.has(`${prefix}${name}`));
}

/** Checks one path reference; `label` says where it came from, e.g. `resources entry "x"`. */
function checkPath(
  ctx: Context,
  node: Node,
  ref: string,
  label: string,
  expect: Expect,
  role: Role,
): void {
  if (isRemoteReference(ref)) return;
  if (ref.startsWith("/") || /^[a-zA-Z]:[\\/]/.test(ref)) {
    issue(
      ctx,
      node,
      "kustomization-absolute-path",
      `${label} is an absolute path; use a path relative to the kustomization`,
    );
    return;
  }
  const resolved = posix.normalize(posix.join(ctx.dir, ref.replace(/\\/g, "/"))).replace(/\/$/, "");
  if (resolved === ".." || resolved.startsWith("../")) {
    issue(
      ctx,
      node,
      "kustomization-path-escape",
      `${label} points outside the source directory (${resolved}); it would be missing from the artifact`,
    );
    return;
  }
  const path = resolved === "" ? "." : resolved;
  if (ctx.fileSet.has(path)) {
    if (expect === "component") {
      issue(
        ctx,
        node,
        "kustomization-not-a-directory",
        `${label} is a file; a component must be a directory with a kustomization`,
      );
      return;
    }
    if (role === "patch") ctx.info.patchFiles.push(path);
    else if (role === "data") ctx.info.dataFiles.push(path);
    else
      ctx.info.resources.push({
        path,
        directory: false,
        label,
        ...position(ctx.parsed, node),
      });
    return;
  }
  if (path === "." || ctx.dirSet.has(path)) {
    if (expect === "file") {
      issue(ctx, node, "kustomization-not-a-file", `${label} is a directory, not a file`);
      return;
    }
    if (!hasKustomization(ctx, path)) {
      issue(
        ctx,
        node,
        "kustomization-missing-kustomization",
        `${label} is a directory without a kustomization.yaml`,
      );
      return;
    }
    const entry = { path, directory: true, label, ...position(ctx.parsed, node) };
    if (expect === "component") ctx.info.components.push(entry);
    else ctx.info.resources.push(entry);
    return;
  }
  // Not in the artifact: say whether it exists on disk (then an ignore rule excluded it).
  ctx.pending.push(
    stat(join(ctx.root, ...path.split("/"))).then(
      () =>
        issue(
          ctx,
          node,
          "kustomization-missing-path",
          `${label} (${path}) exists but is excluded by ignore rules, so it would be missing from the artifact`,
        ),
      () => issue(ctx, node, "kustomization-missing-path", `${label} does not exist (${path})`),
    ),
  );
}

function get(map: YAMLMap, key: string): Node | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (pair === undefined || pair.value === null) return undefined;
  const value = pair.value as Node;
  return isScalar(value) && value.value === null ? undefined : value;
}

/** A list of strings; reports and skips entries of the wrong type. */
function stringList(ctx: Context, map: YAMLMap, field: string): { node: Node; value: string }[] {
  const node = get(map, field);
  if (node === undefined) return [];
  if (!isSeq(node)) {
    issue(ctx, node, "kustomization-invalid", `${field} must be a list`);
    return [];
  }
  const out: { node: Node; value: string }[] = [];
  for (const item of node.items as Node[]) {
    if (isScalar(item) && typeof item.value === "string")
      out.push({ node: item, value: item.value });
    else issue(ctx, item, "kustomization-invalid", `${field} entries must be strings`);
  }
  return out;
}

/** A list of mappings; reports and skips entries of the wrong type. */
function mapList(ctx: Context, map: YAMLMap, field: string): YAMLMap[] {
  const node = get(map, field);
  if (node === undefined) return [];
  if (!isSeq(node)) {
    issue(ctx, node, "kustomization-invalid", `${field} must be a list`);
    return [];
  }
  const out: YAMLMap[] = [];
  for (const item of node.items as Node[]) {
    if (isMap(item)) out.push(item);
    else issue(ctx, item, "kustomization-invalid", `${field} entries must be mappings`);
  }
  return out;
}

function stringValue(
  ctx: Context,
  map: YAMLMap,
  field: string,
  label: string,
): { node: Node; value: string } | undefined {
  const node = get(map, field);
  if (node === undefined) return undefined;
  if (isScalar(node) && typeof node.value === "string") return { node, value: node.value };
  issue(ctx, node, "kustomization-invalid", `${label} must be a string`);
  return undefined;
}

/** An inline patch (YAML text) rather than a file name. */
function isInlinePatch(value: string): boolean {
  return (
    value.includes("\n") || /^\s*(apiVersion|kind|metadata|-)\b/.test(value) || value.includes(": ")
  );
}

export async function checkKustomization(
  root: string,
  parsed: ParsedYaml,
  fileSet: ReadonlySet<string>,
  issues: ValidationIssue[],
  /**
   * Where unknown fields go: `issues`, or warnings for the root kustomization.yaml, which Flux
   * rewrites through a lenient decoder (so unknown fields vanish and an empty file is fine).
   */
  unknownFields: ValidationIssue[] = issues,
): Promise<KustomizationInfo | undefined> {
  const docs = parsed.docs.filter((d) => d.contents !== null);
  const node = docs[0]?.contents as Node | null | undefined;
  if (docs.length === 0 && unknownFields !== issues) {
    // The root kustomization.yaml, empty: Flux rewrites it into an empty Kustomization.
    return {
      kind: "Kustomization",
      resources: [],
      components: [],
      patchFiles: [],
      dataFiles: [],
      fields: [],
    };
  }
  if (docs.length !== 1 || node === null || node === undefined || !isMap(node)) {
    issues.push({
      file: parsed.path,
      ...position(parsed, node ?? undefined),
      rule: "kustomization-invalid",
      message: "a kustomization file must hold exactly one YAML mapping",
    });
    return undefined;
  }
  const map = node;
  const dirSet = new Set<string>();
  for (const path of fileSet) {
    let dir = posix.dirname(path);
    while (dir !== ".") {
      dirSet.add(dir);
      dir = posix.dirname(dir);
    }
  }
  const ctx: Context = {
    root,
    parsed,
    dir: posix.dirname(parsed.path),
    fileSet,
    dirSet,
    issues,
    info: {
      kind: "Kustomization",
      resources: [],
      components: [],
      patchFiles: [],
      dataFiles: [],
      fields: map.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : [])),
    },
    pending: [],
  };

  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined || KNOWN_FIELDS.has(key)) continue;
    unknownFields.push({
      file: parsed.path,
      ...position(parsed, pair.key as Node),
      rule: "kustomization-unknown-field",
      message:
        unknownFields === issues
          ? `unknown field "${key}": kustomize refuses fields it does not know; check the spelling (e.g. resources, patches, namespace)`
          : `unknown field "${key}": Flux drops it when it rewrites the root kustomization.yaml, so it has no effect; check the spelling`,
    });
  }
  const kind = stringValue(ctx, map, "kind", "kind");
  if (kind !== undefined) {
    ctx.info.kind = kind.value;
    if (API_VERSIONS[kind.value] === undefined)
      issue(
        ctx,
        kind.node,
        "kustomization-kind",
        `kind ${kind.value} is neither Kustomization nor Component`,
      );
  }
  const apiVersion = stringValue(ctx, map, "apiVersion", "apiVersion");
  const expected = API_VERSIONS[ctx.info.kind];
  if (apiVersion !== undefined && expected !== undefined && apiVersion.value !== expected)
    issue(
      ctx,
      apiVersion.node,
      "kustomization-kind",
      `apiVersion of a ${ctx.info.kind} must be ${expected}, not ${apiVersion.value}`,
    );
  for (const field of ["namespace", "namePrefix", "nameSuffix"] as const) {
    const value = stringValue(ctx, map, field, field);
    if (value !== undefined) ctx.info[field] = value.value;
  }
  for (const field of ["helmCharts", "helmChartInflationGenerator", "helmGlobals"]) {
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === field);
    if (pair !== undefined)
      issue(
        ctx,
        pair.key as Node,
        "kustomization-helm",
        `${field}: Flux runs kustomize without Helm, so this kustomization cannot be built; install the chart with a HelmRelease (helm.toolkit.fluxcd.io) instead`,
      );
  }

  for (const field of ["resources", "bases"]) {
    for (const { node: n, value } of stringList(ctx, map, field)) {
      checkPath(ctx, n, value, `${field} entry "${value}"`, "resource", "include");
    }
  }
  for (const { node: n, value } of stringList(ctx, map, "components")) {
    checkPath(ctx, n, value, `components entry "${value}"`, "component", "include");
  }
  for (const { node: n, value } of stringList(ctx, map, "crds")) {
    checkPath(ctx, n, value, `crds entry "${value}"`, "file", "patch");
  }
  for (const { node: n, value } of stringList(ctx, map, "patchesStrategicMerge")) {
    if (!isInlinePatch(value)) {
      checkPath(ctx, n, value, `patchesStrategicMerge entry "${value}"`, "file", "patch");
    }
  }
  for (const field of ["patches", "patchesJson6902", "replacements"]) {
    for (const item of mapList(ctx, map, field)) {
      const path = stringValue(ctx, item, "path", `${field}[].path`);
      if (path !== undefined)
        checkPath(ctx, path.node, path.value, `${field} path "${path.value}"`, "file", "patch");
    }
  }
  for (const field of ["configMapGenerator", "secretGenerator"]) {
    for (const generator of mapList(ctx, map, field)) {
      for (const { node: n, value } of stringList(ctx, generator, "files")) {
        // "key=path" or "path"
        const eq = value.indexOf("=");
        const path = eq === -1 ? value : value.slice(eq + 1);
        checkPath(ctx, n, path, `${field} files entry "${value}"`, "file", "data");
      }
      for (const { node: n, value } of stringList(ctx, generator, "envs")) {
        checkPath(ctx, n, value, `${field} envs entry "${value}"`, "file", "data");
      }
      const env = stringValue(ctx, generator, "env", `${field}[].env`);
      if (env !== undefined)
        checkPath(ctx, env.node, env.value, `${field} env "${env.value}"`, "file", "data");
    }
  }
  for (const { node: n, value } of stringList(ctx, map, "configurations")) {
    checkPath(ctx, n, value, `configurations entry "${value}"`, "file", "patch");
  }
  const openapi = get(map, "openapi");
  if (openapi !== undefined) {
    if (!isMap(openapi)) {
      issue(ctx, openapi, "kustomization-invalid", "openapi must be a mapping");
    } else {
      const path = stringValue(ctx, openapi, "path", "openapi.path");
      if (path !== undefined)
        checkPath(ctx, path.node, path.value, `openapi path "${path.value}"`, "file", "patch");
    }
  }
  await Promise.all(ctx.pending);
  return ctx.info;
}
