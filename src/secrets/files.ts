/**
 * The file operations behind `ksail workload secrets`: encrypt in place (like `sops -e -i`),
 * decrypt to a string (like `sops -d`), edit through $EDITOR, rotate the data key, and keygen.
 * Files are replaced atomically (a temporary file in the same directory, then rename), keeping
 * their mode; plaintext during an edit lives in a private 0700 directory and is removed after.
 */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { KsailError } from "../errors.js";
import { appendNewIdentity, loadIdentities, type AgeKeyPlaces } from "./age-keys.js";
import {
  creationRuleText,
  findSopsConfig,
  readSopsConfig,
  ruleFor,
  SOPS_CONFIG_NAMES,
} from "./sops-config.js";
import { decryptYaml, encryptYaml, isSopsYaml, SopsError } from "./sops-file.js";
import type { EncryptionRules } from "./tree.js";

/** A SOPS file larger than this is refused (kustomize-controller stops at 5 MiB too). */
export const MAX_SECRET_FILE_BYTES = 5 * 1024 * 1024;

async function readText(path: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KsailError(
      code === "ENOENT" ? "not-found" : "failed",
      `cannot read ${path} (${code ?? "error"})`,
    );
  }
  if (size > MAX_SECRET_FILE_BYTES)
    throw new KsailError(
      "validation",
      `${path} is ${size} bytes, over the ${MAX_SECRET_FILE_BYTES}-byte limit for SOPS files (kustomize-controller refuses larger ones)`,
      { hint: "Split the Secrets into several files." },
    );
  return readFile(path, "utf8");
}

async function writeAtomically(path: string, text: string): Promise<void> {
  let mode = 0o644;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    // a new file
  }
  const temporary = join(dirname(path), `.${basename(path)}.ksail-${process.pid}.tmp`);
  try {
    await writeFile(temporary, text, { mode });
    await chmod(temporary, mode);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A SopsError as the KsailError the CLI reports (exit code by reason). */
export function sopsFailure(path: string, error: unknown, looked?: string[]): never {
  if (!(error instanceof SopsError)) throw error;
  const where = `${path}${error.line === undefined ? "" : `:${error.line}`}`;
  switch (error.reason) {
    case "no-key":
      throw new KsailError("auth", `${where}: ${error.message}`, {
        hint: `ksail looked for age identities in ${(looked ?? []).join(", ") || "$SOPS_AGE_KEY and the sops keys file"}; put the matching AGE-SECRET-KEY-1… line there, or set $SOPS_AGE_KEY_FILE.`,
      });
    case "mac-mismatch":
      throw new KsailError("validation", `${where}: ${error.message}`, {
        hint: "Someone changed the encrypted file by hand or forged its metadata; restore it from version control and change it with `ksail workload secrets edit`.",
      });
    case "already-encrypted":
      throw new KsailError("conflict", `${where}: ${error.message}`, {
        hint: "Use `ksail workload secrets edit` to change it, or `ksail workload secrets rotate` for a new data key.",
      });
    case "not-sops":
      throw new KsailError("validation", `${where}: ${error.message}`, {
        hint: "Encrypt it first with `ksail workload secrets encrypt`.",
      });
    default:
      throw new KsailError("validation", `${where}: ${error.message}`);
  }
}

/** The recipients and rule `.sops.yaml` gives a file. */
export async function creationRuleFor(
  file: string,
  cwd: string,
): Promise<{ recipients: string[]; rules: EncryptionRules; config: string }> {
  const configPath = await findSopsConfig(cwd);
  if (configPath === undefined)
    throw new KsailError(
      "config",
      `no .sops.yaml in ${cwd} or its parents: ksail does not know whom to encrypt ${file} for`,
      {
        hint: "Run `ksail workload secrets keygen` at the project root; it writes an age key and a .sops.yaml.",
      },
    );
  const config = await readSopsConfig(configPath);
  const rule = ruleFor(config, file);
  if (rule === undefined)
    throw new KsailError("config", `no creation rule in ${configPath} matches ${file}`, {
      hint: "Add a rule whose path_regex matches the file (ksail workload secrets keygen prints one).",
    });
  if (rule.recipients.length === 0)
    throw new KsailError(
      "config",
      `the creation rule in ${configPath} for ${file} names no age recipient`,
      {
        hint: "ksail encrypts for age recipients only: add `age: age1…` to the rule.",
      },
    );
  return { recipients: rule.recipients, rules: rule.rules, config: configPath };
}

export interface EncryptedFile {
  path: string;
  recipients: string[];
}

/** Encrypts a plaintext YAML file in place. */
export async function encryptFile(path: string, cwd: string): Promise<EncryptedFile> {
  const text = await readText(path);
  if (isSopsYaml(text))
    sopsFailure(
      path,
      new SopsError("already-encrypted", "the file is already encrypted (it has sops metadata)"),
    );
  const { recipients, rules } = await creationRuleFor(path, cwd);
  let encrypted: string;
  try {
    encrypted = await encryptYaml(text, { recipients, rules });
  } catch (error) {
    sopsFailure(path, error);
  }
  await writeAtomically(path, encrypted);
  return { path, recipients };
}

/** The plaintext of a SOPS file (MAC checked). */
export async function decryptFile(path: string, keys: AgeKeyPlaces): Promise<string> {
  const text = await readText(path);
  const loaded = await loadIdentities(keys);
  try {
    return (await decryptYaml(text, loaded.identities)).text;
  } catch (error) {
    sopsFailure(path, error, loaded.looked);
  }
}

/** Re-encrypts a SOPS file with a new data key for the recipients `.sops.yaml` gives it now. */
export async function rotateFile(
  path: string,
  cwd: string,
  keys: AgeKeyPlaces,
): Promise<EncryptedFile> {
  const text = await readText(path);
  const loaded = await loadIdentities(keys);
  let plain: string;
  let rules: EncryptionRules;
  try {
    const decrypted = await decryptYaml(text, loaded.identities);
    plain = decrypted.text;
    rules = decrypted.metadata.rules;
  } catch (error) {
    sopsFailure(path, error, loaded.looked);
  }
  const target = await creationRuleFor(path, cwd);
  let encrypted: string;
  try {
    encrypted = await encryptYaml(plain, {
      recipients: target.recipients,
      rules: { ...rules, ...target.rules },
    });
  } catch (error) {
    sopsFailure(path, error);
  }
  await writeAtomically(path, encrypted);
  return { path, recipients: target.recipients };
}

export interface EditResult {
  path: string;
  changed: boolean;
}

function runEditor(editor: string, file: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    // $EDITOR may carry arguments ("code --wait"), as git and sops allow.
    const child = spawn(`${editor} "$KSAIL_EDIT_FILE"`, {
      shell: true,
      stdio: "inherit",
      env: { ...env, KSAIL_EDIT_FILE: file },
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolvePromise(signal === null ? (code ?? 1) : 128));
  });
}

/**
 * Opens the plaintext of a SOPS file in `editor` and re-encrypts it when the editor exits 0 and
 * the result is valid YAML; otherwise the file is left as it was. `env` is the editor's
 * environment (its PATH, its terminal).
 */
export async function editFile(
  path: string,
  editor: string,
  keys: AgeKeyPlaces,
  env: NodeJS.ProcessEnv,
): Promise<EditResult> {
  const text = await readText(path);
  const loaded = await loadIdentities(keys);
  let plain: string;
  let recipients: string[];
  let rules: EncryptionRules;
  try {
    const decrypted = await decryptYaml(text, loaded.identities);
    plain = decrypted.text;
    recipients = decrypted.metadata.age.map((a) => a.recipient);
    rules = decrypted.metadata.rules;
  } catch (error) {
    sopsFailure(path, error, loaded.looked);
  }
  const dir = await mkdtemp(join(tmpdir(), "ksail-secrets-"));
  try {
    await chmod(dir, 0o700);
    const file = join(dir, basename(path));
    await writeFile(file, plain, { mode: 0o600 });
    const code = await runEditor(editor, file, env);
    if (code !== 0)
      throw new KsailError(
        "failed",
        `the editor exited with status ${code}: ${path} was not changed`,
      );
    const edited = await readFile(file, "utf8");
    if (edited === plain) return { path, changed: false };
    const docs = parseAllDocuments(edited);
    const list = Array.isArray(docs) ? docs : [];
    const error = list.flatMap((d) => d.errors)[0];
    if (error !== undefined)
      throw new KsailError(
        "validation",
        `the edited content is not valid YAML (line ${error.linePos?.[0].line ?? "?"}): ${path} was not changed`,
        { hint: "Run the edit again; your changes were discarded." },
      );
    let encrypted: string;
    try {
      encrypted = await encryptYaml(edited, { recipients, rules });
    } catch (e) {
      sopsFailure(path, e);
    }
    await writeAtomically(path, encrypted);
    return { path, changed: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface KeygenResult {
  recipient: string;
  keyFile: string;
  /** The .sops.yaml written, or undefined when one existed. */
  configWritten?: string;
  /** The rule to add by hand when .sops.yaml existed. */
  suggestedRule?: string;
  existingConfig?: string;
}

/**
 * A new age identity appended to the sops keys file, and a `.sops.yaml` at `projectRoot` with a
 * creation rule for `sourceDir` unless one exists (then the rule to add is returned).
 */
export async function keygen(
  projectRoot: string,
  sourceDir: string,
  keys: AgeKeyPlaces,
): Promise<KeygenResult> {
  if (keys.key)
    throw new KsailError(
      "config",
      "$SOPS_AGE_KEY is set: sops and ksail read the identity from it, so a new key in a file would not be used",
      {
        hint: "Unset SOPS_AGE_KEY, or generate the key with age-keygen and add it to $SOPS_AGE_KEY yourself.",
      },
    );
  const { keyFile } = keys;
  const recipient = await appendNewIdentity(keyFile);
  const relativeSource = relative(projectRoot, sourceDir) || ".";
  const rule = creationRuleText(relativeSource, recipient);
  for (const name of SOPS_CONFIG_NAMES) {
    const existing = join(projectRoot, name);
    try {
      await stat(existing);
      return { recipient, keyFile, suggestedRule: rule, existingConfig: existing };
    } catch {
      // not there
    }
  }
  const configWritten = join(projectRoot, ".sops.yaml");
  await writeFile(configWritten, rule, { flag: "wx" });
  return { recipient, keyFile, configWritten };
}
