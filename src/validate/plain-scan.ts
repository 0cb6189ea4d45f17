/**
 * The fastest path of validation: a line scanner for the plainest YAML — the shape most
 * manifests have — that finds the same object identities as fastObjects (fast-objects.ts)
 * without building the documents, several times faster than js-yaml and with almost no
 * garbage. It accepts a file only when every line is one of:
 *
 * - blank, a whole-line comment, or a document start `---`;
 * - `key: value` or `key:` (a nested block or null follows), with a plain ASCII key;
 * - `- value`, `-` (a nested block follows) or `- key: value` / `- key:` (a mapping in a list);
 *
 * where a value is a plain scalar that cannot mean anything else (no `: `, ` #`, no indicator
 * first), a one-line quoted string without escapes, or a block scalar (`|`, `>`, with chomping)
 * whose content lines are indented deeper. Indentation must be spaces and consistent, keys unique
 * in their mapping, and every document a mapping at column 0. Anything else — flow collections,
 * anchors, tags, multi-line plain or quoted scalars, escapes, trailing comments, directives,
 * non-printable characters — returns undefined, and the file goes to js-yaml, which judges it.
 * Every scan result is checked against js-yaml in test/unit/validate-plain-scan.test.ts.
 */
import type { FastObject } from "./fast-objects.js";

/** Characters YAML does not allow in a stream (js-yaml's own test). */
const NON_PRINTABLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/;
/**
 * A key the scanner takes: what Kubernetes field names, labels and data keys look like. It starts
 * with a letter, so it is a string under every schema (`1` and `01`, or `true` and `True`, would
 * be the same key to js-yaml).
 */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
/** Line separators other than LF/CR and a byte-order mark inside the text: left to js-yaml. */
const UNUSUAL = /[\x85\u2028\u2029\uFEFF]/;
/** Anything but printable ASCII, tab and line breaks: only then are the two tests above needed. */
const NOT_PLAIN_ASCII = /[^\t\n\r\x20-\x7e]/;
/** A plain scalar that is a string under every YAML schema (identity fields must be strings). */
const STRING_SCALAR = /^[A-Za-z][A-Za-z0-9._/-]*$/;
const NOT_STRINGS = new Set([
  "null",
  "Null",
  "NULL",
  "true",
  "True",
  "TRUE",
  "false",
  "False",
  "FALSE",
]);
/** First characters a plain scalar may start with here (YAML indicators excluded). */
const PLAIN_START = /^(?:[A-Za-z0-9_./$=+(~\u00A0-\uFEFE\uFF00-\uFFFD]|-[^\s])/;
const SINGLE_QUOTED = /^'(?:[^']|'')*'$/;
const BLOCK_HEADER = /^[|>][-+]?$/;

interface Block {
  indent: number;
  kind: "map" | "seq";
  keys?: Set<string>;
  /** The key this block is the value of ("" at the root, "-" for a list item). */
  key: string;
  depth: number;
}

/** A value on a line: "" (a nested block or null follows), a scalar, or a block scalar header. */
type Value = { kind: "empty" } | { kind: "scalar"; text: string } | { kind: "block" };

function readValue(raw: string): Value | undefined {
  let start = 0;
  while (raw.charCodeAt(start) === 0x20) start++;
  const text = raw.slice(start).trimEnd();
  if (text === "") return { kind: "empty" };
  const first = text.charCodeAt(0);
  if (first === 0x7c /* | */ || first === 0x3e /* > */)
    return BLOCK_HEADER.test(text) ? { kind: "block" } : undefined;
  if (first === 0x22 /* " */) {
    // One line, no escapes: the only other `"` is the last character.
    const closed = text.length > 1 && text.indexOf('"', 1) === text.length - 1;
    return closed && !text.includes("\\") ? { kind: "scalar", text } : undefined;
  }
  if (first === 0x27 /* ' */)
    return SINGLE_QUOTED.test(text) ? { kind: "scalar", text } : undefined;
  if (!PLAIN_START.test(text)) return undefined;
  if (text.includes(": ") || text.includes(" #") || text.includes("\t") || text.endsWith(":"))
    return undefined;
  return { kind: "scalar", text };
}

/** The string an identity field holds, or undefined when it is not certainly a plain string. */
function identityString(value: Value): string | undefined {
  if (value.kind !== "scalar") return undefined;
  const { text } = value;
  if (text.startsWith('"')) return text.slice(1, -1);
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  return STRING_SCALAR.test(text) && !NOT_STRINGS.has(text) ? text : undefined;
}

/** What one document says about its identity while it is scanned. */
interface Identity {
  apiVersion?: Value;
  kind?: Value;
  /** metadata is a mapping (undefined: absent; false: present but not a mapping). */
  metadata?: boolean;
  name?: Value;
  namespace?: Value;
  items: boolean;
}

function identityOf(document: number, found: Identity): FastObject | undefined {
  if (found.apiVersion === undefined || found.kind === undefined || found.metadata !== true)
    return undefined;
  const apiVersion = identityString(found.apiVersion);
  const kind = identityString(found.kind);
  const name = found.name === undefined ? undefined : identityString(found.name);
  if (!apiVersion?.trim() || !kind?.trim() || !name?.trim()) return undefined;
  if (kind.endsWith("List") && found.items) return undefined;
  let namespace = "";
  if (found.namespace !== undefined && found.namespace.kind !== "empty") {
    const text = found.namespace.kind === "scalar" ? found.namespace.text : "";
    if (text !== "~" && text !== "null" && text !== "Null" && text !== "NULL") {
      const ns = identityString(found.namespace);
      if (!ns?.trim()) return undefined;
      namespace = ns;
    }
  }
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
  return {
    document,
    key: `${group}\u0000${kind}\u0000${namespace}\u0000${name}`,
    display: `${kind} ${namespace === "" ? "" : `${namespace}/`}${name}`,
  };
}

/** The identities of a plain file's objects, or undefined when js-yaml must read it. */
export function scanPlainObjects(text: string): FastObject[] | undefined {
  if (NOT_PLAIN_ASCII.test(text) && (NON_PRINTABLE.test(text) || UNUSUAL.test(text)))
    return undefined;
  const crlf = text.includes("\r");
  const lines = text.split("\n");
  const objects: FastObject[] = [];
  let document = 0;
  /** The document had content or an explicit `---` (a further `---` starts the next one). */
  let started = false;
  let stack: Block[] = [];
  let found: Identity = { items: false };
  /** The previous line ended with `key:` or `-`: a nested block may follow (indent > this). */
  let opened: { indent: number; key: string; depth: number; seqAtSameIndent: boolean } | undefined;
  /** Inside a block scalar: lines deeper than `parent` (or blank) are its content. */
  let scalar: { parent: number; content?: number; leadingBlank: number } | undefined;

  const finishDocument = (): boolean => {
    if (stack.length > 0) {
      const object = identityOf(document, found);
      if (object === undefined) return false;
      objects.push(object);
    }
    stack = [];
    found = { items: false };
    opened = undefined;
    scalar = undefined;
    return true;
  };

  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (crlf) {
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.includes("\r")) return undefined;
    }
    let indent = 0;
    while (line.charCodeAt(indent) === 0x20) indent++;
    const rest = line.slice(indent);

    if (scalar !== undefined) {
      if (rest === "") {
        if (scalar.content === undefined)
          scalar.leadingBlank = Math.max(scalar.leadingBlank, indent);
        continue;
      }
      if (scalar.content === undefined) {
        if (indent > scalar.parent) {
          if (scalar.leadingBlank > indent) return undefined;
          scalar.content = indent;
          continue;
        }
      } else if (indent >= scalar.content) {
        continue;
      } else if (indent > scalar.parent) {
        return undefined; // less indented than the content, but still inside the value
      }
      scalar = undefined;
    }

    if (rest === "") continue;
    if (rest.charCodeAt(0) === 0x09 /* tab */) return undefined;
    if (rest.startsWith("#")) continue;
    if (indent === 0 && line.startsWith("---")) {
      if (line.trimEnd() !== "---") return undefined;
      if (!finishDocument()) return undefined;
      if (started) document++;
      started = true;
      continue;
    }
    if (indent === 0 && (line.startsWith("...") || line.startsWith("%"))) return undefined;
    started = true;

    // Which block this line belongs to.
    const isItem = rest === "-" || rest.startsWith("- ");
    if (opened !== undefined) {
      const deeper = indent > opened.indent;
      const sameIndentList = opened.seqAtSameIndent && indent === opened.indent && isItem;
      if (deeper || sameIndentList) {
        stack.push({
          indent,
          kind: isItem ? "seq" : "map",
          ...(isItem ? {} : { keys: new Set<string>() }),
          key: opened.key,
          depth: opened.depth,
        });
        // metadata must be a mapping, not a list.
        if (opened.key === "metadata" && opened.depth === 1) found.metadata = !isItem;
      }
      opened = undefined;
    }
    if (stack.length === 0) {
      if (indent !== 0 || isItem) return undefined; // the document must be a mapping at column 0
      stack.push({ indent: 0, kind: "map", keys: new Set(), key: "", depth: 0 });
    }
    while (stack.length > 0 && stack.at(-1)!.indent > indent) stack.pop();
    let block = stack.at(-1);
    if (block !== undefined && block.indent === indent && block.kind === "seq" && !isItem) {
      // A list at its key's own indentation ends at the next key of that mapping.
      stack.pop();
      block = stack.at(-1);
    }
    if (block === undefined || block.indent !== indent) return undefined;
    if ((block.kind === "seq") !== isItem) return undefined;

    let keyLine = rest;
    let keyIndent = indent;
    let mapBlock = block;
    if (isItem) {
      const after = rest.slice(1);
      let gap = 0;
      while (after.charCodeAt(gap) === 0x20) gap++;
      const item = after.slice(gap);
      const depth = block.depth + 1;
      if (item.startsWith("#")) return undefined; // a comment after `-`
      if (item === "") {
        opened = { indent, key: "-", depth, seqAtSameIndent: false };
        continue;
      }
      if (item.startsWith("- ") || item === "-") return undefined; // nested compact lists
      const colon = item.indexOf(":");
      const isPair = colon > 0 && (item.length === colon + 1 || item[colon + 1] === " ");
      if (!isPair || !PLAIN_KEY.test(item.slice(0, colon))) {
        // `item` is not empty, so neither is its value.
        const value = readValue(item);
        if (value === undefined) return undefined;
        if (value.kind === "block") scalar = { parent: indent, leadingBlank: 0 };
        continue;
      }
      // `- key: value` starts a mapping whose keys sit at the column of `key`.
      keyIndent = indent + 1 + gap;
      mapBlock = { indent: keyIndent, kind: "map", keys: new Set(), key: "-", depth };
      stack.push(mapBlock);
      keyLine = item;
    }

    const colon = keyLine.indexOf(":");
    if (colon <= 0 || (keyLine.length > colon + 1 && keyLine[colon + 1] !== " ")) return undefined;
    const key = keyLine.slice(0, colon);
    if (key.length > 1024 || !PLAIN_KEY.test(key) || NOT_STRINGS.has(key)) return undefined;
    if (mapBlock.keys!.has(key)) return undefined; // js-yaml refuses duplicate keys
    mapBlock.keys!.add(key);
    const value = readValue(keyLine.slice(colon + 1));
    if (value === undefined) return undefined;

    if (mapBlock.depth === 0) {
      if (key === "apiVersion") found.apiVersion = value;
      else if (key === "kind") found.kind = value;
      else if (key === "items") found.items = true;
      else if (key === "metadata") found.metadata = value.kind === "empty" ? undefined : false;
    } else if (mapBlock.depth === 1 && mapBlock.key === "metadata") {
      if (key === "name") found.name = value;
      else if (key === "namespace") found.namespace = value;
    }
    if (value.kind === "empty")
      opened = { indent: keyIndent, key, depth: mapBlock.depth + 1, seqAtSameIndent: true };
    else if (value.kind === "block") scalar = { parent: keyIndent, leadingBlank: 0 };
  }
  if (!finishDocument()) return undefined;
  return objects;
}
