/**
 * Issue 23: ksail's SOPS files against the real sops CLI (v3.13.3, lab/go-tools.sh), both ways:
 * sops decrypts what ksail encrypted and ksail decrypts what sops encrypted — YAML with comments,
 * several documents, stringData, binary data, every scalar type, encrypted_regex and
 * mac_only_encrypted — and each refuses what the other tampered with.
 */
import { resolveAgeKeys } from "../../src/config/load.js";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { parseAllDocuments } from "yaml";
import { appendNewIdentity, loadIdentities } from "../../src/secrets/age-keys.js";
import { encryptFile } from "../../src/secrets/files.js";
import { decryptYaml, SopsError } from "../../src/secrets/sops-file.js";
import { runSops, sopsBinary } from "../../lab/sops.js";

const SECRET = `# Secrets of the app (a comment at the top)
apiVersion: v1
kind: Secret
metadata:
  name: app # inline comment on the name
  namespace: demo
type: Opaque
data:
  # the database password, base64
  password: aHVudGVyMg==
  binary: ${randomBytes(300).toString("base64")}
  empty: ""
stringData:
  config.yaml: |
    user: admin
    port: 5432
  token: "0123"
---
# the second document
apiVersion: v1
kind: Secret
metadata:
  name: second
stringData:
  api-key: s3cr3t
`;

const TYPES = `string: hello
int: 42
hex: 0x1F
negative: -7
float: 1.5
big: 1.0e+21
bool: true
nothing: null
list:
  - one
  - 2
  - false
nested:
  deeper:
    value: x
    kept_unencrypted: visible
`;

const values = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);

let sops = "";
let dir = "";
let keyFile = "";
let identities: string[] = [];
const K8S_RULE = "encrypted_regex: ^(data|stringData)$";

async function project(rule: string, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(dir, "p-"));
  const recipient = (await loadIdentities(resolveAgeKeys({ SOPS_AGE_KEY_FILE: keyFile })))
    .recipients[0]!;
  await writeFile(
    join(root, ".sops.yaml"),
    `creation_rules:\n  - path_regex: \\.ya?ml$\n    ${rule}\n    age: ${recipient}\n`,
  );
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, name), text);
  return root;
}

async function sopsDecrypt(root: string, file: string) {
  return runSops(sops, ["decrypt", file], { cwd: root, keyFile });
}

describe("SOPS files: ksail and the sops CLI read each other's", () => {
  before(async () => {
    sops = sopsBinary();
    dir = await mkdtemp(join(tmpdir(), "ksail-sops-"));
    keyFile = join(dir, "keys.txt");
    await appendNewIdentity(keyFile);
    identities = (await loadIdentities(resolveAgeKeys({ SOPS_AGE_KEY_FILE: keyFile }))).identities;
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [name, rule, text] of [
    ["a multi-document Secret with comments, stringData and binary data", K8S_RULE, SECRET],
    [
      "every scalar type, without a rule (all but *_unencrypted)",
      "unencrypted_suffix: _unencrypted",
      TYPES,
    ],
    ["mac_only_encrypted", `${K8S_RULE}\n    mac_only_encrypted: true`, SECRET],
    ["unencrypted_regex", "unencrypted_regex: ^(apiVersion|kind|metadata|type)$", SECRET],
  ] as const) {
    it(`sops decrypts what ksail encrypted: ${name}`, async () => {
      const root = await project(rule, { "file.yaml": text });
      await encryptFile(join(root, "file.yaml"), root);
      const encrypted = await readFile(join(root, "file.yaml"), "utf8");
      assert.ok(!encrypted.includes("aHVudGVyMg==") && !encrypted.includes("s3cr3t"));
      const run = await sopsDecrypt(root, "file.yaml");
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(values(run.stdout), values(text));
      // Encrypted comments decrypt too: sops warns about a comment it cannot decrypt.
      assert.doesNotMatch(run.stderr, /unencrypted comment/i);
      if (text === SECRET) assert.match(run.stdout, /# the database password, base64/);
    });

    it(`ksail decrypts what sops encrypted: ${name}`, async () => {
      const root = await project(rule, { "file.yaml": text });
      const run = await runSops(sops, ["encrypt", "--in-place", "file.yaml"], {
        cwd: root,
        keyFile,
      });
      assert.equal(run.code, 0, run.stderr);
      const encrypted = await readFile(join(root, "file.yaml"), "utf8");
      assert.match(encrypted, /ENC\[AES256_GCM/);
      const decrypted = await decryptYaml(encrypted, identities);
      assert.deepEqual(values(decrypted.text), values(text));
      if (text === SECRET) {
        assert.match(decrypted.text, /# the database password, base64/);
        assert.match(decrypted.text, /# Secrets of the app/, "a comment at the root decrypts");
      }
    });
  }

  it("each refuses a file the other encrypted and someone changed", async () => {
    const root = await project(K8S_RULE, { "ksail.yaml": SECRET, "sops.yaml": SECRET });
    await encryptFile(join(root, "ksail.yaml"), root);
    const sopsRun = await runSops(sops, ["encrypt", "--in-place", "sops.yaml"], {
      cwd: root,
      keyFile,
    });
    assert.equal(sopsRun.code, 0, sopsRun.stderr);
    for (const file of ["ksail.yaml", "sops.yaml"]) {
      const path = join(root, file);
      const text = await readFile(path, "utf8");
      // A plaintext field (outside encrypted_regex) changed: only the MAC notices.
      await writeFile(path, text.replace("namespace: demo", "namespace: prod"));
      const run = await sopsDecrypt(root, file);
      assert.notEqual(run.code, 0, `sops accepted the tampered ${file}`);
      assert.match(run.stderr, /MAC mismatch|integrity/i);
      await assert.rejects(
        decryptYaml(await readFile(path, "utf8"), identities),
        (e: unknown) => e instanceof SopsError && e.reason === "mac-mismatch",
      );
    }
  });

  it("a file for several recipients opens with either key, in both tools", async () => {
    const other = await generateX25519Identity();
    const otherRecipient = await identityToRecipient(other);
    const mine = (await loadIdentities(resolveAgeKeys({ SOPS_AGE_KEY_FILE: keyFile })))
      .recipients[0]!;
    const root = await mkdtemp(join(dir, "multi-"));
    await writeFile(
      join(root, ".sops.yaml"),
      `creation_rules:\n  - ${K8S_RULE}\n    age: ${mine},${otherRecipient}\n`,
    );
    await writeFile(join(root, "s.yaml"), SECRET);
    await encryptFile(join(root, "s.yaml"), root);
    const otherKeys = join(root, "other.txt");
    await writeFile(otherKeys, `${other}\n`);
    const run = await runSops(sops, ["decrypt", "s.yaml"], { cwd: root, keyFile: otherKeys });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(values(run.stdout), values(SECRET));
    const text = await readFile(join(root, "s.yaml"), "utf8");
    assert.deepEqual(values((await decryptYaml(text, [other])).text), values(SECRET));
  });

  it("a key from age-keygen works in ksail and sops; the age CLI opens ksail's data key", async () => {
    const root = await mkdtemp(join(dir, "age-cli-"));
    const ageKeys = join(root, "age-keys.txt");
    const keygen = spawnSync("age-keygen", ["-o", ageKeys], { encoding: "utf8" });
    assert.equal(
      keygen.status,
      0,
      `age-keygen (Debian package age): ${keygen.error ?? keygen.stderr}`,
    );
    const loaded = await loadIdentities(resolveAgeKeys({ SOPS_AGE_KEY_FILE: ageKeys }));
    assert.equal(loaded.identities.length, 1);
    await writeFile(
      join(root, ".sops.yaml"),
      `creation_rules:\n  - ${K8S_RULE}\n    age: ${loaded.recipients[0]}\n`,
    );
    await writeFile(join(root, "s.yaml"), SECRET);
    await encryptFile(join(root, "s.yaml"), root);
    const run = await runSops(sops, ["decrypt", "s.yaml"], { cwd: root, keyFile: ageKeys });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(values(run.stdout), values(SECRET));
    // The data key stanza is a plain armored age file: the age CLI decrypts it to 32 bytes.
    const encrypted = parseAllDocuments(
      await readFile(join(root, "s.yaml"), "utf8"),
    )[0]!.toJS() as {
      sops: { age: { enc: string }[] };
    };
    const age = spawnSync("age", ["-d", "-i", ageKeys], { input: encrypted.sops.age[0]!.enc });
    assert.equal(age.status, 0, String(age.stderr));
    assert.equal(age.stdout.length, 32);
  });
});
