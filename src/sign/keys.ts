/**
 * Signing keys in cosign's own formats, so one key works with ksail and the cosign CLI alike:
 *
 * - `cosign.key`: a PEM block "ENCRYPTED SIGSTORE PRIVATE KEY" (older cosign: "ENCRYPTED COSIGN
 *   PRIVATE KEY") whose bytes are the JSON of go-securesystemslib's `encrypted` package —
 *   `{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":…},
 *   "cipher":{"name":"nacl/secretbox","nonce":…},"ciphertext":…}` (byte fields base64 as Go's
 *   encoding/json writes []byte) — sealing the PKCS #8 DER of the private key with a 32-byte
 *   scrypt key (32-byte salt) in NaCl secretbox (24-byte nonce). See cosign pkg/cosign/keys.go
 *   (marshalKeyPair, LoadPrivateKey) and go-securesystemslib encrypted/encrypted.go.
 * - `cosign.pub`: the PKIX public key as a "PUBLIC KEY" PEM block.
 *
 * Plain PEM private keys ("PRIVATE KEY" PKCS #8, "EC PRIVATE KEY" SEC 1, "ENCRYPTED PRIVATE KEY"
 * PKCS #8) are read too. ksail signs and verifies with ECDSA P-256 / SHA-256 only: that is what
 * `cosign generate-key-pair` makes and what Flux's verifier checks (source-controller loads
 * public keys with crypto.SHA256), so other key types are refused with a clear error.
 *
 * Crypto primitives: scrypt, ECDSA and random bytes from node:crypto; secretbox from tweetnacl.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateNodeKeyPair,
  randomBytes,
  scrypt,
  type KeyObject,
} from "node:crypto";
import { promisify } from "node:util";
import type nacl from "tweetnacl";
import { KsailError } from "../errors.js";

const generateKeyPairAsync = promisify(generateNodeKeyPair);

export const SIGSTORE_PRIVATE_KEY_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY";
export const COSIGN_PRIVATE_KEY_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY";
export const PUBLIC_KEY_PEM_TYPE = "PUBLIC KEY";

/** go-securesystemslib's parameter sets; Decrypt accepts exactly these, Encrypt writes "standard". */
const SCRYPT_PARAMS = [
  { N: 32768, r: 8, p: 1 }, // legacy
  { N: 65536, r: 8, p: 1 }, // standard (the default)
  { N: 131072, r: 8, p: 1 }, // OWASP
] as const;
const STANDARD_SCRYPT = SCRYPT_PARAMS[1];
const SALT_SIZE = 32;
/** nacl.secretbox.keyLength and nonceLength. */
const BOX_KEY_SIZE = 32;
const BOX_NONCE_SIZE = 24;

/**
 * tweetnacl's secretbox, loaded when a key is sealed or opened: a push without a signing key
 * never parses it.
 */
async function secretbox(): Promise<typeof nacl.secretbox> {
  const { default: loaded } = await import("tweetnacl");
  return loaded.secretbox;
}

/** A key ksail can sign with: ECDSA P-256 (SHA-256 digests, ASN.1 DER signatures). */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface KeyPairPem {
  /** cosign.key: "ENCRYPTED SIGSTORE PRIVATE KEY" PEM. */
  privateKeyPem: string;
  /** cosign.pub: "PUBLIC KEY" PEM. */
  publicKeyPem: string;
}

/** Where a key came from, for error messages ("cosign.key", "flag --key", …). */
export interface KeySource {
  source: string;
}

/** A new ECDSA P-256 key pair, the private key encrypted with `password` as cosign does it. */
export async function createKeyPair(password: string): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync("ec", { namedCurve: "P-256" });
  return {
    privateKeyPem: await encryptPrivateKey(privateKey, password),
    publicKeyPem: publicKeyToPem(publicKey),
  };
}

/** The private key as cosign.key: PKCS #8 DER sealed with scrypt + secretbox, in a PEM block. */
export async function encryptPrivateKey(privateKey: KeyObject, password: string): Promise<string> {
  const plaintext = privateKey.export({ type: "pkcs8", format: "der" });
  const salt = randomBytes(SALT_SIZE);
  const nonce = randomBytes(BOX_NONCE_SIZE);
  const key = await deriveKey(password, salt, STANDARD_SCRYPT);
  const seal = await secretbox();
  const ciphertext = seal(plaintext, nonce, key);
  // Field order and base64 []byte fields as Go's encoding/json writes go-securesystemslib's struct.
  const body = JSON.stringify({
    kdf: { name: "scrypt", params: { ...STANDARD_SCRYPT }, salt: salt.toString("base64") },
    cipher: { name: "nacl/secretbox", nonce: nonce.toString("base64") },
    ciphertext: Buffer.from(ciphertext).toString("base64"),
  });
  return encodePem(SIGSTORE_PRIVATE_KEY_PEM_TYPE, Buffer.from(body, "utf8"));
}

export function publicKeyToPem(publicKey: KeyObject): string {
  return publicKey.export({ type: "spki", format: "pem" }).toString();
}

/**
 * Reads a private key: cosign's encrypted format (needs `password`), or a plain / encrypted
 * PKCS #8 or SEC 1 PEM. Throws KsailError: "auth" for a missing or wrong password, "usage" for
 * anything that is not a usable ECDSA P-256 private key.
 */
export async function loadSigningKey(
  pem: string,
  options: KeySource & { password?: string | undefined },
): Promise<SigningKey> {
  const { source } = options;
  const block = decodePem(pem, source);
  let privateKey: KeyObject;
  if (block.type === SIGSTORE_PRIVATE_KEY_PEM_TYPE || block.type === COSIGN_PRIVATE_KEY_PEM_TYPE) {
    if (options.password === undefined) throw missingPassword(source);
    const der = await decryptCosignKey(block.bytes, options.password, source);
    privateKey = parsePrivateKey(
      () => createPrivateKey({ key: der, format: "der", type: "pkcs8" }),
      source,
    );
  } else if (block.type === "PRIVATE KEY" || block.type === "EC PRIVATE KEY") {
    privateKey = parsePrivateKey(() => createPrivateKey(pem), source);
  } else if (block.type === "ENCRYPTED PRIVATE KEY") {
    if (options.password === undefined) throw missingPassword(source);
    const password = options.password;
    try {
      privateKey = createPrivateKey({ key: pem, passphrase: password });
    } catch (error) {
      throw wrongPassword(source, error);
    }
  } else if (block.type === "RSA PRIVATE KEY") {
    throw unsupportedKey(source, "an RSA private key");
  } else if (block.type === PUBLIC_KEY_PEM_TYPE) {
    throw new KsailError("usage", `${source} is a public key; signing needs the private key`, {
      hint: "Pass the private key (cosign.key); the public key (cosign.pub) is for verifying.",
    });
  } else {
    throw new KsailError(
      "usage",
      `${source} holds a "${block.type}" PEM block, not a private key`,
      {
        hint: KEY_HINT,
      },
    );
  }
  assertP256(privateKey, source);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Reads a "PUBLIC KEY" PEM (cosign.pub) and checks it is ECDSA P-256. */
export function loadPublicKey(pem: string, options: KeySource): KeyObject {
  const { source } = options;
  const block = decodePem(pem, options.source);
  if (block.type !== PUBLIC_KEY_PEM_TYPE) {
    throw new KsailError(
      "usage",
      `${source} holds a "${block.type}" PEM block, not a public key ("PUBLIC KEY")`,
      { hint: "Pass the public key file (cosign.pub) made with the private key that signed." },
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block.bytes, format: "der", type: "spki" });
  } catch (error) {
    throw new KsailError("usage", `${source} is not a readable public key: ${messageOf(error)}`, {
      hint: KEY_HINT,
    });
  }
  assertP256(key, source);
  return key;
}

const KEY_HINT =
  "Use an ECDSA P-256 key pair as made by `ksail workload keygen` or `cosign generate-key-pair`.";

function missingPassword(source: string): KsailError {
  return new KsailError("auth", `${source} is encrypted and no password was given`, {
    hint: "Set COSIGN_PASSWORD to the key's password (an empty value for a key made without one).",
  });
}

function wrongPassword(source: string, cause?: unknown): KsailError {
  return new KsailError("auth", `cannot decrypt ${source}: the password is wrong`, {
    hint: "Set COSIGN_PASSWORD to the password the key was created with.",
    ...(cause === undefined ? {} : { cause }),
  });
}

function unsupportedKey(source: string, what: string): KsailError {
  return new KsailError(
    "usage",
    `${source} is ${what}; ksail signs and verifies with ECDSA P-256 keys only (what Flux's cosign verifier checks with SHA-256)`,
    { hint: KEY_HINT },
  );
}

function assertP256(key: KeyObject, source: string): void {
  const type = key.asymmetricKeyType;
  if (type !== "ec") {
    throw unsupportedKey(source, `an ${type === undefined ? "unknown" : type.toUpperCase()} key`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve !== "prime256v1" && curve !== "P-256") {
    throw unsupportedKey(source, `an ECDSA key on curve ${curve ?? "unknown"}`);
  }
}

function parsePrivateKey(parse: () => KeyObject, source: string): KeyObject {
  try {
    return parse();
  } catch (error) {
    throw new KsailError("usage", `${source} is not a readable private key: ${messageOf(error)}`, {
      hint: KEY_HINT,
    });
  }
}

interface EncryptedKeyJson {
  kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
  cipher?: { name?: unknown; nonce?: unknown };
  ciphertext?: unknown;
}

/** go-securesystemslib encrypted.Decrypt: the same checks, in the same order. */
async function decryptCosignKey(body: Buffer, password: string, source: string): Promise<Buffer> {
  const corrupt = (problem: string) =>
    new KsailError("usage", `${source} is not a valid cosign private key: ${problem}`, {
      hint: KEY_HINT,
    });
  let data: EncryptedKeyJson;
  try {
    data = JSON.parse(body.toString("utf8")) as EncryptedKeyJson;
  } catch {
    throw corrupt("the PEM block does not hold JSON");
  }
  if (data === null || typeof data !== "object") throw corrupt("the PEM block does not hold JSON");
  if (data.kdf?.name !== "scrypt")
    throw corrupt(`unknown kdf name ${JSON.stringify(data.kdf?.name)}`);
  if (data.cipher?.name !== "nacl/secretbox") {
    throw corrupt(`unknown cipher name ${JSON.stringify(data.cipher?.name)}`);
  }
  const params = SCRYPT_PARAMS.find(
    (p) =>
      p.N === data.kdf?.params?.N && p.r === data.kdf?.params?.r && p.p === data.kdf?.params?.p,
  );
  if (params === undefined) throw corrupt("unsupported scrypt parameters");
  const salt = base64Field(data.kdf.salt);
  const nonce = base64Field(data.cipher.nonce);
  const ciphertext = base64Field(data.ciphertext);
  if (salt === undefined || nonce === undefined || ciphertext === undefined) {
    throw corrupt("salt, nonce or ciphertext is not base64");
  }
  if (nonce.length !== BOX_NONCE_SIZE) throw corrupt("incorrect nonce size");
  const key = await deriveKey(password, salt, params);
  const opened = (await secretbox()).open(ciphertext, nonce, key);
  if (!opened) throw wrongPassword(source);
  return Buffer.from(opened);
}

function base64Field(value: unknown): Buffer | undefined {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, "base64");
}

async function deriveKey(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  const derive = promisify(scrypt) as (
    password: Buffer,
    salt: Uint8Array,
    keylen: number,
    options: { N: number; r: number; p: number; maxmem: number },
  ) => Promise<Buffer>;
  // scrypt needs 128·N·r bytes (128 MiB for the OWASP set); node's default cap is 32 MiB.
  const key = await derive(Buffer.from(password, "utf8"), salt, BOX_KEY_SIZE, {
    ...params,
    maxmem: 256 * 1024 * 1024,
  });
  return new Uint8Array(key);
}

interface PemBlock {
  type: string;
  bytes: Buffer;
}

/** The first PEM block of `text` (as Go's pem.Decode), or a usage error naming `source`. */
export function decodePem(text: string, source: string): PemBlock {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (match === null) {
    throw new KsailError("usage", `${source} is not a PEM file (no "-----BEGIN …-----" block)`, {
      hint: KEY_HINT,
    });
  }
  const body = match[2]!;
  // Headers ("Proc-Type: …") belong to legacy encrypted PEM, which cosign does not write.
  if (/^[A-Za-z-]+:/m.test(body)) {
    throw new KsailError("usage", `${source} uses legacy PEM encryption headers`, {
      hint: "Convert the key to PKCS #8 (openssl pkcs8 -topk8) or use a cosign key.",
    });
  }
  const base64 = body.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
    throw new KsailError("usage", `${source} has a corrupt PEM block (not base64)`, {
      hint: KEY_HINT,
    });
  }
  return { type: match[1]!, bytes: Buffer.from(base64, "base64") };
}

/** PEM as Go's pem.EncodeToMemory writes it: 64-character lines, trailing newline. */
export function encodePem(type: string, bytes: Buffer): string {
  const base64 = bytes.toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
