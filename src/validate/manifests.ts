/**
 * FR-017: validates a source directory before it is packaged. Every issue names the file (path
 * relative to the source root) and, where it has one, the line and column.
 *
 * Rules (rule id → meaning):
 * - empty-source: no files left after ignore rules
 * - file-too-large: a file over the per-file limit (default 1 MiB)
 * - binary-file: a NUL byte; invalid-utf8: bytes that are not UTF-8
 * - yaml-syntax: a `.yaml`/`.yml`/`.json` document does not parse (yaml's own message)
 * - not-an-object: a document is a sequence or scalar instead of a mapping
 * - missing-field / invalid-field: apiVersion, kind, metadata.name (or generateName)
 * - duplicate-object: the same group/kind/namespace/name twice among the files Flux would build
 *   together (see `buildSet`); one issue at every occurrence, naming the others
 * - kustomization-*: see ./kustomization.ts
 *
 * Files a kustomization uses as data (patches, generator inputs, openapi schemas, replacements,
 * configurations) are not Kubernetes objects and get only the byte-level checks plus, for patches,
 * the YAML syntax check.
 */
import { posix } from "node:path";
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { readSourceFiles, type SourceFile } from "../artifact/source-files.js";
import {
  KUSTOMIZATION_FILE_NAMES,
  checkKustomization,
  isKustomizeConfig,
  type KustomizationInfo,
} from "./kustomization.js";
import { position, type ParsedYaml, type ValidationIssue } from "./issues.js";
import { firstInvalidUtf8, lineAtByte } from "./text.js";
import { fastObjects, type FastObject } from "./fast-objects.js";
import { noValidationCache, type ValidationCache } from "./cache.js";
import { createHash } from "node:crypto";

export type { ParsedYaml, ValidationIssue } from "./issues.js";

export interface ValidateOptions {
  /** Per-file size limit in bytes; default 1 MiB. */
  maxFileSize?: number;
  /** Results of earlier runs by file content (see cache.ts); default none. */
  cache?: ValidationCache;
  /** The files' contents when the caller has read them already (see readSourceFiles). */
  contents?: (Buffer | undefined)[];
}

export const DEFAULT_MAX_FILE_SIZE = 1024 * 1024;
const YAML_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

function isYamlFile(path: string): boolean {
  const base = posix.basename(path);
  return YAML_EXTENSIONS.has(posix.extname(base).toLowerCase()) || base === "Kustomization";
}

export function isKustomizationFile(path: string): boolean {
  return KUSTOMIZATION_FILE_NAMES.includes(posix.basename(path));
}

function contentDigest(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** UTF-8 text without a byte-order mark. */
function decode(data: Buffer): string {
  const text = data.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** yaml's message without the " at line N, column M:" tail and the code frame. */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "");
}

function parseYaml(path: string, text: string, issues: ValidationIssue[]): ParsedYaml | undefined {
  const lineCounter = new LineCounter();
  const parsedDocs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const docs = Array.isArray(parsedDocs) ? parsedDocs : [];
  let ok = true;
  for (const doc of docs) {
    for (const error of doc.errors) {
      ok = false;
      const pos = error.linePos?.[0];
      issues.push({
        file: path,
        ...(pos ? { line: pos.line, column: pos.col } : {}),
        rule: "yaml-syntax",
        message: yamlMessage(error.message),
      });
    }
  }
  return ok ? { path, docs, lineCounter } : undefined;
}

interface ObjectLocation {
  file: string;
  line?: number;
  column?: number;
  display: string;
}

/** An object found by the fast path: its document index stands in for the position. */
interface FastLocation {
  file: string;
  document: number;
  display: string;
}

function stringField(
  map: YAMLMap,
  key: string,
  label: string,
  parsed: ParsedYaml,
  issues: ValidationIssue[],
  mapNode: Node,
): string | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (
    pair === undefined ||
    pair.value === null ||
    (isScalar(pair.value) && pair.value.value === null)
  ) {
    issues.push({
      file: parsed.path,
      ...position(parsed, (pair?.key as Node | undefined) ?? mapNode),
      rule: "missing-field",
      message: `missing ${label}`,
    });
    return undefined;
  }
  const value = pair.value as Node;
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

function getNode(map: YAMLMap, key: string): { key: Node; value: Node | null } | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair === undefined
    ? undefined
    : { key: pair.key as Node, value: (pair.value as Node | null) ?? null };
}

/** Checks one object (mapping) and returns its identity when it has a name. */
function checkObject(
  node: Node,
  where: string,
  parsed: ParsedYaml,
  issues: ValidationIssue[],
  objects: { key: string; location: ObjectLocation }[],
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
  if (apiVersion !== undefined && isKustomizeConfig(apiVersion)) return;

  // v1 List (and *List kinds): the items are the objects.
  const items = getNode(node, "items");
  if (kind !== undefined && kind.endsWith("List") && items !== undefined && isSeq(items.value)) {
    items.value.items.forEach((item, i) => {
      checkObject(item as Node, `item ${i + 1} of ${kind}`, parsed, issues, objects);
    });
    return;
  }

  const metadata = getNode(node, "metadata");
  if (
    metadata === undefined ||
    metadata.value === null ||
    (isScalar(metadata.value) && metadata.value.value === null)
  ) {
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
  const hasGenerateName = getNode(meta, "generateName") !== undefined;
  const nameNode = getNode(meta, "name");
  if (nameNode === undefined && hasGenerateName) {
    stringField(meta, "generateName", "metadata.generateName", parsed, issues, metadata.key);
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
  const display = `${kind} ${namespace === "" ? "" : `${namespace}/`}${name}`;
  objects.push({
    key: `${group}\u0000${kind}\u0000${namespace}\u0000${name}`,
    location: { file: parsed.path, ...position(parsed, node), display },
  });
}

function formatLocation(location: ObjectLocation): string {
  return location.line === undefined ? location.file : `${location.file}:${location.line}`;
}

function compareIssues(a: ValidationIssue, b: ValidationIssue): number {
  const byFile = Buffer.compare(Buffer.from(a.file), Buffer.from(b.file));
  if (byFile !== 0) return byFile;
  return (
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.column ?? 0) - (b.column ?? 0) ||
    a.rule.localeCompare(b.rule) ||
    a.message.localeCompare(b.message)
  );
}

/**
 * The files Flux would build together from the source root: the root kustomization's resources
 * (recursively), or — without one — every YAML file, with subdirectories that hold a
 * kustomization taken as a unit (how kustomize-controller generates a kustomization).
 */
function buildSet(
  fileSet: ReadonlySet<string>,
  kustomizations: ReadonlyMap<string, KustomizationInfo>,
): Set<string> {
  const reached = new Set<string>();
  const visited = new Set<string>();
  const allDirs = new Set<string>();
  for (const path of fileSet) {
    let dir = posix.dirname(path);
    while (dir !== ".") {
      allDirs.add(dir);
      dir = posix.dirname(dir);
    }
  }
  const kustomizationIn = (dir: string): KustomizationInfo | undefined => kustomizations.get(dir);
  const visit = (dir: string): void => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const kustomization = kustomizationIn(dir);
    if (kustomization !== undefined) {
      for (const target of kustomization.resourceFiles) reached.add(target);
      for (const target of kustomization.resourceDirs) visit(target);
      return;
    }
    const prefix = dir === "." ? "" : `${dir}/`;
    for (const path of fileSet) {
      if (path.startsWith(prefix) && !path.slice(prefix.length).includes("/")) reached.add(path);
    }
    for (const sub of allDirs) {
      if (sub.startsWith(prefix) && !sub.slice(prefix.length).includes("/")) visit(sub);
    }
  };
  visit(".");
  return reached;
}

export async function validateSource(
  root: string,
  files: SourceFile[],
  options: ValidateOptions = {},
): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  if (files.length === 0) {
    issues.push({
      file: ".",
      rule: "empty-source",
      message: "the source directory has no files to package (after ignore rules)",
    });
    return issues;
  }
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const contents = options.contents ?? (await readSourceFiles(files, maxFileSize));

  const parsedFiles = new Map<string, ParsedYaml>();
  /** Files that passed the fast path: only their objects' identities are known. */
  const fastFiles = new Map<string, FastObject[]>();
  const raw = new Map<string, Buffer>();
  const cache = options.cache ?? noValidationCache;
  let slice = performance.now();
  for (const [i, file] of files.entries()) {
    // Parsing is synchronous: give the event loop a turn every few milliseconds so that work
    // running alongside (the layer build feeding gzip on the thread pool) keeps flowing.
    if (performance.now() - slice > 8) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
    const data = contents[i];
    if (data === undefined) {
      issues.push({
        file: file.path,
        rule: "file-too-large",
        message: `file is ${file.size} bytes, over the limit of ${maxFileSize} bytes per file`,
      });
      continue;
    }
    if (data.length > maxFileSize) {
      issues.push({
        file: file.path,
        rule: "file-too-large",
        message: `file is ${data.length} bytes, over the limit of ${maxFileSize} bytes per file`,
      });
      continue;
    }
    const digest =
      isYamlFile(file.path) && !isKustomizationFile(file.path) ? contentDigest(data) : undefined;
    const remembered = digest === undefined ? undefined : cache.get(digest);
    if (remembered !== undefined) {
      fastFiles.set(file.path, remembered);
      raw.set(file.path, data);
      continue;
    }
    const nul = data.indexOf(0);
    if (nul !== -1) {
      issues.push({
        file: file.path,
        line: lineAtByte(data, nul),
        rule: "binary-file",
        message: "file contains NUL bytes (binary content); only text files belong in an artifact",
      });
      continue;
    }
    const invalid = firstInvalidUtf8(data);
    if (invalid !== -1) {
      issues.push({
        file: file.path,
        line: lineAtByte(data, invalid),
        rule: "invalid-utf8",
        message: `file is not valid UTF-8 (byte 0x${data[invalid]!.toString(16).padStart(2, "0")} at offset ${invalid})`,
      });
      continue;
    }
    if (!isYamlFile(file.path)) continue;
    const text = decode(data);
    raw.set(file.path, data);
    if (digest !== undefined) {
      const fast = fastObjects(text);
      if (fast !== undefined) {
        fastFiles.set(file.path, fast);
        cache.set(digest, fast);
        continue;
      }
    }
    const parsed = parseYaml(file.path, text, issues);
    if (parsed !== undefined) parsedFiles.set(file.path, parsed);
  }

  const fileSet = new Set(files.map((f) => f.path));
  const dataFiles = new Set<string>();
  const kustomizations = new Map<string, KustomizationInfo>();
  for (const parsed of parsedFiles.values()) {
    if (!isKustomizationFile(parsed.path)) continue;
    const info = await checkKustomization(root, parsed, fileSet, issues);
    if (info === undefined) continue;
    for (const path of info.dataFiles) dataFiles.add(path);
    const dir = posix.dirname(parsed.path);
    if (!kustomizations.has(dir)) kustomizations.set(dir, info);
  }

  const objects: { key: string; location: ObjectLocation | FastLocation }[] = [];
  for (const parsed of parsedFiles.values()) {
    if (isKustomizationFile(parsed.path) || dataFiles.has(parsed.path)) continue;
    parsed.docs.forEach((doc, i) => {
      const node = doc.contents as Node | null;
      if (node === null || (isScalar(node) && node.value === null)) return;
      checkObject(node, `document ${i + 1}`, parsed, issues, objects);
    });
  }
  for (const [path, fast] of fastFiles) {
    if (dataFiles.has(path)) continue;
    for (const object of fast)
      objects.push({
        key: object.key,
        location: { file: path, document: object.document, display: object.display },
      });
  }

  const built = buildSet(
    new Set(
      [...fileSet].filter((p) => (parsedFiles.has(p) || fastFiles.has(p)) && !dataFiles.has(p)),
    ),
    kustomizations,
  );
  const byKey = new Map<string, (ObjectLocation | FastLocation)[]>();
  for (const { key, location } of objects) {
    if (!built.has(location.file)) continue;
    const list = byKey.get(key) ?? [];
    list.push(location);
    byKey.set(key, list);
  }
  // Exact positions of fast-path objects are needed only for duplicates: parse those files fully.
  const reparsed = new Map<string, ParsedYaml | undefined>();
  const exact = (location: ObjectLocation | FastLocation): ObjectLocation => {
    if (!("document" in location)) return location;
    if (!reparsed.has(location.file)) {
      reparsed.set(
        location.file,
        parseYaml(location.file, decode(raw.get(location.file) ?? Buffer.alloc(0)), []),
      );
    }
    const parsed = reparsed.get(location.file);
    const node = parsed?.docs[location.document]?.contents as Node | null | undefined;
    return {
      file: location.file,
      ...(parsed ? position(parsed, node) : {}),
      display: location.display,
    };
  };
  for (const found of byKey.values()) {
    if (found.length < 2) continue;
    const locations = found.map(exact);
    for (const location of locations) {
      const others = locations.filter((l) => l !== location).map(formatLocation);
      issues.push({
        file: location.file,
        ...(location.line === undefined ? {} : { line: location.line, column: location.column }),
        rule: "duplicate-object",
        message: `duplicate object ${location.display}: also defined at ${others.join(", ")}`,
      });
    }
  }

  return issues.sort(compareIssues);
}
