/**
 * The secrets guard: nothing Flux would apply as a plaintext Secret, and no private key, reaches
 * the registry (every version there keeps it for good). Rules:
 *
 * - private-key: a file in the artifact holds a private key — an age identity
 *   (`AGE-SECRET-KEY-1…`), a PEM private key (`-----BEGIN … PRIVATE KEY-----`, cosign's encrypted
 *   keys and OpenSSH keys included) or a PGP private key block; reached by Flux or not.
 * - plaintext-secret: a v1 Secret in a manifest-like file of the artifact (applied by Flux, a
 *   patch, or a file Flux never reads: the registry keeps it all the same) has `data` or
 *   `stringData` values that are not SOPS-encrypted: no `sops` metadata, or metadata whose rule
 *   leaves a value in plaintext. A `data` value holding a base64 SOPS file (what a secretGenerator
 *   makes of an encrypted file) is encrypted: kustomize-controller decrypts it.
 * - plaintext-secret on a kustomization: a `secretGenerator` with `literals` (Flux would create a
 *   plaintext Secret from them — refused, like a plaintext manifest), or with `files`/`envs`
 *   entries whose file is not a SOPS file.
 * - sops-metadata: the `sops` metadata of a resource cannot be read (a forged or cut mapping);
 *   kustomize-controller would fail on it.
 * - sops-mac-mismatch: a SOPS file whose MAC does not match its content, checked when a local age
 *   identity opens it (the file was changed after encryption, or its metadata forged).
 *
 * `allowPlaintext` (--allow-plaintext-secrets, spec.options.secrets.allowPlaintext) turns
 * private-key and plaintext-secret into warnings. Messages name file and line, never a value.
 */
import { posix } from "node:path";
import { isMap, isScalar, isSeq } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { isSopsYaml, readMetadata, SopsError, verifySopsYaml } from "../secrets/sops-file.js";
import { isEncryptedValue } from "../secrets/value-cipher.js";
import { position, type ParsedYaml, type ValidationIssue } from "./issues.js";
import { lineAtByte, decode } from "./text.js";
import { parseYaml } from "./parse.js";
import { count } from "../util/plural.js";

export interface SecretsPolicy {
  /** Plaintext Secrets and private keys are warnings, not errors. */
  allowPlaintext?: boolean;
  /**
   * The local age identities, asked for once and only when a SOPS file is reached; none (or no
   * function) means MACs are not checked. A rejection becomes a warning naming the cause.
   */
  identities?: () => Promise<readonly string[]>;
}

/** What a policy violation becomes: an error, or a warning when plaintext is allowed. */
interface Sink {
  issues: ValidationIssue[];
  warnings: ValidationIssue[];
}

const AGE_IDENTITY = /AGE-SECRET-KEY-(?:PQ-)?1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58,}/;
const PEM_PRIVATE = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----/;

/** Byte markers that make a file worth a look by the guard (cheap tests on every file). */
const MARKERS = {
  age: Buffer.from("AGE-SECRET-KEY-"),
  pem: Buffer.from("PRIVATE KEY"),
  secret: Buffer.from("Secret"),
  sops: Buffer.from("sops"),
};

/** The private-key issue of a file's bytes, if any; the key itself is never put in the message. */
export function privateKeyIssue(path: string, data: Buffer): ValidationIssue | undefined {
  const found: { offset: number; what: string }[] = [];
  if (data.includes(MARKERS.age)) {
    const text = data.toString("latin1");
    const match = AGE_IDENTITY.exec(text);
    if (match) found.push({ offset: match.index, what: "an age private key (AGE-SECRET-KEY-1…)" });
  }
  if (data.includes(MARKERS.pem)) {
    const text = data.toString("latin1");
    const match = PEM_PRIVATE.exec(text);
    if (match)
      found.push({ offset: match.index, what: `a private key (-----BEGIN ${match[1]}-----)` });
  }
  const first = found.sort((a, b) => a.offset - b.offset)[0];
  if (first === undefined) return undefined;
  return {
    file: path,
    line: lineAtByte(data, first.offset),
    rule: "private-key",
    message: `file holds ${first.what}: a private key must never be pushed; move it out of the source directory (or add it to .sourceignore) and keep it where ksail and sops look for keys`,
  };
}

/** Whether a file may hold a Secret or sops metadata: parsed once Flux's walk is known. */
export function mayHoldSecret(data: Buffer): boolean {
  return data.includes(MARKERS.secret) || data.includes(MARKERS.sops);
}

/** SOPS' marker of an encrypted file in each format (kustomize-controller's decryptor). */
function isSopsData(data: Buffer, format: "yaml" | "json" | "dotenv" | "ini" | "any"): boolean {
  const markers = {
    yaml: ["mac: ENC["],
    json: ['"mac": "ENC['],
    dotenv: ["sops_mac=ENC["],
    ini: ["[sops]"],
    any: ["mac: ENC[", '"mac": "ENC[', "sops_mac=ENC[", "[sops]"],
  }[format];
  return markers.some((m) => data.includes(m));
}

function formatForPath(path: string): "yaml" | "json" | "dotenv" | "ini" | "any" {
  const ext = posix.extname(path).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  if (ext === ".json" || path.endsWith(".dockerconfigjson")) return "json";
  if (ext === ".env") return "dotenv";
  if (ext === ".ini") return "ini";
  return "json"; // sops' binary format is a JSON envelope
}

function get(map: YAMLMap, key: string): Node | null | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair === undefined ? undefined : ((pair.value as Node | null) ?? null);
}

function keyNode(map: YAMLMap, key: string): Node | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key)?.key as Node | undefined;
}

function stringOf(node: Node | null | undefined): string | undefined {
  return node !== null && node !== undefined && isScalar(node) && typeof node.value === "string"
    ? node.value
    : undefined;
}

function display(object: YAMLMap): string {
  const meta = get(object, "metadata");
  const name = meta && isMap(meta) ? stringOf(get(meta, "name")) : undefined;
  const ns = meta && isMap(meta) ? stringOf(get(meta, "namespace")) : undefined;
  return `Secret ${ns ? `${ns}/` : ""}${name ?? "(unnamed)"}`;
}

/** A base64 `data` value that decodes to a SOPS file (a generated Secret of an encrypted file). */
function isEncryptedDataValue(value: string): boolean {
  if (value.length < 16 || !/^[A-Za-z0-9+/\s]+=*\s*$/.test(value)) return false;
  return isSopsData(Buffer.from(value, "base64"), "any");
}

interface Guard {
  policy: SecretsPolicy;
  sink: Sink;
  /** Files whose MAC should be checked when a key is at hand. */
  sopsFiles: Map<string, string>;
}

function violation(guard: Guard, issue: ValidationIssue): void {
  if (guard.policy.allowPlaintext)
    guard.sink.warnings.push({
      ...issue,
      message: `${issue.message} (allowed by --allow-plaintext-secrets / spec.options.secrets.allowPlaintext)`,
    });
  else guard.sink.issues.push(issue);
}

/** The checks of one object that Flux applies. */
function checkObject(guard: Guard, parsed: ParsedYaml, object: YAMLMap, text: string): void {
  const kind = stringOf(get(object, "kind"));
  const apiVersion = stringOf(get(object, "apiVersion"));
  if (kind !== undefined && kind.endsWith("List")) {
    const items = get(object, "items");
    if (items && isSeq(items))
      for (const item of items.items) if (isMap(item)) checkObject(guard, parsed, item, text);
    return;
  }
  const sops = get(object, "sops");
  const hasSops = sops !== undefined && sops !== null && isMap(sops) && get(sops, "mac") != null;
  if (hasSops) {
    try {
      readMetadata(sops);
      guard.sopsFiles.set(parsed.path, text);
    } catch (error) {
      if (!(error instanceof SopsError)) throw error;
      guard.sink.issues.push({
        file: parsed.path,
        ...position(parsed, keyNode(object, "sops")),
        rule: "sops-metadata",
        message: `the sops metadata cannot be read (${error.message}); kustomize-controller would fail to decrypt this resource: encrypt the file again`,
      });
    }
  }
  if (kind !== "Secret" || apiVersion !== "v1") return;
  for (const field of ["data", "stringData"]) {
    const values = get(object, field);
    if (values === undefined || values === null || !isMap(values)) continue;
    const plain = values.items.filter((pair) => {
      const value = pair.value as Node | null;
      if (value === null || !isScalar(value) || value.value === null || value.value === "")
        return false;
      const text = typeof value.value === "string" ? value.value : undefined;
      if (text === undefined) return true;
      if (hasSops) return !isEncryptedValue(text);
      return field !== "data" || !isEncryptedDataValue(text);
    });
    if (plain.length === 0) continue;
    const keys = plain.map((p) => (isScalar(p.key) ? String(p.key.value) : "?"));
    const first = plain[0]!;
    violation(guard, {
      file: parsed.path,
      ...position(parsed, first.key as Node),
      rule: "plaintext-secret",
      message: hasSops
        ? `${display(object)}: ${field}.${keys.join(`, ${field}.`)} ${keys.length === 1 ? "is" : "are"} not encrypted although the file has sops metadata (the creation rule leaves ${keys.length === 1 ? "it" : "them"} in plaintext); encrypt ${field} too (encrypted_regex: ^(data|stringData)$)`
        : `${display(object)} holds ${field} in plaintext (${keys.join(", ")}): Flux would apply it as is and every version in the registry would keep it; encrypt it with \`ksail workload secrets encrypt ${parsed.path}\``,
    });
  }
}

/** The Secret checks of one YAML file Flux applies objects from (a manifest or a patch). */
export function checkSecretsIn(guard: Guard, path: string, data: Buffer): void {
  const text = decode(data);
  const parsed = parseYaml(path, text, []);
  if (parsed === undefined) return; // reported by the other phases
  for (const doc of parsed.docs) {
    const node = doc.contents as Node | null;
    if (node !== null && isMap(node)) checkObject(guard, parsed, node, text);
  }
}

/** The secretGenerator checks of one kustomization file. */
async function checkGenerators(
  guard: Guard,
  path: string,
  data: Buffer,
  fileSet: ReadonlySet<string>,
  read: (path: string) => Promise<Buffer | undefined>,
): Promise<void> {
  if (!data.includes("secretGenerator")) return;
  const parsed = parseYaml(path, decode(data), []);
  const root = parsed?.docs[0]?.contents as Node | null | undefined;
  if (parsed === undefined || root === null || root === undefined || !isMap(root)) return;
  const generators = get(root, "secretGenerator");
  if (!generators || !isSeq(generators)) return;
  const dir = posix.dirname(path);
  for (const generator of generators.items) {
    if (!isMap(generator)) continue;
    const name = stringOf(get(generator, "name")) ?? "(unnamed)";
    const literals = get(generator, "literals");
    if (literals && isSeq(literals) && literals.items.length > 0)
      violation(guard, {
        file: path,
        ...position(parsed, keyNode(generator, "literals")),
        rule: "plaintext-secret",
        message: `secretGenerator ${name} has literals: Flux would create a plaintext Secret from them; move the values to a file encrypted with \`ksail workload secrets encrypt\` (a SOPS-encrypted Secret manifest, or a files/envs entry)`,
      });
    const entries: { node: Node; file: string; env: boolean }[] = [];
    for (const field of ["files", "envs"]) {
      const list = get(generator, field);
      if (!list || !isSeq(list)) continue;
      for (const item of list.items) {
        const value = stringOf(item as Node);
        if (value === undefined) continue;
        const ref =
          field === "files" && value.includes("=") ? value.slice(value.indexOf("=") + 1) : value;
        entries.push({ node: item as Node, file: ref, env: field === "envs" });
      }
    }
    const env = stringOf(get(generator, "env"));
    if (env !== undefined) entries.push({ node: get(generator, "env")!, file: env, env: true });
    for (const entry of entries) {
      const resolved = posix.normalize(posix.join(dir, entry.file));
      if (!fileSet.has(resolved)) continue; // reported by the kustomization checks
      const content = await read(resolved);
      if (content === undefined) continue;
      let format = formatForPath(entry.file);
      if (entry.env && format === "json" && posix.extname(entry.file) !== ".json")
        format = "dotenv";
      if (content.length === 0 || isSopsData(content, format)) {
        if (format === "yaml" && content.length > 0) guard.sopsFiles.set(resolved, decode(content));
        continue;
      }
      violation(guard, {
        file: path,
        ...position(parsed, entry.node),
        rule: "plaintext-secret",
        message: `secretGenerator ${name} reads ${resolved} in plaintext: Flux would create a plaintext Secret from it; encrypt the file with sops (\`sops -e -i ${resolved}\`) or turn it into a SOPS-encrypted Secret manifest`,
      });
    }
  }
}

/** The MAC check of the SOPS files reached, when a local identity opens them. */
async function checkMacs(guard: Guard): Promise<void> {
  if (guard.sopsFiles.size === 0 || guard.policy.identities === undefined) return;
  let identities: readonly string[];
  try {
    identities = await guard.policy.identities();
  } catch (error) {
    guard.sink.warnings.push({
      file: [...guard.sopsFiles.keys()][0]!,
      rule: "sops-mac-unchecked",
      message: `the MACs of ${count(guard.sopsFiles.size, "SOPS file")} were not checked: ${error instanceof Error ? error.message : String(error)}`,
    });
    return;
  }
  if (identities.length === 0) return;
  for (const [path, text] of guard.sopsFiles) {
    if (!isSopsYaml(text)) continue;
    try {
      await verifySopsYaml(text, identities);
    } catch (error) {
      if (!(error instanceof SopsError)) throw error;
      guard.sink.issues.push({
        file: path,
        ...(error.line === undefined ? {} : { line: error.line }),
        rule: error.reason === "mac-mismatch" ? "sops-mac-mismatch" : "sops-metadata",
        message:
          error.reason === "mac-mismatch"
            ? `${error.message}; if the change is yours, decrypt with the old content restored or edit the file with \`ksail workload secrets edit\``
            : `the SOPS file cannot be decrypted: ${error.message}`,
      });
    }
  }
}

/** What the guard looks at after Flux's walk: files reached and the bytes of each. */
export interface GuardInput {
  policy: SecretsPolicy;
  fileSet: ReadonlySet<string>;
  /** Manifest-like files (and what Flux reads objects from) that may hold a Secret or sops metadata. */
  objectFiles: string[];
  kustomizations: string[];
  read(path: string): Promise<Buffer | undefined>;
}

/** Runs the guard's checks of what Flux applies; issues and warnings go to `sink`. */
export async function checkSecrets(input: GuardInput, sink: Sink): Promise<void> {
  const guard: Guard = { policy: input.policy, sink, sopsFiles: new Map() };
  for (const path of input.objectFiles) {
    const data = await input.read(path);
    if (data !== undefined) checkSecretsIn(guard, path, data);
  }
  for (const path of input.kustomizations) {
    const data = await input.read(path);
    if (data !== undefined) await checkGenerators(guard, path, data, input.fileSet, input.read);
  }
  await checkMacs(guard);
}
