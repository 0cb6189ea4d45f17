/**
 * Flux decrypts ksail's SOPS files (issue 23), every part real: the distribution registry, the
 * kube-apiserver and Flux's source-controller + kustomize-controller (v1.9.4) built from their Go
 * modules (lab/k8s, `bash lab/k8s/build.sh`).
 *
 * A Secret encrypted by ksail for the project's age key is pushed (the guard lets it through: it
 * is encrypted), the Kustomization gets `spec.decryption` and the `sops-age` Secret holds the
 * local identity matching `.sops.yaml`: kustomize-controller decrypts it and the Secret in the API
 * server holds the plaintext. The pushed layer holds ciphertext only and no key. A Secret
 * encrypted for another key fails through the reconcile service, quickly, with
 * kustomize-controller's message (exit 1 for the CLI).
 */
import { resolveAgeKeys } from "../../src/config/load.js";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { KsailError } from "../../src/errors.js";
import { diffCluster } from "../../src/flux/cluster-diff.js";
import type { FluxSyncSpec } from "../../src/flux/resources.js";
import { reconcileWorkload } from "../../src/flux/reconcile.js";
import { applyFluxSync } from "../../src/flux/sync.js";
import { KubeClient } from "../../src/k8s/client.js";
import { RegistryClient } from "../../src/oci/client.js";
import { silentProgress } from "../../src/progress.js";
import { appendNewIdentity, loadIdentities } from "../../src/secrets/age-keys.js";
import { encryptFile } from "../../src/secrets/files.js";
import { fluxDecryption } from "../../src/secrets/flux-decryption.js";
import { encryptYaml } from "../../src/secrets/sops-file.js";
import { pushWorkload } from "../../src/workload/push.js";
import { labInitArgs, startFluxLab } from "../../lab/flux-lab.js";
import { runKsail } from "../../lab/ksail.js";
import { kubeRequest, type KubeLab } from "../../lab/k8s/lab.js";
import type { LabRegistry } from "../../lab/registry.js";

const NAME = "sealed";
const NS = "flux-system";
const PASSWORD = "correct horse battery staple";
/** kustomize-controller's message for a resource it cannot decrypt (decryptor.go). */
const DECRYPT_FAILURE = /failed to decrypt and format 'default\/stranger' Secret data/;

const secret = (name: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: default\ntype: Opaque\nstringData:\n  password: ${PASSWORD}\ndata:\n  user: ${Buffer.from("admin").toString("base64")}\n`;

describe("Flux decrypts SOPS files encrypted by ksail (process lab)", () => {
  let lab: KubeLab;
  let registry: LabRegistry;
  let project: string;
  let source: string;
  let kube: KubeClient;
  let identity = "";
  const env: NodeJS.ProcessEnv = {};
  const client = new RegistryClient();
  const repository = () => ({ registry: registry.registry, repository: NAME });
  const diagnose = () => `--- kustomize-controller ---\n${lab.logs("kustomize-controller", 30)}`;

  const spec = (tag: string): FluxSyncSpec => ({
    name: NAME,
    namespace: NS,
    url: `oci://${registry.registry}/${NAME}`,
    ref: { tag },
    interval: "1h",
    insecure: true,
    timeout: "1m",
    decryption: { secretName: "sops-age" },
  });

  before(async () => {
    ({ lab, registry } = await startFluxLab());
    kube = KubeClient.connect({ kubeconfig: lab.kubeconfigPath, context: "ksail-lab" });
    project = await mkdtemp(join(tmpdir(), "ksail-sops-e2e-"));
    source = join(project, "k8s");
    await mkdir(source);
    env.SOPS_AGE_KEY_FILE = join(project, "keys", "keys.txt");
    const recipient = await appendNewIdentity(env.SOPS_AGE_KEY_FILE);
    identity = (await loadIdentities(resolveAgeKeys(env))).identities[0]!;
    await writeFile(
      join(project, ".sops.yaml"),
      `creation_rules:\n  - path_regex: ^k8s/.*\\.ya?ml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${recipient}\n`,
    );
  });

  after(async () => {
    await Promise.all([lab?.stop(), registry?.stop()]);
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("the Secret in the API server holds the plaintext; the artifact holds ciphertext and no key", async () => {
    await writeFile(join(source, "secret.yaml"), secret("app"));
    await encryptFile(join(source, "secret.yaml"), project);
    const pushed = await pushWorkload(
      { client },
      {
        repository: repository(),
        sourceDir: source,
        version: "1.0.0",
        source: "test",
        revision: "test",
      },
      silentProgress,
    );
    const layer = gunzipSync(await client.fetchBlob(repository(), pushed.layerDigest)).toString(
      "latin1",
    );
    assert.ok(!layer.includes(PASSWORD), "the pushed layer holds the plaintext");
    assert.ok(!layer.includes("AGE-SECRET-KEY"), "the pushed layer holds a private key");
    assert.match(layer, /password: ENC\[AES256_GCM/);

    const setup = await fluxDecryption(project, resolveAgeKeys(env));
    assert.ok(setup, "no decryption set-up found for the project");
    assert.deepEqual(setup.identities, [identity]);
    await applyFluxSync(kube, spec("1.0.0"), silentProgress, setup.identities);
    await reconcileWorkload(
      { kube },
      { name: NAME, namespace: NS, timeoutMs: 90_000 },
      silentProgress,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${diagnose()}`);
    });
    const applied = await kubeRequest(lab, "GET", "/api/v1/namespaces/default/secrets/app");
    const data = (applied.json as { data?: Record<string, string> }).data ?? {};
    assert.equal(Buffer.from(data.password ?? "", "base64").toString(), PASSWORD);
    assert.equal(Buffer.from(data.user ?? "", "base64").toString(), "admin");
    // The Kustomization names the Secret; the key is only in sops-age, nowhere else.
    const ks = await kubeRequest(
      lab,
      "GET",
      `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${NS}/kustomizations/${NAME}`,
    );
    assert.deepEqual((ks.json as { spec: { decryption: unknown } }).spec.decryption, {
      provider: "sops",
      secretRef: { name: "sops-age" },
    });
    assert.ok(!JSON.stringify(ks.json).includes("AGE-SECRET-KEY"));
  });

  it("diff --cluster decrypts locally and shows Secret values masked", async () => {
    const target = { name: NAME, namespace: NS };
    const identities = async () => [identity];
    const same = await diffCluster({ kube }, { sourceDir: source, target, identities });
    assert.deepEqual(same.errors, []);
    assert.deepEqual(same.changes, [], "the decrypted Secret equals the applied one");
    // A new password, encrypted again: a drift, shown masked.
    await writeFile(join(source, "secret.yaml"), secret("app").replace(PASSWORD, "new-password"));
    await encryptFile(join(source, "secret.yaml"), project);
    const drift = await diffCluster({ kube }, { sourceDir: source, target, identities });
    assert.deepEqual(
      drift.changes.map((c) => `${c.subject} ${c.action}`),
      ["Secret/default/app drifted"],
    );
    const patch = drift.changes[0]!.patch!;
    assert.match(patch, /password: "?\*\*\* \(before\)/);
    assert.match(patch, /password: "?\*\*\* \(after\)/);
    for (const shown of [PASSWORD, "new-password", Buffer.from(PASSWORD).toString("base64")])
      assert.ok(!patch.includes(shown), `the diff shows ${shown}`);
    // Without the key, no comparison: the error names the recipient, never a key.
    const error = await diffCluster(
      { kube },
      { sourceDir: source, target, identities: async () => [] },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof KsailError && error.kind === "auth", String(error));
    await writeFile(join(source, "secret.yaml"), secret("app"));
    await encryptFile(join(source, "secret.yaml"), project);
  });

  it("a Secret encrypted for another key fails through reconcile with kustomize-controller's message", async () => {
    const strangerRecipient = await identityToRecipient(await generateX25519Identity());
    await writeFile(
      join(source, "stranger.yaml"),
      await encryptYaml(secret("stranger"), {
        recipients: [strangerRecipient],
        rules: { encryptedRegex: "^(data|stringData)$" },
      }),
    );
    await pushWorkload(
      { client },
      {
        repository: repository(),
        sourceDir: source,
        version: "1.0.1",
        source: "test",
        revision: "test",
      },
      silentProgress,
    );
    const setup = await fluxDecryption(project, resolveAgeKeys(env));
    await applyFluxSync(kube, spec("1.0.1"), silentProgress, setup!.identities);
    const error = await reconcileWorkload(
      { kube },
      { name: NAME, namespace: NS, timeoutMs: 60_000 },
      silentProgress,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    const context = `\n${diagnose()}`;
    assert.ok(error instanceof KsailError, `reconcile gave ${String(error)}${context}`);
    // "failed" (exit 1) as soon as Flux says so, not "timeout" (exit 10).
    assert.equal(error.kind, "failed", `${error.kind}: ${error.message}${context}`);
    assert.match(error.message, DECRYPT_FAILURE, `${error.message}${context}`);
    assert.ok(!error.message.includes(identity), "the error holds the private key");
  });

  it("the CLI: flux sync writes sops-age and spec.decryption; reconcile exits 1 with Flux's message, then 0", async () => {
    const cli = await mkdtemp(join(tmpdir(), "ksail-sops-e2e-cli-"));
    try {
      await writeFile(join(cli, ".sops.yaml"), await readFile(join(project, ".sops.yaml")));
      const ksail = (...args: string[]) =>
        runKsail(args, { cwd: cli, env: { SOPS_AGE_KEY_FILE: env.SOPS_AGE_KEY_FILE! } });
      const init = await ksail(...labInitArgs(lab, registry, NAME, "1h"));
      assert.equal(init.code, 0, init.stderr);
      const runs = [];
      for (const [tag, code] of [
        ["1.0.1", 1],
        ["1.0.0", 0],
      ] as const) {
        const sync = await ksail(
          "flux",
          "sync",
          "--registry",
          `oci://${registry.registry}/${NAME}`,
          "--tag",
          tag,
        );
        runs.push(sync);
        assert.equal(sync.code, 0, sync.stderr);
        assert.match(sync.stdout, /Flux decrypts SOPS files with the age key of age1/);
        const reconcile = await ksail("workload", "reconcile", "--timeout", "60s");
        runs.push(reconcile);
        const context = `\n${reconcile.stderr}\n${diagnose()}`;
        assert.equal(reconcile.code, code, `exit ${reconcile.code}${context}`);
        if (code === 1) assert.match(reconcile.stderr, DECRYPT_FAILURE, context);
      }
      // reconcile --push runs the guard before anything is sent: a plaintext Secret, exit 3.
      const tags = await client.listTags(repository());
      await writeFile(join(cli, "k8s", "plain.yaml"), secret("plain"));
      const refused = await ksail("workload", "reconcile", "--push", "--timeout", "60s");
      runs.push(refused);
      assert.equal(refused.code, 3, `${refused.stdout}\n${refused.stderr}`);
      assert.match(refused.stderr, /plain\.yaml:\d+/);
      assert.ok(!refused.stderr.includes(PASSWORD));
      assert.deepEqual(
        await client.listTags(repository()),
        tags,
        "reconcile --push sent a version",
      );
      const stored = await kubeRequest(lab, "GET", `/api/v1/namespaces/${NS}/secrets/sops-age`);
      const data = (stored.json as { data: Record<string, string> }).data;
      assert.equal(Buffer.from(data["age.agekey"]!, "base64").toString().trim(), identity);
      for (const run of runs) assert.ok(!`${run.stdout}${run.stderr}`.includes(identity));
    } finally {
      await rm(cli, { recursive: true, force: true });
    }
  });
});
