/**
 * Flux verifies ksail's cosign v3 bundles (issue 27), every part real: kube-apiserver and
 * Flux's source-controller v1.9.1 + kustomize-controller built from their Go modules (lab/k8s),
 * and two registries — Debian's distribution 2.8 (no referrers API: source-controller finds the
 * bundle through the `sha256-<hex>` fallback tag) and go-containerregistry's registry with the
 * referrers API (lab/referrers-registry).
 *
 * source-controller v1.9.1 carries fluxcd/source-controller#1961: with a public key it first
 * asks cosign's GetBundles (referrers API, else the tag schema) and verifies the bundles it
 * finds (sigstore-go, the in-toto subject compared with the artifact's digest); only when there
 * are none does it fall back to the `.sig` tag. This test is what makes "bundle" ksail's default
 * signature format: a bundle-signed version becomes Ready; an unsigned one, one whose bundle is
 * by another key, and one carrying a genuine bundle of another digest are refused with Flux's
 * message — and `ksail workload reconcile` reports that with exit 1.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KsailError } from "../../src/errors.js";
import { cosignVerifySpec, type FluxSyncSpec } from "../../src/flux/resources.js";
import { reconcileWorkload } from "../../src/flux/reconcile.js";
import { applyFluxSync } from "../../src/flux/sync.js";
import { KubeClient } from "../../src/k8s/client.js";
import { RegistryClient } from "../../src/oci/client.js";
import type { RepositoryRef } from "../../src/oci/reference.js";
import { BUNDLE_MEDIA_TYPE, bundleReferrer } from "../../src/sign/bundle-format.js";
import { createKeyPair, loadSigningKey, type SigningKey } from "../../src/sign/keys.js";
import { silentProgress } from "../../src/progress.js";
import { pushWorkload } from "../../src/workload/push.js";
import { signArtifact } from "../../src/workload/sign.js";
import { labInitArgs } from "../../lab/flux-lab.js";
import { runKsail } from "../../lab/ksail.js";
import { kubeRequest, startKubeLab, type KubeLab } from "../../lab/k8s/lab.js";
import { startReferrersRegistry } from "../../lab/referrers-registry.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const NS = "flux-system";

interface OciStatus {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

describe("Flux verifies ksail's cosign bundles (process lab)", () => {
  let lab: KubeLab;
  let fallback: LabRegistry;
  let withApi: { registry: string; stop(): Promise<void> };
  let work: string;
  let project: string;
  let kube: KubeClient;
  let trusted: SigningKey;
  let trustedPub: string;
  let stranger: SigningKey;
  const client = new RegistryClient();

  const targets = () => [
    { name: "bundles-tag", registry: fallback.registry, via: "tag" as const },
    { name: "bundles-api", registry: withApi.registry, via: "api" as const },
  ];
  const repositoryOf = (t: { name: string; registry: string }): RepositoryRef => ({
    registry: t.registry,
    repository: t.name,
  });
  const digests = new Map<string, string>();
  const key = (name: string, version: string) => `${name}:${version}`;

  const spec = (t: { name: string; registry: string }, tag: string): FluxSyncSpec => ({
    name: t.name,
    namespace: NS,
    url: `oci://${t.registry}/${t.name}`,
    ref: { tag },
    interval: "1h",
    insecure: true,
    timeout: "1m",
    verify: cosignVerifySpec(t.name, trustedPub),
  });
  const follow = async (t: { name: string; registry: string }, tag: string, timeoutMs = 90_000) => {
    await applyFluxSync(kube, spec(t, tag), silentProgress);
    return reconcileWorkload({ kube }, { name: t.name, namespace: NS, timeoutMs }, silentProgress);
  };
  const ociStatus = async (name: string) =>
    (
      await kubeRequest(
        lab,
        "GET",
        `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/ocirepositories/${name}`,
      )
    ).json as OciStatus;
  const diagnose = () => `--- source-controller ---\n${lab.logs("source-controller", 30)}`;

  before(async () => {
    [lab, fallback, withApi] = await Promise.all([
      startKubeLab(),
      startRegistry(),
      startReferrersRegistry(),
    ]);
    work = await mkdtemp(join(tmpdir(), "ksail-bundle-e2e-"));
    project = await mkdtemp(join(tmpdir(), "ksail-bundle-e2e-project-"));
    kube = KubeClient.connect({ kubeconfig: lab.kubeconfigPath, context: "ksail-lab" });
    const [a, b] = await Promise.all([createKeyPair("pw"), createKeyPair("pw")]);
    trustedPub = a.publicKeyPem;
    trusted = await loadSigningKey(a.privateKeyPem, { source: "a", password: "pw" });
    stranger = await loadSigningKey(b.privateKeyPem, { source: "b", password: "pw" });
    for (const t of targets()) {
      const repository = repositoryOf(t);
      for (const version of ["2.0.0", "2.0.1", "2.0.2", "2.0.3"]) {
        await writeFile(
          join(work, "cm.yaml"),
          `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${t.name}-settings\n  namespace: default\ndata:\n  version: "${version}"\n`,
        );
        const pushed = await pushWorkload(
          { client },
          { repository, sourceDir: work, version },
          silentProgress,
        );
        digests.set(key(t.name, version), pushed.digest);
      }
      const sign = (version: string, signer: SigningKey) =>
        signArtifact(
          { client },
          {
            repository,
            digest: digests.get(key(t.name, version))!,
            key: signer,
            format: "bundle",
          },
          silentProgress,
        );
      const signed = await sign("2.0.0", trusted);
      assert.equal(signed.via, t.via);
      await sign("2.0.2", stranger);
      // 2.0.3: the trusted key's genuine bundle of 2.0.0, attached to 2.0.3.
      const referrer = JSON.parse(
        (await client.fetchManifest(repository, signed.signature)).bytes.toString(),
      ) as { layers: { digest: string }[] };
      const bundle = await client.fetchBlob(repository, referrer.layers[0]!.digest);
      const subject = (await client.resolve(repository, digests.get(key(t.name, "2.0.3"))!))!;
      const image = bundleReferrer(subject, bundle, new Date());
      for (const blob of image.blobs) await client.pushBlob(repository, blob);
      await client.pushReferrer(repository, subject.digest, image.manifest, {
        artifactType: BUNDLE_MEDIA_TYPE,
      });
    }
  });

  after(async () => {
    await Promise.all([lab?.stop(), fallback?.stop(), withApi?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("a bundle-signed version becomes Ready (referrers tag and referrers API)", async () => {
    for (const t of targets()) {
      const result = await follow(t, "2.0.0").catch((error: unknown) => {
        throw new Error(`${t.name}: ${String(error)}\n${diagnose()}`);
      });
      assert.equal(result.steps[0]!.revision, `2.0.0@${digests.get(key(t.name, "2.0.0"))}`);
      const verified = (await ociStatus(t.name)).status?.conditions?.find(
        (c) => c.type === "SourceVerified",
      );
      assert.equal(verified?.status, "True", JSON.stringify(verified));
      assert.match(verified!.message, /verified signature of revision 2\.0\.0@sha256:/);
    }
  });

  for (const [version, what] of [
    ["2.0.1", "an unsigned version"],
    ["2.0.2", "a version whose bundle is by another key"],
    ["2.0.3", "a version carrying a genuine bundle of another digest"],
  ] as const) {
    it(`${what} is refused with Flux's verification message`, async () => {
      for (const t of targets()) {
        const error = await follow(t, version, 30_000).then(
          () => undefined,
          (e: unknown) => e,
        );
        const status = (await ociStatus(t.name)).status;
        const context = `\n${t.name} status: ${JSON.stringify(status)}\n${diagnose()}`;
        assert.ok(error instanceof KsailError, `reconcile gave ${String(error)}${context}`);
        assert.equal(error.kind, "failed", `${error.kind}: ${error.message}${context}`);
        assert.match(
          error.message,
          /failed to verify the signature using provider 'cosign'/,
          `${error.message}${context}`,
        );
        const ready = status?.conditions?.find((c) => c.type === "Ready");
        assert.equal(ready?.reason, "VerificationError", context);
        // Flux's wording is the same for all three; the digest is the refused version's.
        assert.ok(
          error.message.includes(
            `no matching signatures were found for '${t.registry}/${t.name}@${digests.get(key(t.name, version))}'`,
          ),
          `${error.message}${context}`,
        );
      }
    });
  }

  it("the CLI loop: flux sync --verify-key → reconcile --push --sign-key signs a bundle Flux accepts", async () => {
    const t = targets()[0]!;
    const env = { COSIGN_PASSWORD: "loop password" };
    const ksail = (args: string[]) => runKsail(args, { cwd: project, env });
    const init = await ksail(labInitArgs(lab, fallback, t.name, "1h"));
    assert.equal(init.code, 0, init.stderr);
    const keygen = await ksail(["workload", "keygen", "--output-dir", "keys"]);
    assert.equal(keygen.code, 0, keygen.stderr);
    const sync = await ksail([
      "flux",
      "sync",
      "--registry",
      `oci://${t.registry}/${t.name}`,
      "--verify-key",
      "keys/cosign.pub",
    ]);
    assert.equal(sync.code, 0, sync.stderr);
    await writeFile(
      join(project, "k8s", "cm.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${t.name}-settings\n  namespace: default\ndata:\n  version: "from-the-cli"\n`,
    );
    const run = await ksail([
      "workload",
      "reconcile",
      "--push",
      "--sign-key",
      "keys/cosign.key",
      "--timeout",
      "60s",
      "-o",
      "json",
    ]);
    assert.equal(run.code, 0, `${run.stderr}\n${diagnose()}`);
    const result = JSON.parse(run.stdout) as {
      pushed: { version: string; digest: string };
      signature: { format: string; referrer: string };
      steps: { revision: string }[];
    };
    assert.equal(result.signature.format, "bundle", "bundle is the default format");
    assert.equal(result.steps[0]!.revision, `${result.pushed.version}@${result.pushed.digest}`);
    const verify = await ksail(["workload", "verify", "--key", "keys/cosign.pub"]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /cosign bundle sha256:[a-f0-9]{64}/);
  });
});
