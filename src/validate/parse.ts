/**
 * Phase 1 of validation, per file: the byte-level checks every packaged file gets, and parsing a
 * YAML/JSON file into documents — by the fast path (fast-objects.ts, cached by content) when the
 * file is plain, else by `yaml` with exact positions. Rules:
 * - file-too-large, binary-file, invalid-utf8 (every file in the artifact)
 * - yaml-syntax: the document does not parse (yaml's own message)
 * - yaml-alias-bomb: aliases expand past MAX_ALIAS_EXPANSION nodes (kustomize would expand them all)
 */
import { createHash } from "node:crypto";
import { loadAll } from "js-yaml";
import { Document, LineCounter, parseAllDocuments } from "yaml";
import type { Node } from "yaml";
import type { SourceFile } from "../artifact/source-files.js";
import { position, type ParsedYaml, type ValidationIssue } from "./issues.js";
import { decode, firstInvalidUtf8, hasAliases, lineAtByte } from "./text.js";
import { fastObjectsOf, type FastObject } from "./fast-objects.js";
import type { ValidationCache } from "./cache.js";

/**
 * yaml's maxAliasCount: how far aliases may expand (count × aliases per document). Ordinary
 * anchors (a shared block of labels, a few merge keys) stay far below it; "billion laughs" files
 * exceed it at once.
 */
export const MAX_ALIAS_EXPANSION = 1000;

/** The byte-level issue of a file, if any (size, NUL bytes, UTF-8). */
export function checkBytes(
  file: SourceFile,
  data: Buffer | undefined,
  maxFileSize: number,
): ValidationIssue | undefined {
  if (data === undefined || data.length > maxFileSize)
    return {
      file: file.path,
      rule: "file-too-large",
      message: `file is ${data?.length ?? file.size} bytes, over the limit of ${maxFileSize} bytes per file`,
    };
  const nul = data.indexOf(0);
  if (nul !== -1)
    return {
      file: file.path,
      line: lineAtByte(data, nul),
      rule: "binary-file",
      message: "file contains NUL bytes (binary content); only text files belong in an artifact",
    };
  const invalid = firstInvalidUtf8(data);
  if (invalid !== -1)
    return {
      file: file.path,
      line: lineAtByte(data, invalid),
      rule: "invalid-utf8",
      message: `file is not valid UTF-8 (byte 0x${data[invalid]!.toString(16).padStart(2, "0")} at offset ${invalid})`,
    };
  return undefined;
}

/** yaml's message without the " at line N, column M:" tail and the code frame. */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "");
}

/** Parses with exact positions; issues go to `issues`. Undefined when the file has errors. */
export function parseYaml(
  path: string,
  text: string,
  issues: ValidationIssue[],
): ParsedYaml | undefined {
  const lineCounter = new LineCounter();
  const parsedDocs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const docs = Array.isArray(parsedDocs) ? parsedDocs : [];
  const before = issues.length;
  for (const doc of docs) {
    for (const error of doc.errors) {
      const pos = error.linePos?.[0];
      issues.push({
        file: path,
        ...(pos ? { line: pos.line, column: pos.col } : {}),
        rule: "yaml-syntax",
        message: yamlMessage(error.message),
      });
    }
  }
  if (issues.length > before) return undefined;
  const parsed = { path, docs, lineCounter };
  if (hasAliases(text)) {
    for (const doc of docs) {
      try {
        doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
      } catch (error) {
        if (!(error instanceof ReferenceError)) throw error;
        issues.push({
          file: path,
          ...position(parsed, doc.contents as Node | null),
          rule: "yaml-alias-bomb",
          message: `YAML aliases expand past ${MAX_ALIAS_EXPANSION} nodes ("billion laughs"); kustomize expands every alias and would exhaust memory: write the repeated values out or use fewer nested aliases`,
        });
      }
    }
    if (issues.length > before) return undefined;
  }
  return parsed;
}

/** A YAML file read by either path. */
export type ReadYaml =
  | { kind: "fast"; objects: FastObject[] }
  | { kind: "parsed"; parsed: ParsedYaml }
  | { kind: "failed"; issues: ValidationIssue[] };

/** sha256 (hex) of a file's bytes: the cache key, and how a re-read is checked to be unchanged. */
export function contentDigest(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The fast path alone: the objects from the cache or js-yaml, undefined when the file needs the exact parser. */
export function readFast(
  data: Buffer,
  digest: string,
  cache: ValidationCache,
): FastObject[] | undefined {
  const remembered = cache.get(digest);
  if (remembered !== undefined) return remembered;
  const fast = fastObjectsOf(data);
  if (fast !== undefined) cache.set(digest, fast);
  return fast;
}

/** Whether js-yaml's value of a file holds only what the exact parser would give the same way. */
function isPlainValue(value: unknown): boolean {
  if (value === null || ["string", "number", "boolean"].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isPlainValue);
  if (typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value as object).every(isPlainValue);
}

/**
 * A kustomization or patch read by js-yaml into yaml Documents that carry no positions: for a
 * large kustomization ~5× faster and ~10× less memory than the exact parser. Undefined when the
 * file needs the exact parser: anything js-yaml rejects, and tags, anchors or merge keys, where
 * the two parsers' schemas differ.
 */
export function readWithoutPositions(path: string, text: string): ParsedYaml | undefined {
  if (text.includes("!") || text.includes("<<") || text.includes("&")) return undefined;
  let values: unknown[];
  try {
    values = loadAll(text);
  } catch {
    return undefined;
  }
  if (!values.every(isPlainValue)) return undefined;
  const docs = values.map((value) => new Document(value) as unknown as Document.Parsed);
  return { path, docs, lineCounter: new LineCounter() };
}

/**
 * Reads a YAML file meant to hold objects: the cache or fast path first (only for object files;
 * `objectFile` false skips them), else the exact parser. `digest`: the content's, when known.
 * `positions` false: a file that is not an object file may be read without line numbers
 * (readWithoutPositions) — for a first pass whose findings, if any, are read again with them.
 */
export function readYaml(
  path: string,
  data: Buffer,
  cache: ValidationCache,
  objectFile: boolean,
  digest?: string,
  positions = true,
): ReadYaml {
  if (objectFile) {
    const fast = readFast(data, digest ?? contentDigest(data), cache);
    if (fast !== undefined) return { kind: "fast", objects: fast };
  } else if (!positions) {
    const parsed = readWithoutPositions(path, decode(data));
    if (parsed !== undefined) return { kind: "parsed", parsed };
  }
  const issues: ValidationIssue[] = [];
  const parsed = parseYaml(path, decode(data), issues);
  return parsed === undefined ? { kind: "failed", issues } : { kind: "parsed", parsed };
}
