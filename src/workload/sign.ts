/**
 * Signing workload artifacts (issue 14): `ksail workload keygen` writes a cosign key pair, and
 * push signs the manifest digest it pushed (`--sign-key`, spec.options.signing.key) in cosign's
 * key-based formats (issue 27: cosign v3's bundle, or the legacy .sig tag), offline (no
 * transparency log).
 */
import { randomBytes } from "node:crypto";
import { access, link, lstat, mkdir, rename, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import { isDigest } from "../oci/digest.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { createKeyPair, loadPublicKey, loadSigningKey, type SigningKey } from "../sign/keys.js";
import { attachBundle } from "../sign/bundle-signature.js";
import { attachSignature } from "../sign/signature.js";
import type { SignatureFormat } from "./verify.js";
import type { KeyObject } from "node:crypto";
import type { Progress } from "../progress.js";
import { readBoundedFile } from "../util/bounded-read.js";

export const PRIVATE_KEY_FILE = "cosign.key";
export const PUBLIC_KEY_FILE = "cosign.pub";
/** Key files are a few hundred bytes. */
const MAX_KEY_FILE_SIZE = 64 * 1024;

export interface KeygenOptions {
  /** Directory for cosign.key and cosign.pub (created if missing). */
  outputDir: string;
  /** Encrypts cosign.key; "" makes a key without a password, as cosign allows. */
  password: string;
  /** Replace existing files instead of refusing. */
  force?: boolean;
}

export interface KeygenResult {
  privateKeyPath: string;
  publicKeyPath: string;
  publicKeyPem: string;
}

/**
 * Writes cosign.key (mode 0600) and cosign.pub. Existing files are refused (conflict) unless
 * `force`; both files appear or neither does.
 */
export async function generateKeyPair(
  options: KeygenOptions,
  progress: Progress,
): Promise<KeygenResult> {
  const dir = resolve(options.outputDir);
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  const pair = await progress.step(
    "Generate ECDSA P-256 key pair",
    () => createKeyPair(options.password),
    () => "Generated ECDSA P-256 key pair",
  );
  await progress.step(
    `Write ${PRIVATE_KEY_FILE} and ${PUBLIC_KEY_FILE}`,
    async () => {
      await mkdir(dir, { recursive: true });
      await writeBoth(
        [
          { path: privateKeyPath, content: pair.privateKeyPem, mode: 0o600 },
          { path: publicKeyPath, content: pair.publicKeyPem, mode: 0o644 },
        ],
        options.force === true,
      );
    },
    () => `Wrote ${privateKeyPath} and ${publicKeyPath}`,
  );
  return { privateKeyPath, publicKeyPath, publicKeyPem: pair.publicKeyPem };
}

/** What keygen says about a key file it will not overwrite. */
function keyExists(path: string): KsailError {
  return new KsailError("conflict", `${path} already exists`, {
    hint: "Add --force to replace the key pair (signatures made with the old key will no longer verify), or choose another --output-dir.",
  });
}

/**
 * Fails before any work (a password prompt, the key generation) when `dir` already holds a key
 * pair and `force` is not set. writeBoth checks again when it writes: this is for an early answer.
 */
export async function assertNoKeyPair(dir: string, force: boolean): Promise<void> {
  if (force) return;
  for (const name of [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]) {
    const path = join(resolve(dir), name);
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw keyExists(path);
  }
}

/**
 * Writes each file to a temporary name first; only when all are written are they linked in (no
 * overwrite) or, with `force`, renamed over the old ones. Both files appear or neither does:
 * with `force`, a target that is not a file (a directory) is refused before anything is
 * replaced, and a rename that fails puts the old files back, so the old key is never lost.
 */
async function writeBoth(
  files: { path: string; content: string; mode: number }[],
  force: boolean,
): Promise<void> {
  const temps: string[] = [];
  /** Placed files, with the link to the file each replaced (force). */
  const placed: { path: string; previous?: string }[] = [];
  let done = false;
  try {
    for (const file of files) {
      const temp = `${file.path}.tmp-${randomBytes(6).toString("hex")}`;
      await writeFile(temp, file.content, { mode: file.mode, flag: "wx" });
      temps.push(temp);
    }
    if (force) for (const file of files) await assertReplaceable(file.path);
    for (const [i, file] of files.entries()) {
      if (force) {
        const previous = await keepPrevious(file.path);
        try {
          await rename(temps[i]!, file.path);
        } catch (error) {
          if (previous !== undefined) await unlink(previous).catch(() => {});
          throw error;
        }
        placed.push({ path: file.path, ...(previous === undefined ? {} : { previous }) });
      } else {
        try {
          await link(temps[i]!, file.path); // fails with EEXIST instead of overwriting
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EEXIST") {
            throw keyExists(file.path);
          }
          throw error;
        }
        placed.push({ path: file.path });
      }
    }
    done = true;
  } finally {
    // Nothing half-written: put back what this call replaced, remove what it added.
    for (const { path, previous } of done ? [] : placed.reverse()) {
      if (previous !== undefined) await rename(previous, path).catch(() => {});
      else await unlink(path).catch(() => {});
    }
    for (const { previous } of done ? placed : []) {
      if (previous !== undefined) await unlink(previous).catch(() => {});
    }
    for (const temp of temps) await unlink(temp).catch(() => {});
  }
}

/** `--force` replaces files only: anything else at `path` is refused before any file changes. */
async function assertReplaceable(path: string): Promise<void> {
  const found = await lstat(path).catch(() => undefined);
  if (found === undefined || found.isFile() || found.isSymbolicLink()) return;
  throw new KsailError(
    "conflict",
    `${path} is ${found.isDirectory() ? "a directory" : "not a file"}; nothing was written`,
    {
      hint: `Move it out of the way, or choose another --output-dir; --force replaces files only.`,
    },
  );
}

/** A second name for the file at `path` (undefined when there is none), to put it back. */
async function keepPrevious(path: string): Promise<string | undefined> {
  const previous = `${path}.old-${randomBytes(6).toString("hex")}`;
  try {
    await link(path, previous);
    return previous;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Reads a key file with errors that name the file: a regular file of at most 64 KiB (a FIFO,
 * device or directory is refused at once, exit 8), a missing one is not-found (exit 6).
 */
export async function readKeyFile(path: string): Promise<string> {
  try {
    const bytes = await readBoundedFile(path, {
      maxBytes: MAX_KEY_FILE_SIZE,
      what: "key file",
      hint: "Point at cosign.key / cosign.pub (a key is a few hundred bytes), not another file.",
    });
    return bytes.toString("utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new KsailError("not-found", `key file ${path} does not exist`, {
      hint: "Create a key pair with `ksail workload keygen`, or give the path of an existing cosign key.",
    });
  }
}

/**
 * The signing key in `path` (cosign.key or a PKCS #8 / SEC 1 PEM). `password` is what the
 * caller resolved from COSIGN_PASSWORD (config/load.ts); undefined when it is not set.
 */
export async function readSigningKey(
  path: string,
  password: string | undefined,
): Promise<SigningKey> {
  const pem = await readKeyFile(path);
  return loadSigningKey(pem, { source: `key file ${path}`, password });
}

/** The ECDSA P-256 public key in `path` (cosign.pub), with its PEM text (for Flux's Secret). */
export async function readPublicKey(path: string): Promise<{ key: KeyObject; pem: string }> {
  const pem = await readKeyFile(path);
  return { key: loadPublicKey(pem, { source: `public key file ${path}` }), pem };
}

export interface SignOptions {
  repository: RepositoryRef;
  /** The manifest digest to sign (what push returned), or a version/tag to resolve first. */
  digest: string;
  key: SigningKey;
  /** "bundle" (cosign v3, the default) or "legacy" (cosign v2's .sig tag). */
  format?: SignatureFormat;
}

/** What ksail signs in unless told otherwise: what cosign v3 writes and Flux 2.9 verifies. */
export const DEFAULT_SIGNATURE_FORMAT: SignatureFormat = "bundle";

export interface SignResult {
  repository: string;
  /** The signed manifest digest. */
  digest: string;
  format: SignatureFormat;
  /**
   * Where the signature is: the tag sha256-<hex>.sig (legacy), or the digest of the bundle's
   * referrer manifest (bundle).
   */
  signature: string;
  /** Digest of the signature manifest (legacy) or of the referrer manifest (bundle). */
  signatureDigest: string;
  /** bundle: how verifiers find it — the referrers API or the sha256-<hex> fallback tag. */
  via?: "api" | "tag";
  /** True when this key had already signed this digest (nothing was written). */
  unchanged: boolean;
}

/** Signs the artifact `digest` in `repository` (which must exist there). */
export async function signArtifact(
  { client }: { client: RegistryClient },
  options: SignOptions,
  progress: Progress,
): Promise<SignResult> {
  const { repository, key } = options;
  const name = formatRepository(repository);
  const digest = await progress.step(`Find ${options.digest} in ${name}`, async () => {
    const found = await client.resolve(repository, options.digest);
    if (found === undefined) {
      throw new KsailError(
        "not-found",
        `${name} has no ${isDigest(options.digest) ? "manifest" : "version"} ${options.digest} to sign`,
        {
          hint: "Sign what `ksail workload push` pushed; `ksail workload versions` lists what is there.",
        },
      );
    }
    return found.digest;
  });
  const format = options.format ?? DEFAULT_SIGNATURE_FORMAT;
  const short = `${digest.slice(0, 19)}…`;
  if (format === "bundle") {
    const attached = await progress.step(
      `Sign ${short} (cosign bundle)`,
      () => attachBundle(client, repository, digest, key),
      (r) =>
        r.unchanged
          ? `${short} already had a bundle signed with this key (${r.referrerDigest.slice(0, 19)}…)`
          : `Signed ${short} (bundle ${r.referrerDigest.slice(0, 19)}…, ${r.via === "api" ? "referrers API" : "referrers tag"})`,
    );
    return {
      repository: name,
      digest,
      format,
      signature: attached.referrerDigest,
      signatureDigest: attached.referrerDigest,
      via: attached.via,
      unchanged: attached.unchanged,
    };
  }
  const attached = await progress.step(
    `Sign ${short}`,
    () => attachSignature(client, repository, digest, key),
    (r: { unchanged: boolean; tag: string }) =>
      r.unchanged
        ? `${short} was already signed with this key (${r.tag})`
        : `Signed ${short} (${r.tag})`,
  );
  return {
    repository: name,
    digest,
    format,
    signature: attached.tag,
    signatureDigest: attached.manifestDigest,
    unchanged: attached.unchanged,
  };
}
