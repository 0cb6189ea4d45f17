/**
 * kustomize's name suffix hash of a generated ConfigMap or Secret (sigs.k8s.io/kustomize/api/hasher):
 * the SHA-256 of the JSON encoding (Go's encoding/json: keys sorted, HTML-safe escaping) of
 * `{kind, name, data, binaryData}` for a ConfigMap (binaryData only when present) or
 * `{kind, name, type, data}` for a Secret — nothing else of the object (labels, annotations,
 * namespace) enters it. `name` is always "": kustomize looks the name up as one field called
 * `metadata/name`, which no object has, so neither the name nor a prefix changes the hash
 * (checked against `flux build`: `settings` and `dev-settings` get the same suffix). Its first 10 hex digits, with 0 1 3 a e replaced by g h k m t so the
 * suffix never reads as a number or a word.
 */
import { createHash } from "node:crypto";

/** The hashed content of a generated object: a missing field is "" (as kustomize reads it). */
export interface GeneratedContent {
  /** ConfigMap: UTF-8 values; Secret: base64 values. */
  data?: Map<string, string>;
  /** ConfigMap only: base64 values of content that is not valid UTF-8. */
  binaryData?: Map<string, string>;
  /** Secret only. */
  type?: string;
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** A string as Go's json.Marshal writes it (with its HTML escaping of < > & U+2028 U+2029). */
function goString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ESCAPES[ch] !== undefined) out += ESCAPES[ch];
    else if (
      code < 0x20 ||
      ch === "<" ||
      ch === ">" ||
      ch === "&" ||
      code === 0x2028 ||
      code === 0x2029
    )
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

type JsonValue = string | Map<string, string>;

/** A map as Go's json.Marshal writes it: keys sorted by their UTF-8 bytes. */
function goObject(entries: Iterable<[string, JsonValue]>): string {
  const sorted = [...entries].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const body = sorted.map(
    ([key, value]) =>
      `${goString(key)}:${typeof value === "string" ? goString(value) : goObject(value)}`,
  );
  return `{${body.join(",")}}`;
}

/** kustomize's `-<hash>` suffix (without the dash) for this generated object. */
export function nameHash(kind: "ConfigMap" | "Secret", content: GeneratedContent): string {
  const fields: [string, JsonValue][] = [
    ["kind", kind],
    ["name", ""],
    ["data", content.data ?? ""],
  ];
  if (kind === "ConfigMap" && content.binaryData !== undefined)
    fields.push(["binaryData", content.binaryData]);
  if (kind === "Secret") fields.push(["type", content.type ?? ""]);
  const hex = createHash("sha256").update(goObject(fields)).digest("hex");
  const replaced: Record<string, string> = { "0": "g", "1": "h", "3": "k", a: "m", e: "t" };
  return [...hex.slice(0, 10)].map((c) => replaced[c] ?? c).join("");
}
