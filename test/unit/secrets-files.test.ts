import assert from "node:assert/strict";
import { resolveAgeKeys } from "../../src/config/load.js";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { KsailError } from "../../src/errors.js";
import { loadIdentities } from "../../src/secrets/age-keys.js";
import {
  decryptFile,
  editFile,
  encryptFile,
  keygen,
  MAX_SECRET_FILE_BYTES,
  rotateFile,
} from "../../src/secrets/files.js";
import { fluxDecryption } from "../../src/secrets/flux-decryption.js";

const SECRET =
  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n";

let root = "";
let env: NodeJS.ProcessEnv = {};
let saved: NodeJS.ProcessEnv = {};

async function rejectsWith(promise: Promise<unknown>, kind: string, pattern: RegExp) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof KsailError, String(error));
    assert.equal(error.kind, kind, error.message);
    assert.match(`${error.message}\n${error.hint ?? ""}`, pattern);
    return error;
  }
  assert.fail("expected an error");
}

describe("ksail workload secrets (services)", () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "ksail-secrets-"));
    await mkdir(join(root, "k8s"));
    env = { HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "config") };
    // The services read process.env as sops does: point it at this test's places.
    saved = { ...process.env };
    for (const key of ["SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "XDG_CONFIG_HOME", "HOME"])
      delete process.env[key];
    Object.assign(process.env, env);
  });
  after(async () => {
    process.env = saved;
    await rm(root, { recursive: true, force: true });
  });

  it("keygen appends an identity (0600) where sops looks and writes .sops.yaml once", async () => {
    const first = await keygen(root, join(root, "k8s"), resolveAgeKeys(env));
    assert.equal(first.keyFile, join(root, "config", "sops", "age", "keys.txt"));
    assert.equal(resolveAgeKeys(env).keyFile, first.keyFile);
    assert.equal((await stat(first.keyFile)).mode & 0o777, 0o600);
    assert.match(first.recipient, /^age1[0-9a-z]{58}$/);
    const config = await readFile(join(root, ".sops.yaml"), "utf8");
    assert.match(config, /path_regex: "\^k8s\/\.\*\\\\\.ya\?ml\$"/);
    assert.match(config, /encrypted_regex: "\^\(data\|stringData\)\$"/);
    assert.ok(config.includes(`age: ${first.recipient}`));
    const second = await keygen(root, join(root, "k8s"), resolveAgeKeys(env));
    assert.equal(second.configWritten, undefined);
    assert.equal(second.existingConfig, join(root, ".sops.yaml"));
    assert.ok(second.suggestedRule?.includes(second.recipient));
    assert.equal(await readFile(join(root, ".sops.yaml"), "utf8"), config, ".sops.yaml changed");
    const loaded = await loadIdentities(resolveAgeKeys(env));
    assert.deepEqual(loaded.recipients, [first.recipient, second.recipient]);
  });

  it("encrypts in place, decrypts to a string, refuses to encrypt twice", async () => {
    const file = join(root, "k8s", "secret.yaml");
    await writeFile(file, SECRET, { mode: 0o640 });
    await encryptFile(file, root);
    const encrypted = await readFile(file, "utf8");
    assert.ok(!encrypted.includes("hunter2"));
    assert.equal((await stat(file)).mode & 0o777, 0o640, "the file's mode changed");
    assert.equal(await decryptFile(file, resolveAgeKeys(env)), SECRET);
    await rejectsWith(encryptFile(file, root), "conflict", /already encrypted/);
  });

  it("no .sops.yaml, or no rule for the file: a config error saying what to do", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "ksail-no-sops-"));
    try {
      await writeFile(join(elsewhere, "s.yaml"), SECRET);
      await rejectsWith(encryptFile(join(elsewhere, "s.yaml"), elsewhere), "config", /keygen/);
      await writeFile(join(root, "other.yaml"), SECRET);
      await rejectsWith(encryptFile(join(root, "other.yaml"), root), "config", /no creation rule/);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("edit: re-encrypts on save, keeps the file when the editor fails or writes invalid YAML", async () => {
    const file = join(root, "k8s", "secret.yaml");
    const editor = join(root, "editor.sh");
    const before = await readFile(file, "utf8");
    await writeFile(editor, "#!/bin/sh\nexit 3\n");
    await chmod(editor, 0o755);
    await rejectsWith(
      editFile(file, editor, resolveAgeKeys(env), env),
      "failed",
      /status 3.*not changed/,
    );
    await writeFile(editor, '#!/bin/sh\nprintf "a: [\\n" > "$1"\n');
    await rejectsWith(
      editFile(file, editor, resolveAgeKeys(env), env),
      "validation",
      /not valid YAML/,
    );
    assert.equal(await readFile(file, "utf8"), before);
    await writeFile(editor, '#!/bin/sh\nsed -i "s/hunter2/swordfish/" "$1"\n');
    assert.deepEqual(await editFile(file, editor, resolveAgeKeys(env), env), {
      path: file,
      changed: true,
    });
    assert.match(await decryptFile(file, resolveAgeKeys(env)), /password: swordfish/);
    assert.ok(!(await readFile(file, "utf8")).includes("swordfish"));
  });

  it("rotate: a new data key for the recipients .sops.yaml names now", async () => {
    const file = join(root, "k8s", "secret.yaml");
    const other = await generateX25519Identity();
    const otherRecipient = await identityToRecipient(other);
    const mine = (await loadIdentities(resolveAgeKeys(env))).recipients[0]!;
    const config = join(root, ".sops.yaml");
    const original = await readFile(config, "utf8");
    await writeFile(config, original.replace(`age: ${mine}`, `age: ${mine},${otherRecipient}`));
    const rotated = await rotateFile(file, root, resolveAgeKeys(env));
    assert.deepEqual(rotated.recipients, [mine, otherRecipient]);
    assert.ok((await readFile(file, "utf8")).includes(otherRecipient));
    assert.match(await decryptFile(file, resolveAgeKeys(env)), /password: swordfish/);
    await writeFile(config, original);
    const decryption = await fluxDecryption(root, resolveAgeKeys(env));
    assert.deepEqual(decryption?.decryption.matched, [mine]);
    assert.equal(decryption?.identities.length, 1);
  });

  it("a key file that is missing or unreadable: errors name where ksail looked, never a key", async () => {
    const file = join(root, "k8s", "secret.yaml");
    const keyFile = resolveAgeKeys(env).keyFile;
    const keys = await readFile(keyFile, "utf8");
    const moved = `${keyFile}.away`;
    await writeFile(moved, keys);
    await rm(keyFile);
    const missing = await rejectsWith(
      decryptFile(file, resolveAgeKeys(env)),
      "auth",
      new RegExp(keyFile.replace(/[.]/g, "\\.")),
    );
    await writeFile(keyFile, keys, { mode: 0o000 });
    if (process.getuid?.() !== 0) {
      await rejectsWith(
        decryptFile(file, resolveAgeKeys(env)),
        "config",
        /cannot read the age keys file/,
      );
    }
    await writeFile(keyFile, "AGE-SECRET-KEY-1NOTAKEY\n", { mode: 0o600 });
    const bad = await rejectsWith(
      decryptFile(file, resolveAgeKeys(env)),
      "config",
      /keys\.txt:1: the age identity is malformed/,
    );
    await writeFile(keyFile, keys, { mode: 0o600 });
    for (const error of [missing, bad])
      assert.ok(!`${error.message}${error.hint}`.includes("AGE-SECRET-KEY-1NOTAKEY"));
    assert.match(await decryptFile(file, resolveAgeKeys(env)), /swordfish/);
  });

  it("a 10 MB SOPS file is refused before it is read", async () => {
    const big = join(root, "k8s", "big.yaml");
    await writeFile(big, `a: ${"x".repeat(10 * 1024 * 1024)}\nsops:\n  mac: ENC[x]\n`);
    await rejectsWith(
      decryptFile(big, resolveAgeKeys(env)),
      "validation",
      new RegExp(`over the ${MAX_SECRET_FILE_BYTES}-byte limit`),
    );
    await rm(big);
  });
});
