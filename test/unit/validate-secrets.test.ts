import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import { encryptYaml } from "../../src/secrets/sops-file.js";
import { validateSource, type ValidationIssue } from "../../src/validate/manifests.js";
import type { SecretsPolicy } from "../../src/validate/secrets.js";

const identity = await generateX25519Identity();
const recipient = await identityToRecipient(identity);
const K8S = { encryptedRegex: "^(data|stringData)$" };

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

async function validate(
  files: Record<string, string>,
  policy: SecretsPolicy = {},
): Promise<{ issues: ValidationIssue[]; warnings: ValidationIssue[] }> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-guard-"));
  temps.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const { files: listed } = await listSourceFiles(dir);
  const warnings: ValidationIssue[] = [];
  const issues = await validateSource(dir, listed, { warnings, secrets: policy });
  return { issues, warnings };
}

const where = (issues: ValidationIssue[]) =>
  issues.map((i) => `${i.file}:${i.line ?? "-"} ${i.rule}`);

const plainSecret = (name: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n  password: hunter2\n`;
const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";
const kustomization = (body: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;

describe("the secrets guard", () => {
  it("refuses a plaintext Secret with file:line, and never shows the value", async () => {
    const { issues } = await validate({ "secret.yaml": plainSecret("db") });
    assert.deepEqual(where(issues), ["secret.yaml:6 plaintext-secret"]);
    assert.match(issues[0]!.message, /Secret db holds stringData in plaintext \(password\)/);
    assert.ok(!issues[0]!.message.includes("hunter2"));
  });

  it("turns it into a warning with allowPlaintext", async () => {
    const { issues, warnings } = await validate(
      { "secret.yaml": plainSecret("db") },
      { allowPlaintext: true },
    );
    assert.deepEqual(issues, []);
    assert.deepEqual(where(warnings), ["secret.yaml:6 plaintext-secret"]);
    assert.match(warnings[0]!.message, /allowed by --allow-plaintext-secrets/);
  });

  it("finds a plaintext Secret in a nested kustomization, in a multi-document file and in a List", async () => {
    const { issues } = await validate({
      "kustomization.yaml": kustomization("resources:\n  - overlay\n"),
      "overlay/kustomization.yaml": kustomization("resources:\n  - ../base\n  - list.yaml\n"),
      "base/kustomization.yaml": kustomization("resources:\n  - app.yaml\n"),
      "base/app.yaml": `${configMap}---\n${plainSecret("nested")}`,
      "overlay/list.yaml":
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n      name: listed\n    data:\n      a: YWJj\n",
    });
    assert.deepEqual(where(issues), [
      "base/app.yaml:13 plaintext-secret",
      "overlay/list.yaml:9 plaintext-secret",
    ]);
  });

  it("judges files Flux never applies too (the artifact carries them), not empty Secrets or other kinds", async () => {
    const { issues } = await validate({
      "kustomization.yaml": kustomization("resources:\n  - app.yaml\n"),
      "app.yaml": `${configMap}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\ndata: {}\n---\napiVersion: example.com/v1\nkind: Secret\nmetadata:\n  name: custom\ndata:\n  a: b\n`,
      "unused/secret.yaml": plainSecret("unused"),
    });
    assert.deepEqual(where(issues), ["unused/secret.yaml:6 plaintext-secret"]);
  });

  it("accepts SOPS-encrypted Secrets and refuses values a rule left in plaintext", async () => {
    const both = await encryptYaml(plainSecret("db"), { recipients: [recipient], rules: K8S });
    const partial = await encryptYaml(
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: partial\ndata:\n  a: YWJj\nstringData:\n  b: c\n",
      { recipients: [recipient], rules: { encryptedRegex: "^stringData$" } },
    );
    const { issues } = await validate({ "db.yaml": both, "partial.yaml": partial });
    assert.deepEqual(where(issues), ["partial.yaml:6 plaintext-secret"]);
    assert.match(
      issues[0]!.message,
      /data\.a is not encrypted although the file has sops metadata/,
    );
  });

  it("refuses a tampered SOPS file when the key is at hand, accepts it when not", async () => {
    const encrypted = await encryptYaml(plainSecret("db"), { recipients: [recipient], rules: K8S });
    const tampered = { "db.yaml": encrypted.replace("name: db", "name: other") };
    const withKey = await validate(tampered, { identities: async () => [identity] });
    assert.deepEqual(where(withKey.issues), ["db.yaml:- sops-mac-mismatch"]);
    const untouched = await validate(
      { "db.yaml": encrypted },
      { identities: async () => [identity] },
    );
    assert.deepEqual(untouched.issues, []);
    const withoutKey = await validate(tampered, { identities: async () => [] });
    assert.deepEqual(withoutKey.issues, []);
    const unreadable = await validate(tampered, {
      identities: () =>
        Promise.reject(new Error("cannot read the age keys file /x/keys.txt (EACCES)")),
    });
    assert.deepEqual(unreadable.issues, []);
    assert.deepEqual(where(unreadable.warnings), ["db.yaml:- sops-mac-unchecked"]);
    assert.match(unreadable.warnings[0]!.message, /\/x\/keys\.txt/);
  });

  it("refuses forged metadata over plaintext, and metadata kustomize-controller cannot read", async () => {
    const forged = `${plainSecret("db")}sops:\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n`;
    const { issues } = await validate({ "db.yaml": forged });
    assert.deepEqual(where(issues), ["db.yaml:6 plaintext-secret", "db.yaml:7 sops-metadata"]);
  });

  it("refuses secretGenerator literals and plaintext files, accepts SOPS-encrypted files", async () => {
    const encryptedEnv =
      "USER=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\nsops_mac=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n";
    const { issues } = await validate({
      "kustomization.yaml": kustomization(
        "secretGenerator:\n  - name: literal\n    literals:\n      - password=hunter2\n  - name: plain\n    envs:\n      - plain.env\n  - name: sealed\n    envs:\n      - sealed.env\n",
      ),
      "plain.env": "USER=admin\n",
      "sealed.env": encryptedEnv,
    });
    assert.deepEqual(where(issues), [
      "kustomization.yaml:5 plaintext-secret",
      "kustomization.yaml:9 plaintext-secret",
    ]);
    assert.ok(issues.every((i) => !i.message.includes("hunter2") && !i.message.includes("admin")));
  });

  it("refuses private keys under any name, and never shows them", async () => {
    const age = identity;
    const { issues } = await validate({
      "notes.txt": `remember:\n${age}\n`,
      "tls.crt":
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
      "cosign.pub":
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
      "id.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k\ndata:\n  key: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    b3BlbnNzaA==\n    -----END OPENSSH PRIVATE KEY-----\n`,
      "readme.md": "An age identity looks like AGE-SECRET-KEY-1… and a public key like age1…\n",
    });
    assert.deepEqual(where(issues), [
      "cosign.pub:1 private-key",
      "id.yaml:7 private-key",
      "notes.txt:2 private-key",
      "tls.crt:1 private-key",
    ]);
    for (const issue of issues) assert.ok(!issue.message.includes(age.slice(16)), issue.message);
  });

  it("accepts a Secret whose data holds a base64 SOPS file (a generated Secret of an encrypted file)", async () => {
    const encrypted = await encryptYaml("user: admin\n", { recipients: [recipient], rules: {} });
    const generated = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: gen\ndata:\n  creds.yaml: ${Buffer.from(encrypted).toString("base64")}\n`;
    const { issues } = await validate({ "gen.yaml": generated });
    assert.deepEqual(issues, []);
  });

  it("a 10 MB SOPS file is refused by size, without being parsed", async () => {
    const big = `${plainSecret("big").replace("hunter2", "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]")}filler: ${"x".repeat(10 * 1024 * 1024)}\nsops:\n  mac: ENC[x]\n`;
    const { issues } = await validate({ "big.yaml": big });
    assert.deepEqual(where(issues), ["big.yaml:- file-too-large"]);
  });
});
