/**
 * age identities where the sops CLI finds them: the key itself in $SOPS_AGE_KEY, else the file
 * $SOPS_AGE_KEY_FILE, else `sops/age/keys.txt` in the user config directory ($XDG_CONFIG_HOME, or
 * ~/.config). The keys file holds one `AGE-SECRET-KEY-1…` line per identity, with `#` comments,
 * as age-keygen writes it. A private key is never put in an error message or a log line: errors
 * name the place and the line number only.
 */
import { appendFile, chmod, mkdir, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { KsailError } from "../errors.js";
import { loadAge } from "./age.js";

export interface IdentitySource {
  /** Where the identities come from: a path, or `$SOPS_AGE_KEY`. */
  location: string;
  /** The file path, when the source is a file. */
  path?: string;
}

export interface LoadedIdentities {
  identities: string[];
  /** Each identity's recipient (age1…), in the same order. */
  recipients: string[];
  /** Where ksail looked, in order. */
  looked: string[];
}

const IDENTITY_LINE = /^AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Z]+$/;
/** A keys file larger than this is not an age keys file. */
const MAX_KEYS_FILE_BYTES = 1024 * 1024;

/**
 * Where the local age identities are, as sops looks for them; config/load.ts resolveAgeKeys
 * resolves it from the environment (settings.ts sopsAgeKey, sopsAgeKeyFile).
 */
export interface AgeKeyPlaces {
  /** $SOPS_AGE_KEY: the identities themselves (secret). Wins over the file when set. */
  key: string | undefined;
  /** The keys file ksail writes to and sops reads from when `key` is unset. */
  keyFile: string;
}

/** The identities in a keys file's text; `where` names it in errors (never a key). */
export async function parseIdentities(text: string, where: string): Promise<string[]> {
  const identities: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!IDENTITY_LINE.test(line))
      throw new KsailError(
        "config",
        `${where}:${index + 1}: not an age identity (AGE-SECRET-KEY-1…)`,
        {
          hint: "The file holds one age identity per line, as age-keygen writes it, and # comments.",
        },
      );
    try {
      await (await loadAge()).identityToRecipient(line);
    } catch {
      throw new KsailError("config", `${where}:${index + 1}: the age identity is malformed`, {
        hint: "Check that the line was not cut or changed; a new identity comes from `ksail workload secrets keygen`.",
      });
    }
    identities.push(line);
  }
  return identities;
}

/**
 * The local identities, from the first place that is set (as sops does). A keys file that does
 * not exist gives none; one that cannot be read, or holds something else, is an error naming it.
 */
export async function loadIdentities(places: AgeKeyPlaces): Promise<LoadedIdentities> {
  const looked: string[] = [];
  let identities: string[] = [];
  if (places.key) {
    looked.push("$SOPS_AGE_KEY");
    identities = await parseIdentities(places.key, "$SOPS_AGE_KEY");
  } else {
    const file = places.keyFile;
    looked.push(file);
    let text: string | undefined;
    try {
      const info = await stat(file);
      if (info.size > MAX_KEYS_FILE_BYTES)
        throw new KsailError(
          "config",
          `${file} is ${info.size} bytes: too large for an age keys file`,
        );
      text = await readFile(file, "utf8");
    } catch (error) {
      if (error instanceof KsailError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR")
        throw new KsailError(
          "config",
          `cannot read the age keys file ${file} (${code ?? "error"})`,
          {
            hint: "Make it readable by this user (chmod 600), or point $SOPS_AGE_KEY_FILE at another keys file.",
          },
        );
    }
    if (text !== undefined) identities = await parseIdentities(text, file);
  }
  const age = identities.length > 0 ? await loadAge() : undefined;
  const recipients = await Promise.all(identities.map((i) => age!.identityToRecipient(i)));
  return { identities, recipients, looked };
}

/** A new X25519 identity appended to `file` (created 0600, its directory 0700); returns the recipient. */
export async function appendNewIdentity(file: string, now: Date = new Date()): Promise<string> {
  const { generateX25519Identity, identityToRecipient } = await loadAge();
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const existing = await readFile(file, "utf8");
    if (existing !== "" && !existing.endsWith("\n")) prefix = "\n";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw new KsailError("config", `cannot read the age keys file ${file}`, { cause: error });
  }
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  await appendFile(
    file,
    `${prefix}# created: ${stamp} (ksail workload secrets keygen)\n# public key: ${recipient}\n${identity}\n`,
    { mode: 0o600 },
  );
  await chmod(file, 0o600);
  return recipient;
}
