/**
 * Secrets from the command line (issue 23): the built CLI as a process against a real
 * distribution registry — `workload secrets keygen | encrypt | decrypt | rotate`, the guard of
 * `workload push` (exit 3, file:line, nothing sent; --allow-plaintext-secrets and
 * spec.options.secrets.allowPlaintext as the way out, with a warning), `gen flux` naming the
 * decryption Secret, and the sops CLI reading what the ksail CLI encrypted. Every output is
 * searched for the private key; so is the pushed layer.
 */
import { resolveAgeKeys } from "../../src/config/load.js";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { parseDocument } from "yaml";
import { RegistryClient } from "../../src/oci/client.js";
import { loadIdentities } from "../../src/secrets/age-keys.js";
import { json, runKsail, type KsailRun } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { runSops, sopsBinary } from "../../lab/sops.js";

const PASSWORD = "hunter2-but-longer";
const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  password: ${PASSWORD}\n`;

describe("ksail workload secrets and the push guard (real registry)", () => {
  let lab: LabRegistry;
  let project: string;
  let sops: string;
  let keyFile: string;
  let privateKey = "";
  const runs: KsailRun[] = [];
  const client = new RegistryClient();
  const repo = () => ({ registry: lab.registry, repository: "sealed" });
  const ksail = async (...args: string[]) => {
    const run = await runKsail(args, { cwd: project, env: { SOPS_AGE_KEY_FILE: keyFile } });
    runs.push(run);
    return run;
  };
  const out = (r: KsailRun) => `exit ${r.code}\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

  before(async () => {
    sops = sopsBinary();
    lab = await startRegistry();
    project = await mkdtemp(join(tmpdir(), "ksail-cli-secrets-"));
    keyFile = join(project, "keys", "age.txt");
    const init = await ksail(
      "init",
      "--name",
      "sealed",
      "--gitops-engine",
      "Flux",
      "--registry-port",
      lab.registry.split(":")[1]!,
    );
    assert.equal(init.code, 0, out(init));
    await mkdir(join(project, "k8s"), { recursive: true });
  });
  after(async () => {
    await lab?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("keygen prints the public key only, writes the key 0600 and .sops.yaml", async () => {
    const run = await ksail("workload", "secrets", "keygen", "-o", "json");
    assert.equal(run.code, 0, out(run));
    const result = json<{ recipient: string; keyFile: string; sopsConfigWritten: boolean }>(run);
    assert.equal(result.keyFile, keyFile);
    assert.equal(result.sopsConfigWritten, true);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const loaded = await loadIdentities(resolveAgeKeys({ SOPS_AGE_KEY_FILE: keyFile }));
    assert.deepEqual(loaded.recipients, [result.recipient]);
    privateKey = loaded.identities[0]!;
    const config = await readFile(join(project, ".sops.yaml"), "utf8");
    assert.ok(config.includes(result.recipient));
    const human = await ksail("workload", "secrets", "keygen");
    assert.equal(human.code, 0, out(human));
    assert.match(human.stdout, /\.sops\.yaml exists and was not changed/);
  });

  it("push refuses a plaintext Secret: exit 3, file:line, nothing sent", async () => {
    await writeFile(join(project, "k8s", "secret.yaml"), secret);
    const run = await ksail("workload", "push");
    assert.equal(run.code, 3, out(run));
    assert.match(run.stderr, /secret\.yaml:7.*plaintext-secret|secret\.yaml:7/);
    assert.match(run.stderr, /Secret default\/db holds stringData in plaintext/);
    assert.ok(!run.stderr.includes(PASSWORD));
    assert.deepEqual(await client.listTags(repo()).catch(() => []), []);
  });

  it("push refuses a private key under any name", async () => {
    await writeFile(join(project, "k8s", "notes.txt"), `backup:\n${privateKey}\n`);
    const run = await ksail("workload", "push");
    assert.equal(run.code, 3, out(run));
    assert.match(run.stderr, /notes\.txt:2/);
    assert.match(run.stderr, /an age private key/);
    await rm(join(project, "k8s", "notes.txt"));
  });

  it("--allow-plaintext-secrets and spec.options.secrets.allowPlaintext push with a warning", async () => {
    const flagged = await ksail("workload", "push", "--allow-plaintext-secrets", "-o", "json");
    assert.equal(flagged.code, 0, out(flagged));
    assert.match(flagged.stderr, /plaintext.*allowed by --allow-plaintext-secrets/);
    const path = join(project, "ksail.yaml");
    const original = await readFile(path, "utf8");
    const doc = parseDocument(original);
    doc.setIn(["spec", "options", "secrets", "allowPlaintext"], true);
    await writeFile(path, doc.toString());
    await writeFile(join(project, "k8s", "secret.yaml"), secret.replace("db", "db2"));
    const configured = await ksail("workload", "push");
    assert.equal(configured.code, 0, out(configured));
    assert.match(configured.stderr, /allowed by --allow-plaintext-secrets/);
    await writeFile(path, original);
  });

  it("encrypt, push: the layer holds ciphertext only; decrypt gives it back; sops reads it", async () => {
    await writeFile(join(project, "k8s", "secret.yaml"), secret);
    const encrypt = await ksail("workload", "secrets", "encrypt", "k8s/secret.yaml");
    assert.equal(encrypt.code, 0, out(encrypt));
    const push = await ksail("workload", "push", "-o", "json");
    assert.equal(push.code, 0, out(push));
    const pushed = json<{ layerDigest: string }>(push);
    const layer = gunzipSync(await client.fetchBlob(repo(), pushed.layerDigest)).toString("latin1");
    assert.ok(!layer.includes(PASSWORD), "the pushed layer holds the password");
    assert.ok(!layer.includes(privateKey), "the pushed layer holds the private key");
    assert.match(layer, /password: ENC\[AES256_GCM/);
    const decrypt = await ksail("workload", "secrets", "decrypt", "k8s/secret.yaml");
    assert.equal(decrypt.code, 0, out(decrypt));
    assert.equal(decrypt.stdout, secret);
    const byPeer = await runSops(sops, ["decrypt", "k8s/secret.yaml"], { cwd: project, keyFile });
    assert.equal(byPeer.code, 0, byPeer.stderr);
    assert.match(byPeer.stdout, new RegExp(`password: ${PASSWORD}`));
  });

  it("a tampered file is refused by push and decrypt; rotate and gen flux never show the key", async () => {
    const path = join(project, "k8s", "secret.yaml");
    const good = await readFile(path, "utf8");
    await writeFile(path, good.replace("namespace: default", "namespace: kube-system"));
    const push = await ksail("workload", "push");
    assert.equal(push.code, 3, out(push));
    assert.match(push.stderr, /sops-mac-mismatch|MAC does not match/);
    const decrypt = await ksail("workload", "secrets", "decrypt", "k8s/secret.yaml");
    assert.equal(decrypt.code, 3, out(decrypt));
    await writeFile(path, good);
    const rotate = await ksail("workload", "secrets", "rotate", "k8s/secret.yaml");
    assert.equal(rotate.code, 0, out(rotate));
    assert.notEqual(await readFile(path, "utf8"), good);
    // The object diff decrypts with the local key: a re-encryption of the same values is no
    // change, and no value is shown.
    const objects = await ksail("workload", "diff");
    assert.equal(objects.code, 0, out(objects));
    assert.match(objects.stdout, /no object changes/);
    assert.ok(!objects.stdout.includes(PASSWORD) && !objects.stderr.includes(PASSWORD));
    // diff --files and pull show the files as pushed: ciphertext, never a decrypted value.
    const diff = await ksail("workload", "diff", "--files");
    assert.equal(diff.code, 1, out(diff));
    assert.match(diff.stdout, /ENC\[AES256_GCM/);
    assert.ok(!diff.stdout.includes(PASSWORD));
    const pull = await ksail("workload", "pull", "--dest", "pulled");
    assert.equal(pull.code, 0, out(pull));
    const pulled = await readFile(join(project, "pulled", "secret.yaml"), "utf8");
    assert.ok(pulled.includes("ENC[AES256_GCM") && !pulled.includes(PASSWORD));
    const gen = await ksail("workload", "gen", "flux");
    assert.equal(gen.code, 0, out(gen));
    assert.match(gen.stdout, /decryption:\n\s+provider: sops\n\s+secretRef:\n\s+name: sops-age/);
  });

  it("no file is decrypted without the key: the error names where ksail looked", async () => {
    const run = await runKsail(["workload", "secrets", "decrypt", "k8s/secret.yaml"], {
      cwd: project,
      env: { SOPS_AGE_KEY_FILE: join(project, "missing.txt") },
    });
    runs.push(run);
    assert.equal(run.code, 5, out(run));
    assert.match(run.stderr, /missing\.txt/);
  });

  it("no output of any command holds the private key", () => {
    assert.ok(privateKey.startsWith("AGE-SECRET-KEY-1"));
    for (const run of runs) {
      assert.ok(!run.stdout.includes(privateKey), run.stdout);
      assert.ok(!run.stderr.includes(privateKey), run.stderr);
      assert.ok(!/AGE-SECRET-KEY-1[0-9A-Z]{20}/.test(run.stdout + run.stderr));
    }
  });
});
