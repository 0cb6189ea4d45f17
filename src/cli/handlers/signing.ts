/**
 * What the signing commands share: which key file (a flag, relative to the working directory,
 * or spec.options.signing in ksail.yaml, relative to that file), and the key's password from
 * COSIGN_PASSWORD — or, as cosign does, from a prompt without echo when stdin is a terminal.
 * Passwords never leave this module except into the key functions.
 */
import { keyFile, resolveCosignPassword, type LoadedConfig } from "../../config/load.js";
import { RUNTIME_SETTINGS } from "../../config/settings.js";
import { KsailError } from "../../errors.js";
import { decodePem, loadSigningKey, type SigningKey } from "../../sign/keys.js";
import { readKeyFile, readPublicKey, type SignResult } from "../../workload/sign.js";
import type { ImageSignResult } from "../../workload/image-signatures.js";
import type { CliContext } from "../context.js";

const PASSWORD_ENV = RUNTIME_SETTINGS.cosignPassword.env;

/**
 * Reads and decrypts the signing key in `path` before anything is pushed: a wrong password or
 * an unusable key fails here. An encrypted key without COSIGN_PASSWORD asks on a terminal.
 */
export async function loadKeyForSigning(ctx: CliContext, path: string): Promise<SigningKey> {
  const pem = await readKeyFile(path);
  const source = `key file ${path}`;
  let password = resolveCosignPassword(ctx.env);
  if (password === undefined && decodePem(pem, source).type.includes("ENCRYPTED")) {
    if (process.stdin.isTTY) {
      password = await promptHidden(ctx, `Enter password for private key ${path}: `);
    }
  }
  return loadSigningKey(pem, { source, password });
}

/**
 * The password for a new key: COSIGN_PASSWORD when set (even empty, as cosign allows), else
 * asked twice on a terminal; without either, a usage error (nothing is written).
 */
export async function newKeyPassword(ctx: CliContext): Promise<string> {
  const fromEnv = resolveCosignPassword(ctx.env);
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new KsailError(
      "usage",
      `no password for the new private key: ${PASSWORD_ENV} is not set and stdin is not a terminal to ask on`,
      {
        hint: `Set ${PASSWORD_ENV} (export ${PASSWORD_ENV}=… ; an empty value makes a key without a password, as cosign allows).`,
      },
    );
  }
  const first = await promptHidden(ctx, "Enter password for private key: ");
  const again = await promptHidden(ctx, "Enter password for private key again: ");
  if (first !== again) throw new KsailError("usage", "the passwords do not match");
  return first;
}

/** Reads one line from the terminal without echoing it; Ctrl-C or Ctrl-D cancels. */
function promptHidden(ctx: CliContext, prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows, so nothing typed after it is echoed.
  stdin.setRawMode(true);
  stdin.resume();
  ctx.stderr.write(prompt);
  return new Promise((resolvePassword, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      ctx.stderr.write("\n");
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") {
          finish();
          resolvePassword(value);
          return;
        }
        if (char === "\u0003" || char === "\u0004") {
          finish();
          reject(new KsailError("usage", "cancelled: no password entered"));
          return;
        }
        if (char === "\u007f" || char === "\b") value = [...value].slice(0, -1).join("");
        else value += char;
      }
    };
    stdin.on("data", onData);
  });
}

/** What -o json says about a signature (never the key path or password). */
export function signatureJson(signature: SignResult) {
  return {
    format: signature.format,
    ...(signature.format === "legacy"
      ? { tag: signature.signature }
      : { referrer: signature.signature, via: signature.via }),
    digest: signature.signatureDigest,
    unchanged: signature.unchanged,
  };
}

/** -o json: the images' signatures by spec.images name (`imageSignatures`). */
export function imageSignaturesJson(signatures: readonly ImageSignResult[] | undefined) {
  if (!signatures || signatures.length === 0) return {};
  return {
    imageSignatures: Object.fromEntries(
      signatures.map((s) => [s.name, { repository: s.repository, ...signatureJson(s) }]),
    ),
  };
}

/** Text output: one line per signed image. */
export function imageSignatureLines(
  signatures: readonly ImageSignResult[] | undefined,
  prefix: string,
): string[] {
  return (signatures ?? []).map(
    (s) =>
      `${prefix}${s.name} ${s.repository}@${s.digest}: ${s.signature}${s.format === "bundle" ? " (cosign bundle)" : ""}`,
  );
}

/** `verifyPublicKey` for syncSpecFromConfig from --verify-key or spec.options.signing.publicKey. */
export async function verifyKeyOverride(
  ctx: CliContext,
  loaded: LoadedConfig,
  flag: string | undefined,
): Promise<{ verifyPublicKey?: string }> {
  const path = keyFile(loaded, flag, "publicKey", ctx.cwd);
  if (path === undefined) return {};
  return { verifyPublicKey: (await readPublicKey(path)).pem };
}
