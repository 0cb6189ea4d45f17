/**
 * SOPS YAML files: encrypt, decrypt and verify, in the format the sops CLI reads and writes
 * (stores/yaml and stores/metadata in getsops/sops). A file is one or more YAML documents; each
 * gets a copy of the `sops` metadata mapping, which holds:
 *
 * - `age`: per recipient, the file's 32-byte data key encrypted to it (an armored age file);
 * - `lastmodified` (RFC 3339) and `mac`: the MAC of the plaintext (tree.ts) encrypted under the
 *   data key with the time as additional data, so neither can be changed alone;
 * - the encryption rule (`encrypted_regex`, …), `mac_only_encrypted`, and `version`.
 *
 * Only age recipients are written; a file sops wrote for other key types (KMS, PGP, Vault) reads
 * as long as one of its age recipients is at hand. Shamir key groups are refused.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { Document as YamlDocument, isMap, isScalar, parseAllDocuments, Scalar } from "yaml";
import type { Document, Node, YAMLMap } from "yaml";
import {
  decryptTree,
  encryptTree,
  METADATA_KEY,
  SopsTreeError,
  type EncryptionRules,
} from "./tree.js";
import { loadAge } from "./age.js";
import { decryptValue, encryptValue, ValueCipherError } from "./value-cipher.js";

/** The sops format version ksail writes (the sops release it was checked against). */
export const SOPS_FORMAT_VERSION = "3.13.3";

export type SopsErrorReason =
  | "not-sops" // no sops metadata
  | "invalid" // YAML or metadata sops cannot read
  | "no-key" // none of the local identities is a recipient
  | "mac-mismatch" // the content or metadata was changed after encryption
  | "already-encrypted";

/** A SOPS file ksail cannot handle; the message names the line and never holds a value or key. */
export class SopsError extends Error {
  override name = "SopsError";
  constructor(
    readonly reason: SopsErrorReason,
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

export interface AgeStanza {
  recipient: string;
  enc: string;
}

export interface SopsMetadata {
  age: AgeStanza[];
  /** Recipients of other kinds (kms, pgp, …), by kind: named in errors, never used. */
  otherKeys: string[];
  lastModified: string;
  mac: string;
  rules: EncryptionRules;
  version: string;
}

function lineOf(docsText: string, node: Node | undefined): number | undefined {
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  let line = 1;
  for (let i = 0; i < offset && i < docsText.length; i++) if (docsText.charCodeAt(i) === 10) line++;
  return line;
}

function parse(text: string): Document.Parsed[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error !== undefined)
      throw new SopsError(
        "invalid",
        `not valid YAML: ${error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
        error.linePos?.[0].line,
      );
  }
  return list;
}

function metadataNode(doc: Document.Parsed | undefined): YAMLMap | undefined {
  const contents = doc?.contents as Node | null | undefined;
  if (contents === null || contents === undefined || !isMap(contents)) return undefined;
  const pair = contents.items.find((p) => isScalar(p.key) && p.key.value === METADATA_KEY);
  return pair !== undefined && isMap(pair.value) ? pair.value : undefined;
}

/** Whether the text is a SOPS YAML file: its first document has a `sops` mapping with a `mac`. */
export function isSopsYaml(text: string): boolean {
  if (!text.includes(`${METADATA_KEY}:`)) return false;
  try {
    const sops = metadataNode(parse(text)[0]);
    const mac = sops?.get("mac");
    return typeof mac === "string" && mac !== "";
  } catch {
    return false;
  }
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/** The time as Go's time.Format(RFC3339) writes the parsed value: sops' MAC additional data. */
function macTime(lastModified: string): string {
  const match = RFC3339.exec(lastModified);
  if (match === null)
    throw new SopsError("invalid", `sops.lastmodified "${lastModified}" is not an RFC 3339 time`);
  const offset = match[2]!.toUpperCase();
  return `${match[1]}${offset === "Z" || offset === "+00:00" || offset === "-00:00" ? "Z" : offset}`;
}

function stringField(map: Record<string, unknown>, key: string, required: boolean): string {
  const value = map[key];
  if (value === undefined || value === null) {
    if (required) throw new SopsError("invalid", `the sops metadata has no ${key}`);
    return "";
  }
  if (typeof value !== "string") throw new SopsError("invalid", `sops.${key} must be a string`);
  return value;
}

function ageStanzas(value: unknown, where: string): AgeStanza[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SopsError("invalid", `${where} must be a list`);
  return value.map((entry: unknown, i) => {
    const e = entry as Record<string, unknown> | null;
    if (typeof e?.recipient !== "string" || typeof e.enc !== "string")
      throw new SopsError("invalid", `${where}[${i}] needs a recipient and an enc`);
    return { recipient: e.recipient, enc: e.enc };
  });
}

const OTHER_KEY_KINDS = ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp"];

/** The metadata of a SOPS YAML file, checked for what decryption needs. */
export function readMetadata(sops: YAMLMap): SopsMetadata {
  const map = sops.toJSON() as Record<string, unknown>;
  let age = ageStanzas(map.age, "sops.age");
  const otherKeys = OTHER_KEY_KINDS.filter((k) => Array.isArray(map[k]) && map[k].length > 0);
  if (map.key_groups !== undefined && map.key_groups !== null) {
    if (!Array.isArray(map.key_groups))
      throw new SopsError("invalid", "sops.key_groups must be a list");
    if (map.key_groups.length > 1)
      throw new SopsError(
        "invalid",
        "the file uses Shamir secret sharing over several key groups; decrypt it with the sops CLI",
      );
    const group = (map.key_groups[0] ?? {}) as Record<string, unknown>;
    age = [...age, ...ageStanzas(group.age, "sops.key_groups[0].age")];
    otherKeys.push(
      ...OTHER_KEY_KINDS.filter((k) => Array.isArray(group[k]) && group[k].length > 0),
    );
  }
  if (age.length === 0 && otherKeys.length === 0)
    throw new SopsError("invalid", "the sops metadata names no key (no age recipient)");
  const rules: EncryptionRules = {};
  const rule = (field: string, key: keyof Omit<EncryptionRules, "macOnlyEncrypted">) => {
    const value = stringField(map, field, false);
    if (value !== "") rules[key] = value;
  };
  rule("encrypted_regex", "encryptedRegex");
  rule("unencrypted_regex", "unencryptedRegex");
  rule("encrypted_suffix", "encryptedSuffix");
  rule("unencrypted_suffix", "unencryptedSuffix");
  for (const unsupported of ["encrypted_comment_regex", "unencrypted_comment_regex"])
    if (stringField(map, unsupported, false) !== "")
      throw new SopsError(
        "invalid",
        `sops.${unsupported} is not supported by ksail; use the sops CLI`,
      );
  const macOnly = map.mac_only_encrypted;
  if (macOnly !== undefined && macOnly !== null && typeof macOnly !== "boolean")
    throw new SopsError("invalid", "sops.mac_only_encrypted must be true or false");
  if (macOnly === true) rules.macOnlyEncrypted = true;
  const lastModified = stringField(map, "lastmodified", true);
  macTime(lastModified);
  return {
    age,
    otherKeys,
    lastModified,
    mac: stringField(map, "mac", false),
    rules,
    version: stringField(map, "version", false),
  };
}

function sopsMapping(doc: Document, metadata: SopsMetadata): Node {
  const value: Record<string, unknown> = {
    age: metadata.age.map((a) => ({ recipient: a.recipient, enc: a.enc })),
    lastmodified: metadata.lastModified,
    mac: metadata.mac,
  };
  if (metadata.rules.encryptedRegex) value.encrypted_regex = metadata.rules.encryptedRegex;
  if (metadata.rules.unencryptedRegex) value.unencrypted_regex = metadata.rules.unencryptedRegex;
  if (metadata.rules.encryptedSuffix) value.encrypted_suffix = metadata.rules.encryptedSuffix;
  if (metadata.rules.unencryptedSuffix) value.unencrypted_suffix = metadata.rules.unencryptedSuffix;
  if (metadata.rules.macOnlyEncrypted) value.mac_only_encrypted = true;
  value.version = metadata.version;
  const node = doc.createNode(value) as YAMLMap;
  (node.get("lastmodified", true) as Scalar).type = Scalar.QUOTE_DOUBLE;
  const ages = node.get("age") as { items: YAMLMap[] };
  for (const entry of ages.items) {
    const enc = entry.get("enc", true) as Scalar;
    enc.type = Scalar.BLOCK_LITERAL;
  }
  return node;
}

function emit(docs: Document.Parsed[]): string {
  return docs
    .map((doc, i) => {
      const text = doc.toString({ lineWidth: 0 });
      return i > 0 && !text.startsWith("---") ? `---\n${text}` : text;
    })
    .join("");
}

function treeError(error: unknown, text: string): never {
  if (error instanceof SopsTreeError)
    throw new SopsError("invalid", error.message, lineOf(text, error.node));
  throw error;
}

export interface EncryptInput {
  /** age recipients (age1…); at least one. */
  recipients: string[];
  rules: EncryptionRules;
  now?: Date;
}

/** Encrypts a plaintext YAML file; the result is a SOPS file (every document gets the metadata). */
export async function encryptYaml(text: string, input: EncryptInput): Promise<string> {
  if (input.recipients.length === 0)
    throw new SopsError("invalid", "no age recipient to encrypt for");
  const docs = parse(text).filter((doc) => {
    const c = doc.contents as Node | null;
    return c !== null && !(isScalar(c) && c.value === null && !doc.commentBefore);
  });
  if (docs.length === 0)
    throw new SopsError("invalid", "the file holds no YAML document to encrypt");
  for (const doc of docs)
    if (metadataNode(doc) !== undefined)
      throw new SopsError(
        "already-encrypted",
        "the file is already encrypted (it has sops metadata)",
      );
  const key = randomBytes(32);
  let mac: string;
  try {
    mac = encryptTree(docs, key, input.rules);
  } catch (error) {
    treeError(error, text);
  }
  const lastModified = (input.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const age: AgeStanza[] = [];
  const { Encrypter, armor } = await loadAge();
  for (const recipient of input.recipients) {
    const encrypter = new Encrypter();
    try {
      encrypter.addRecipient(recipient);
    } catch {
      throw new SopsError("invalid", `"${recipient}" is not an age recipient (age1…)`);
    }
    age.push({ recipient, enc: armor.encode(await encrypter.encrypt(key)) });
  }
  const metadata: SopsMetadata = {
    age,
    otherKeys: [],
    lastModified,
    mac: encryptValue({ type: "str", text: mac }, key, macTime(lastModified)),
    rules: input.rules,
    version: SOPS_FORMAT_VERSION,
  };
  for (const doc of docs) {
    if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as never;
    (doc.contents as YAMLMap).add(doc.createPair(METADATA_KEY, sopsMapping(doc, metadata)));
  }
  return emit(docs);
}

async function dataKey(metadata: SopsMetadata, identities: readonly string[]): Promise<Uint8Array> {
  const recipients = metadata.age.map((a) => a.recipient);
  if (identities.length > 0) {
    const { Decrypter, armor } = await loadAge();
    const decrypter = new Decrypter();
    for (const identity of identities) decrypter.addIdentity(identity);
    for (const stanza of metadata.age) {
      let file: Uint8Array;
      try {
        file = armor.decode(stanza.enc);
      } catch {
        throw new SopsError(
          "invalid",
          `the age data key for ${stanza.recipient} is not an armored age file`,
        );
      }
      try {
        const key = await decrypter.decrypt(file);
        if (key.length !== 32)
          throw new SopsError("invalid", `the data key for ${stanza.recipient} is not 32 bytes`);
        return key;
      } catch (error) {
        if (error instanceof SopsError) throw error;
        // Not for these identities: try the next recipient.
      }
    }
  }
  const named = [...recipients, ...metadata.otherKeys.map((k) => `(${k} keys)`)].join(", ");
  throw new SopsError(
    "no-key",
    `none of the local age identities can decrypt this file; it is encrypted for ${named || "no recipient"}`,
  );
}

/** The file's metadata, from its first document; a SopsError when it has none. */
function metadataOf(docs: Document.Parsed[], text: string): SopsMetadata {
  const sops = metadataNode(docs[0]);
  if (sops === undefined)
    throw new SopsError("not-sops", "not a SOPS file: its first document has no sops metadata");
  try {
    return readMetadata(sops);
  } catch (error) {
    if (error instanceof SopsError && error.line === undefined)
      throw new SopsError(error.reason, error.message, lineOf(text, sops));
    throw error;
  }
}

function checkMac(metadata: SopsMetadata, key: Uint8Array, computed: string): void {
  let stored: string;
  try {
    stored =
      metadata.mac === ""
        ? ""
        : decryptValue(metadata.mac, key, macTime(metadata.lastModified)).text;
  } catch (error) {
    if (error instanceof ValueCipherError)
      throw new SopsError("mac-mismatch", `the MAC does not decrypt: ${error.message}`);
    throw error;
  }
  const a = Buffer.from(stored);
  const b = Buffer.from(computed);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new SopsError(
      "mac-mismatch",
      stored === ""
        ? "the file has no MAC: it cannot be checked for tampering"
        : "the MAC does not match the content: the file was changed after it was encrypted",
    );
}

export interface Decrypted {
  /** The plaintext YAML, without the sops metadata. */
  text: string;
  metadata: SopsMetadata;
}

/** Decrypts a SOPS YAML file and checks its MAC (a mismatch is an error, as in sops). */
export async function decryptYaml(text: string, identities: readonly string[]): Promise<Decrypted> {
  const docs = parse(text);
  const metadata = metadataOf(docs, text);
  const key = await dataKey(metadata, identities);
  let mac: string;
  try {
    mac = decryptTree(docs, key, metadata.rules);
  } catch (error) {
    treeError(error, text);
  }
  checkMac(metadata, key, mac);
  for (const doc of docs) {
    const contents = doc.contents as Node | null;
    if (contents !== null && isMap(contents)) contents.delete(METADATA_KEY);
  }
  return { text: emit(docs), metadata };
}

/** The result of checking a SOPS file with the local identities. */
export type Verification =
  { verified: true } | { verified: false; reason: "no-key"; message: string };

/** Checks the MAC when a local identity opens the file; throws SopsError for a tampered file. */
export async function verifySopsYaml(
  text: string,
  identities: readonly string[],
): Promise<Verification> {
  try {
    await decryptYaml(text, identities);
    return { verified: true };
  } catch (error) {
    if (error instanceof SopsError && error.reason === "no-key")
      return { verified: false, reason: "no-key", message: error.message };
    throw error;
  }
}

/**
 * Decrypts one built object as kustomize-controller does right before applying it: its values,
 * with no MAC check (kustomize's transformers change the object after encryption), and without
 * its `sops` key. Undefined when the object has no sops metadata.
 */
export async function decryptResource(
  object: Record<string, unknown>,
  identities: readonly string[],
): Promise<Record<string, unknown> | undefined> {
  const sops = object[METADATA_KEY] as { mac?: unknown } | null | undefined;
  if (typeof sops !== "object" || sops === null || !sops.mac) return undefined;
  const doc = new YamlDocument(object) as unknown as Document.Parsed;
  const metadata = readMetadata(doc.get(METADATA_KEY) as YAMLMap);
  const key = await dataKey(metadata, identities);
  try {
    decryptTree([doc], key, metadata.rules);
  } catch (error) {
    if (error instanceof SopsTreeError) throw new SopsError("invalid", error.message);
    throw error;
  }
  doc.delete(METADATA_KEY);
  return doc.toJS() as Record<string, unknown>;
}
