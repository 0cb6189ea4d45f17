/**
 * The SOPS tree walk over parsed YAML documents, as sops does it (sops.go: Tree.Encrypt/Decrypt,
 * walkBranch/walkSlice, shouldBeEncrypted):
 *
 * - every leaf value is visited in document order, all documents of the file one after another;
 *   a leaf's path is the keys above it (list items take their list's path, no index);
 * - whether a leaf is encrypted depends on its path: unencrypted_suffix (the default, `_unencrypted`),
 *   encrypted_suffix, unencrypted_regex and encrypted_regex, each tested against every key of the
 *   path; comments take the path of the mapping or list they stand in;
 * - the MAC is SHA-512 over the plaintext bytes of every non-null leaf (only the encrypted ones,
 *   after a fixed 32-byte prefix, with mac_only_encrypted), comments excluded, written as
 *   uppercase hex.
 *
 * Values are typed as yaml.v3 reads them into sops: strings, ints, floats and bools; null leaves
 * are neither encrypted nor part of the MAC. Anchors, aliases, merge keys and tags other than the
 * core ones are refused: sops would write their expansion, not them.
 */
import { createHash } from "node:crypto";
import { isAlias, isMap, isPair, isScalar, isSeq, Scalar } from "yaml";
import type { Document, Node, YAMLMap, YAMLSeq } from "yaml";
import {
  decryptValue,
  encryptValue,
  isEncryptedValue,
  ValueCipherError,
  type TypedValue,
} from "./value-cipher.js";

/** Which values are encrypted: at most one of the path rules, as sops allows. */
export interface EncryptionRules {
  encryptedRegex?: string;
  unencryptedRegex?: string;
  encryptedSuffix?: string;
  unencryptedSuffix?: string;
  macOnlyEncrypted?: boolean;
}

export const DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted";
/** sha256("sops"): the MAC's first bytes with mac_only_encrypted (sops.go). */
const MAC_ONLY_ENCRYPTED_PREFIX = Buffer.from(
  "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69",
  "hex",
);
export const METADATA_KEY = "sops";

/** A file sops cannot represent, or a value that does not decrypt; the message names the path. */
export class SopsTreeError extends Error {
  override name = "SopsTreeError";
  constructor(
    message: string,
    readonly node?: Node,
  ) {
    super(message);
  }
}

/** A compiled rule set: whether a path is encrypted. */
export function pathRule(rules: EncryptionRules): (path: readonly string[]) => boolean {
  const count = [
    rules.encryptedRegex,
    rules.unencryptedRegex,
    rules.encryptedSuffix,
    rules.unencryptedSuffix,
  ].filter((r) => r !== undefined && r !== "").length;
  if (count > 1)
    throw new SopsTreeError(
      "use only one of encrypted_suffix, unencrypted_suffix, encrypted_regex and unencrypted_regex",
    );
  const regex = (source: string, field: string) => {
    try {
      return new RegExp(source);
    } catch (error) {
      throw new SopsTreeError(`${field} is not a valid regular expression: ${String(error)}`);
    }
  };
  if (rules.encryptedRegex) {
    const r = regex(rules.encryptedRegex, "encrypted_regex");
    return (path) => path.some((key) => r.test(key));
  }
  if (rules.unencryptedRegex) {
    const r = regex(rules.unencryptedRegex, "unencrypted_regex");
    return (path) => !path.some((key) => r.test(key));
  }
  if (rules.encryptedSuffix) {
    const suffix = rules.encryptedSuffix;
    return (path) => path.some((key) => key.endsWith(suffix));
  }
  const suffix = rules.unencryptedSuffix || DEFAULT_UNENCRYPTED_SUFFIX;
  return (path) => !path.some((key) => key.endsWith(suffix));
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest digits, never an exponent. */
export function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  const shortest = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest);
  if (match === null) return shortest;
  const [, sign, first, rest = "", exp] = match;
  const digits = first! + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

const PLAIN_INT = /^[-+]?(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)$/;

/** A scalar's value as sops reads it; undefined for null. */
export function typedLeaf(node: Scalar): TypedValue | undefined {
  const value: unknown = node.value;
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return { type: "str", text: value };
  if (typeof value === "boolean") return { type: "bool", text: value ? "True" : "False" };
  if (typeof value === "bigint") return { type: "int", text: value.toString() };
  if (typeof value === "number") {
    const source = (node.source ?? "").replace(/_/g, "");
    if (Number.isInteger(value) && PLAIN_INT.test(source)) {
      const negative = source.startsWith("-");
      const digits = source.replace(/^[-+]/, "");
      const big = BigInt(digits.startsWith("0o") ? `0o${digits.slice(2)}` : digits);
      return { type: "int", text: (negative ? -big : big).toString() };
    }
    return { type: "float", text: formatGoFloat(value) };
  }
  throw new SopsTreeError(`a value of type ${typeof value} cannot be encrypted`, node);
}

/** The bytes the MAC takes of a (decrypted) value, as sops' ToBytes gives them. */
function macBytes(value: TypedValue): string {
  switch (value.type) {
    case "int":
      return /^[-+]?\d+$/.test(value.text) ? BigInt(value.text).toString() : value.text;
    case "float": {
      const n = Number(value.text);
      return Number.isNaN(n) && value.text !== "NaN" ? value.text : formatGoFloat(n);
    }
    case "bool":
      return ["1", "t", "T", "TRUE", "true", "True"].includes(value.text) ? "True" : "False";
    default:
      return value.text;
  }
}

/** The scalar a decrypted value is written back as. */
function decryptedScalar(value: TypedValue): unknown {
  switch (value.type) {
    case "int": {
      const big = BigInt(value.text);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    case "float":
      return Number(value.text.replace(/^\+Inf$/, "Infinity").replace(/^-Inf$/, "-Infinity"));
    case "bool":
      return macBytes(value) === "True";
    default:
      return value.text;
  }
}

const CORE_TAGS = new Set([
  "tag:yaml.org,2002:str",
  "tag:yaml.org,2002:int",
  "tag:yaml.org,2002:float",
  "tag:yaml.org,2002:bool",
  "tag:yaml.org,2002:null",
  "tag:yaml.org,2002:map",
  "tag:yaml.org,2002:seq",
]);

/** What the walk does at each leaf and comment. */
interface Visitor {
  /** Reads or replaces the scalar's value. */
  leaf(node: Scalar, path: readonly string[], display: string): void;
  /** Returns the comment's new text. */
  comment(text: string, path: readonly string[]): string;
}

function pathDisplay(path: readonly string[]): string {
  return path.length === 0 ? "the document root" : path.join(".");
}

function checkNode(node: Node): void {
  if (isAlias(node) || ("anchor" in node && node.anchor))
    throw new SopsTreeError(
      "anchors and aliases are not supported in SOPS files: write the values out",
      node,
    );
  if (node.tag !== undefined && !CORE_TAGS.has(node.tag))
    throw new SopsTreeError(`the tag ${node.tag} is not supported in SOPS files`, node);
}

function visitComments(node: Node | Document, path: readonly string[], visitor: Visitor): void {
  if (typeof node.commentBefore === "string" && node.commentBefore !== "")
    node.commentBefore = mapLines(node.commentBefore, (line) => visitor.comment(line, path));
  if (typeof node.comment === "string" && node.comment !== "")
    node.comment = mapLines(node.comment, (line) => visitor.comment(line, path));
}

function mapLines(text: string, map: (line: string) => string): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? line : map(line)))
    .join("\n");
}

function walkValue(
  node: Node | null,
  path: readonly string[],
  parentPath: readonly string[],
  visitor: Visitor,
): void {
  if (node === null) return;
  checkNode(node);
  if (isMap(node)) return walkMap(node, path, visitor);
  if (isSeq(node)) return walkSeq(node, path, visitor);
  if (isScalar(node)) {
    visitComments(node, parentPath, visitor);
    visitor.leaf(node, path, pathDisplay(path));
    return;
  }
  throw new SopsTreeError(`unsupported YAML node at ${pathDisplay(path)}`, node);
}

function walkMap(map: YAMLMap, path: readonly string[], visitor: Visitor, skip?: string): void {
  visitComments(map, path, visitor);
  for (const pair of map.items) {
    if (skip !== undefined && isScalar(pair.key) && pair.key.value === skip) continue;
    if (!isPair(pair) || !isScalar(pair.key) || typeof pair.key.value !== "string")
      throw new SopsTreeError(
        `a key at ${pathDisplay(path)} is not a string; SOPS files have string keys only`,
        isScalar(pair.key) ? pair.key : map,
      );
    if (pair.key.value === "<<")
      throw new SopsTreeError(`merge keys (<<) are not supported in SOPS files`, pair.key);
    checkNode(pair.key);
    visitComments(pair.key, path, visitor);
    walkValue(pair.value as Node | null, [...path, pair.key.value], path, visitor);
  }
}

function walkSeq(seq: YAMLSeq, path: readonly string[], visitor: Visitor): void {
  visitComments(seq, path, visitor);
  for (const item of seq.items) walkValue(item as Node | null, path, path, visitor);
}

/** The document's mapping without the `sops` key; an empty document is skipped. */
function branches(docs: Document.Parsed[]): { doc: Document.Parsed; map: YAMLMap | undefined }[] {
  return docs.map((doc) => {
    const contents = doc.contents as Node | null;
    if (contents === null || (isScalar(contents) && contents.value === null))
      return { doc, map: undefined };
    if (isSeq(contents))
      throw new SopsTreeError("YAML documents that are sequences are not supported", contents);
    if (!isMap(contents))
      throw new SopsTreeError("YAML documents that are values are not supported", contents);
    return { doc, map: contents };
  });
}

function walkDocuments(docs: Document.Parsed[], visitor: Visitor): void {
  for (const { doc, map } of branches(docs)) {
    visitComments(doc, [], visitor);
    if (map !== undefined) walkMap(map, [], visitor, METADATA_KEY);
  }
}

function macHex(parts: string[], macOnlyEncrypted: boolean): string {
  const hash = createHash("sha512");
  if (macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
  for (const part of parts) hash.update(part, "utf8");
  return hash.digest("hex").toUpperCase();
}

/** The additional data of a value: its path joined by ":", then ":" (just ":" at the root). */
function aad(path: readonly string[]): string {
  return `${path.join(":")}:`;
}

/** Encrypts the documents in place with `key`; returns the MAC (uppercase hex). */
export function encryptTree(
  docs: Document.Parsed[],
  key: Uint8Array,
  rules: EncryptionRules,
): string {
  const encrypted = pathRule(rules);
  const mac: string[] = [];
  walkDocuments(docs, {
    leaf(node, path) {
      const value = typedLeaf(node);
      if (value === undefined) return;
      const encrypt = encrypted(path);
      if (!rules.macOnlyEncrypted || encrypt) mac.push(macBytes(value));
      if (!encrypt) return;
      node.value = encryptValue(value, key, aad(path));
      node.type = Scalar.PLAIN;
      delete node.tag;
    },
    comment(text, path) {
      return encrypted(path) ? encryptValue({ type: "comment", text }, key, aad(path)) : text;
    },
  });
  return macHex(mac, rules.macOnlyEncrypted === true);
}

/** Decrypts the documents in place with `key`; returns the MAC of the plaintext (uppercase hex). */
export function decryptTree(
  docs: Document.Parsed[],
  key: Uint8Array,
  rules: EncryptionRules,
): string {
  const encrypted = pathRule(rules);
  const mac: string[] = [];
  walkDocuments(docs, {
    leaf(node, path, display) {
      const encrypt = encrypted(path);
      let value: TypedValue | undefined;
      if (encrypt) {
        if (node.value === null || node.value === undefined) return;
        if (typeof node.value !== "string")
          throw new SopsTreeError(
            `${display} should be encrypted but holds a plain ${typeof node.value}`,
            node,
          );
        try {
          value = decryptValue(node.value, key, aad(path));
        } catch (error) {
          if (error instanceof ValueCipherError)
            throw new SopsTreeError(`${display} does not decrypt: ${error.message}`, node);
          throw error;
        }
        if (value.type === "comment") return; // a list comment written as a value: not in the MAC
        node.value = decryptedScalar(value);
        if (value.type === "str" && value.text.includes("\n")) node.type = Scalar.BLOCK_LITERAL;
      } else {
        value = typedLeaf(node);
        if (value === undefined) return;
      }
      if (!rules.macOnlyEncrypted || encrypt) mac.push(macBytes(value));
    },
    comment(text, path) {
      if (!encrypted(path) || !isEncryptedValue(text)) return text;
      try {
        return decryptValue(text, key, aad(path)).text;
      } catch {
        return text; // as sops: a comment that does not decrypt was not encrypted
      }
    },
  });
  return macHex(mac, rules.macOnlyEncrypted === true);
}
