/**
 * Signing and verifying workload artifacts (issue 14) against a real distribution registry:
 * what is stored under the `.sig` tag, what verifies and what does not (unsigned, another key,
 * a replaced signature tag, a signature of another digest), the refusals that write nothing,
 * and the helpers `versions` and `prune` use. The cosign CLI checks the same bytes in
 * sign-cosign.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KsailError } from "../../src/errors.js";
import { RegistryClient } from "../../src/oci/client.js";
import {
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  blobOf,
  signatureImage,
  signatureTag,
  simpleSigningPayload,
} from "../../src/sign/cosign-format.js";
import {
  createKeyPair,
  loadPublicKey,
  loadSigningKey,
  type SigningKey,
} from "../../src/sign/keys.js";
import { signPayload } from "../../src/sign/signature.js";
import { silentProgress } from "../../src/progress.js";
import { pushWorkload } from "../../src/workload/push.js";
import { signArtifact } from "../../src/workload/sign.js";
import {
  listSignedDigests,
  signaturesOf,
  verifyArtifact,
  verifyDigests,
} from "../../src/workload/verify.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import type { KeyObject } from "node:crypto";

interface Pair {
  key: SigningKey;
  pub: KeyObject;
}

async function newPair(): Promise<Pair> {
  const pem = await createKeyPair("pw");
  return {
    key: await loadSigningKey(pem.privateKeyPem, { source: "k", password: "pw" }),
    pub: loadPublicKey(pem.publicKeyPem, { source: "p" }),
  };
}

describe("signing artifacts in a real registry", () => {
  let lab: LabRegistry;
  let work: string;
  let alice: Pair;
  let bob: Pair;
  const client = new RegistryClient();
  const repository = () => ({ registry: lab.registry, repository: "signed/app" });
  const digests: string[] = [];

  before(async () => {
    [lab, alice, bob] = await Promise.all([startRegistry(), newPair(), newPair()]);
    work = await mkdtemp(join(tmpdir(), "ksail-sign-"));
    for (let i = 1; i <= 3; i++) {
      await writeFile(
        join(work, "cm.yaml"),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "${i}"\n`,
      );
      const pushed = await pushWorkload(
        { client },
        { repository: repository(), sourceDir: work },
        silentProgress,
      );
      digests.push(pushed.digest);
    }
  });
  after(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("stores cosign's signature manifest under sha256-<hex>.sig and it verifies", async () => {
    const signed = await signArtifact(
      { client },
      { repository: repository(), digest: digests[0]!, key: alice.key, format: "legacy" },
      silentProgress,
    );
    assert.equal(signed.format, "legacy");
    assert.equal(signed.signature, signatureTag(digests[0]!));
    assert.equal(signed.unchanged, false);
    const { bytes, mediaType } = await client.fetchManifest(repository(), signed.signature);
    assert.equal(mediaType, "application/vnd.oci.image.manifest.v1+json");
    const manifest = JSON.parse(bytes.toString()) as {
      config: { mediaType: string; digest: string };
      layers: { mediaType: string; digest: string; annotations: Record<string, string> }[];
    };
    assert.equal(manifest.config.mediaType, "application/vnd.oci.image.config.v1+json");
    assert.equal(manifest.layers.length, 1);
    assert.equal(manifest.layers[0]!.mediaType, SIMPLE_SIGNING_MEDIA_TYPE);
    const payload = await client.fetchBlob(repository(), manifest.layers[0]!.digest);
    assert.deepEqual(payload, simpleSigningPayload(repository(), digests[0]!));
    assert.ok(await client.blobExists(repository(), manifest.config.digest));

    const byVersion = await verifyArtifact(
      { client },
      {
        repository: repository(),
        reference: "0.0.1",
        publicKey: alice.pub,
      },
    );
    assert.deepEqual(byVersion, {
      ok: true,
      reference: "0.0.1",
      digest: digests[0],
      format: "legacy",
      signature: signed.signature,
    });
    // The .sig tag is not a version.
    assert.deepEqual(
      (await client.listTags(repository())).filter((t) => !t.endsWith(".sig")).sort(),
      ["0.0.1", "0.0.2", "0.0.3", "latest"],
    );
  });

  it("signing again with the same key writes nothing; another key's signature is added", async () => {
    const again = await signArtifact(
      { client },
      { repository: repository(), digest: "0.0.1", key: alice.key, format: "legacy" },
      silentProgress,
    );
    assert.equal(again.unchanged, true);
    assert.equal(again.digest, digests[0]);
    const second = await signArtifact(
      { client },
      { repository: repository(), digest: digests[0]!, key: bob.key, format: "legacy" },
      silentProgress,
    );
    assert.equal(second.unchanged, false);
    const manifest = JSON.parse(
      (await client.fetchManifest(repository(), second.signature)).bytes.toString(),
    ) as { layers: unknown[] };
    assert.equal(manifest.layers.length, 2);
    for (const pair of [alice, bob]) {
      const result = await verifyArtifact(
        { client },
        {
          repository: repository(),
          reference: digests[0]!,
          publicKey: pair.pub,
        },
      );
      assert.equal(result.ok, true);
    }
  });

  it("reports an unsigned version and one signed with another key", async () => {
    const unsigned = await verifyArtifact(
      { client },
      {
        repository: repository(),
        reference: "0.0.2",
        publicKey: alice.pub,
      },
    );
    assert.equal(unsigned.ok, false);
    assert.match(
      !unsigned.ok ? unsigned.reason : "",
      /0\.0\.2 \(sha256:[a-f0-9]{64}\) is not signed: no signature bundle among its referrers \(tag sha256-[a-f0-9]{64}\) and no tag sha256-[a-f0-9]{64}\.sig/,
    );

    await signArtifact(
      { client },
      { repository: repository(), digest: digests[1]!, key: bob.key, format: "legacy" },
      silentProgress,
    );
    const other = await verifyArtifact(
      { client },
      {
        repository: repository(),
        reference: "0.0.2",
        publicKey: alice.pub,
      },
    );
    assert.equal(other.ok, false);
    assert.match(
      !other.ok ? other.reason : "",
      /no signature of 0\.0\.2 .* verifies with the given key: signature 1 of 1: the signature does not verify with the given public key/,
    );
  });

  it("rejects a signature tag replaced by a valid signature of another digest", async () => {
    // Alice's genuine signature of 0.0.1, copied under 0.0.3's signature tag.
    const payload = simpleSigningPayload(repository(), digests[0]!);
    const blob = blobOf(payload);
    const image = signatureImage([
      {
        mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
        size: blob.size,
        digest: blob.digest,
        annotations: { [SIGNATURE_ANNOTATION]: signPayload(alice.key, payload) },
      },
    ]);
    await client.pushBlob(repository(), blob);
    await client.pushBlob(repository(), image.config);
    await client.pushManifest(
      repository(),
      signatureTag(digests[2]!),
      image.manifest,
      "application/vnd.oci.image.manifest.v1+json",
    );
    const result = await verifyArtifact(
      { client },
      {
        repository: repository(),
        reference: "0.0.3",
        publicKey: alice.pub,
      },
    );
    assert.equal(result.ok, false);
    assert.match(
      !result.ok ? result.reason : "",
      new RegExp(`it signs ${digests[0]}, not ${digests[2]}`),
    );
  });

  it("refuses to sign or verify what is not there, and writes no tag", async () => {
    const missing = `sha256:${"0".repeat(64)}`;
    const before = await client.listTags(repository());
    await assert.rejects(
      signArtifact(
        { client },
        { repository: repository(), digest: missing, key: alice.key, format: "legacy" },
        silentProgress,
      ),
      (error: unknown) =>
        error instanceof KsailError &&
        error.kind === "not-found" &&
        /signed\/app has no manifest sha256:0{64} to sign/.test(error.message),
    );
    await assert.rejects(
      verifyArtifact(
        { client },
        {
          repository: repository(),
          reference: "9.9.9",
          publicKey: alice.pub,
        },
      ),
      (error: unknown) => error instanceof KsailError && error.kind === "not-found",
    );
    assert.deepEqual((await client.listTags(repository())).sort(), before.sort());
  });

  it("tells versions which digests are signed and prune which signature manifests to delete", async () => {
    const signed = await listSignedDigests(client, repository());
    assert.deepEqual([...signed.keys()].sort(), [...digests].sort());

    const tags = await client.listTags(repository());
    const checked = await verifyDigests(client, repository(), digests, alice.pub, { tags });
    assert.deepEqual(
      digests.map((d) => checked.get(d)!.ok),
      [true, false, false],
    );

    const doomed = await signaturesOf(client, repository(), [
      digests[1]!,
      `sha256:${"1".repeat(64)}`,
    ]);
    assert.equal(doomed.length, 1);
    assert.equal(doomed[0]!.digest, digests[1]);
    assert.equal(doomed[0]!.tag, signatureTag(digests[1]!));
    assert.equal(
      doomed[0]!.manifestDigest,
      (await client.resolve(repository(), signatureTag(digests[1]!)))!.digest,
    );
    await client.deleteManifest(repository(), doomed[0]!.manifestDigest);
    assert.equal(await client.resolve(repository(), signatureTag(digests[1]!)), undefined);
    assert.ok(await client.resolve(repository(), "0.0.2"), "the version itself stays");
  });
});
