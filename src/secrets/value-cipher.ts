/**
 * SOPS' value format: one leaf value encrypted with AES-256-GCM under the file's 32-byte data key,
 * written as `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` (base64 parts). The additional
 * authenticated data is the value's path in the tree, each key followed by `:` (`data:password:`),
 * so a value moved to another key no longer decrypts. The IV is 32 random bytes, as sops writes
 * it; any IV length sops wrote is read. The type says how the plaintext bytes read back.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** A leaf of the tree: what a YAML scalar holds, or a comment line. */
export type LeafValue = string | number | boolean | { comment: string };

/** The scalar types sops writes (`time` and `bytes` do not come out of YAML files). */
export type ValueType = "str" | "int" | "float" | "bool" | "comment";

export interface TypedValue {
  type: ValueType;
  /** The plaintext as sops encodes it (ints in decimal, bools as True/False). */
  text: string;
}

const IV_BYTES = 32;
const TAG_BYTES = 16;
const ENCRYPTED = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;

export function isEncryptedValue(value: string): boolean {
  return ENCRYPTED.test(value);
}

/** Why a value could not be decrypted; never holds the value or the key. */
export class ValueCipherError extends Error {
  override name = "ValueCipherError";
}

function base64(text: string, part: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    throw new ValueCipherError(`the ${part} of an encrypted value is not base64`);
  return Buffer.from(text, "base64");
}

export function encryptValue(value: TypedValue, key: Uint8Array, path: string): string {
  if (value.text === "" && (value.type === "str" || value.type === "comment")) return "";
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(path, "utf8"));
  const data = Buffer.concat([cipher.update(value.text, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${tag.toString("base64")},type:${value.type}]`;
}

/** The plaintext and type of an `ENC[…]` value; "" stays "" (sops does not encrypt it). */
export function decryptValue(encrypted: string, key: Uint8Array, path: string): TypedValue {
  if (encrypted === "") return { type: "str", text: "" };
  const match = ENCRYPTED.exec(encrypted);
  if (match === null)
    throw new ValueCipherError("the value is not in sops' ENC[AES256_GCM,…] form");
  const data = base64(match[1]!, "data");
  const iv = base64(match[2]!, "iv");
  const tag = base64(match[3]!, "tag");
  const type = match[4]!;
  if (tag.length !== TAG_BYTES)
    throw new ValueCipherError("the tag of an encrypted value is not 16 bytes");
  if (iv.length === 0) throw new ValueCipherError("the iv of an encrypted value is empty");
  if (!["str", "int", "float", "bool", "comment", "bytes", "time"].includes(type))
    throw new ValueCipherError(`unknown value type "${type}"`);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(path, "utf8"));
  decipher.setAuthTag(tag);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new ValueCipherError(
      "AES-GCM authentication failed (the value was changed, moved to another key, or encrypted with another data key)",
    );
  }
  // bytes and time read back as text: YAML holds them as strings.
  const read = type === "bytes" || type === "time" ? "str" : (type as ValueType);
  return { type: read, text: plain.toString("utf8") };
}
