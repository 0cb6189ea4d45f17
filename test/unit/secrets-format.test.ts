import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { parseAllDocuments } from "yaml";
import { decryptYaml, encryptYaml, isSopsYaml, SopsError } from "../../src/secrets/sops-file.js";
import { formatGoFloat } from "../../src/secrets/tree.js";
import { decryptValue, encryptValue } from "../../src/secrets/value-cipher.js";

const identity = await generateX25519Identity();
const recipient = await identityToRecipient(identity);
const other = await generateX25519Identity();
const K8S = { encryptedRegex: "^(data|stringData)$" };

const SECRET = `# a comment at the top
apiVersion: v1
kind: Secret
metadata:
  name: app # the app's Secret
  namespace: demo
type: Opaque
data:
  # the password, base64
  password: aHVudGVyMg==
  binary: AAECA//+/f8=
stringData:
  multi: |
    line one
    line two
  number: "42"
---
apiVersion: v1
kind: Secret
metadata:
  name: second
stringData:
  token: abc
`;

const values = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);

async function rejects(promise: Promise<unknown>, reason: string): Promise<SopsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SopsError, `not a SopsError: ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return error;
  }
  assert.fail(`expected a ${reason} error`);
}

describe("SOPS values (AES-256-GCM)", () => {
  it("round-trips each type and binds the value to its path", () => {
    const key = new Uint8Array(32).fill(7);
    for (const value of [
      { type: "str", text: "hunter2" },
      { type: "int", text: "42" },
      { type: "bool", text: "True" },
      { type: "comment", text: " note" },
    ] as const) {
      const encrypted = encryptValue(value, key, "data:password:");
      assert.match(encrypted, /^ENC\[AES256_GCM,data:.*,iv:.*,tag:.*,type:\w+\]$/);
      assert.deepEqual(decryptValue(encrypted, key, "data:password:"), value);
      assert.throws(() => decryptValue(encrypted, key, "data:other:"), /authentication failed/);
    }
    assert.equal(encryptValue({ type: "str", text: "" }, key, "a:"), "");
  });

  it("formats floats as Go's FormatFloat(f, 'f', -1, 64)", () => {
    assert.equal(formatGoFloat(1.5), "1.5");
    assert.equal(formatGoFloat(1e21), "1000000000000000000000");
    assert.equal(formatGoFloat(1.25e-7), "0.000000125");
    assert.equal(formatGoFloat(-2.5e22), "-25000000000000000000000");
    assert.equal(formatGoFloat(Infinity), "+Inf");
  });
});

describe("SOPS YAML files", () => {
  it("encrypts data and stringData only, and decrypts to the same values", async () => {
    const encrypted = await encryptYaml(SECRET, { recipients: [recipient], rules: K8S });
    assert.ok(isSopsYaml(encrypted));
    assert.ok(!encrypted.includes("aHVudGVyMg=="), "the password is in the encrypted file");
    assert.ok(!encrypted.includes("line one"));
    assert.ok(!encrypted.includes("the password, base64"), "a comment inside data stays plaintext");
    assert.ok(encrypted.includes("name: app"), "metadata is encrypted");
    assert.ok(encrypted.includes("# a comment at the top"));
    assert.equal(encrypted.match(/^sops:$/gm)?.length, 2, "each document carries the metadata");
    const decrypted = await decryptYaml(encrypted, [identity]);
    assert.deepEqual(values(decrypted.text), values(SECRET));
    assert.ok(decrypted.text.includes("# the password, base64"), "the encrypted comment decrypts");
  });

  it("encrypts every value but *_unencrypted keys without a rule", async () => {
    const text = "a: 1\nb_unencrypted: plain\nc: [true, 1.5, x]\n";
    const encrypted = await encryptYaml(text, { recipients: [recipient], rules: {} });
    assert.match(encrypted, /b_unencrypted: plain/);
    assert.match(encrypted, /a: ENC\[.*type:int\]/);
    assert.deepEqual(values((await decryptYaml(encrypted, [identity])).text), values(text));
  });

  it("refuses a changed value, a value moved to another key, and a changed lastmodified", async () => {
    const encrypted = await encryptYaml(SECRET, { recipients: [recipient], rules: K8S });
    await rejects(
      decryptYaml(encrypted.replace("name: app", "name: evil"), [identity]),
      "mac-mismatch",
    );
    const swapped = encrypted.replace(/(password|binary): (ENC\[[^\]]+\])/g, (_m, k: string) =>
      k === "password" ? "password: PLACEHOLDER" : "binary: PLACEHOLDER",
    );
    const [pw, bin] = [...encrypted.matchAll(/(?:password|binary): (ENC\[[^\]]+\])/g)].map(
      (m) => m[1]!,
    );
    const moved = swapped
      .replace("password: PLACEHOLDER", `password: ${bin}`)
      .replace("binary: PLACEHOLDER", `binary: ${pw}`);
    await rejects(decryptYaml(moved, [identity]), "invalid");
    const later = encrypted.replace(
      /lastmodified: "([^"]+)"/g,
      'lastmodified: "2001-01-01T00:00:00Z"',
    );
    await rejects(decryptYaml(later, [identity]), "mac-mismatch");
    const dropped = encrypted.replace(/^ {2}token: .*\n/m, "");
    await rejects(decryptYaml(dropped, [identity]), "mac-mismatch");
  });

  it("with mac_only_encrypted, plaintext fields may change", async () => {
    const encrypted = await encryptYaml(SECRET, {
      recipients: [recipient],
      rules: { ...K8S, macOnlyEncrypted: true },
    });
    assert.match(encrypted, /mac_only_encrypted: true/);
    const renamed = encrypted.replace("name: app", "name: renamed");
    const decrypted = await decryptYaml(renamed, [identity]);
    assert.match(decrypted.text, /name: renamed/);
  });

  it("names the recipients, never a key, when no local identity opens the file", async () => {
    const encrypted = await encryptYaml(SECRET, { recipients: [recipient], rules: K8S });
    const error = await rejects(decryptYaml(encrypted, [other]), "no-key");
    assert.ok(error.message.includes(recipient));
    assert.ok(!error.message.includes("AGE-SECRET-KEY"));
  });

  it("refuses files sops cannot represent, with the line", async () => {
    const input = { recipients: [recipient], rules: K8S };
    const alias = await rejects(encryptYaml("a: &x 1\nb: *x\n", input), "invalid");
    assert.match(alias.message, /anchors and aliases/);
    await rejects(encryptYaml("- a\n- b\n", input), "invalid");
    await rejects(encryptYaml("a: [\n", input), "invalid");
    const twice = await encryptYaml(SECRET, input);
    await rejects(encryptYaml(twice, input), "already-encrypted");
    await rejects(decryptYaml(SECRET, [identity]), "not-sops");
  });

  it("refuses forged metadata", async () => {
    const encrypted = await encryptYaml(SECRET, { recipients: [recipient], rules: K8S });
    await rejects(
      decryptYaml(encrypted.replace(/lastmodified: "[^"]+"/g, "lastmodified: yesterday"), [
        identity,
      ]),
      "invalid",
    );
    const noKeys = encrypted.replace(/ {4}- recipient: .*\n(?: {6}.*\n)+/g, "");
    await rejects(decryptYaml(noKeys.replace(/ {2}age:\n/g, ""), [identity]), "invalid");
    const emptyMac = encrypted.replace(/mac: ENC\[[^\]]+\]/g, 'mac: ""');
    await rejects(decryptYaml(emptyMac, [identity]), "mac-mismatch");
  });
});
