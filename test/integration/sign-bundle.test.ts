/**
 * cosign v3's signature format (issue 27) on two real registries: the distribution registry
 * (Debian's 2.8, or distribution v3 with KSAIL_REGISTRY_BIN), which has no referrers API (bundles are found through the `sha256-<hex>` fallback
 * tag), and go-containerregistry's registry with the referrers API on (lab/referrers-registry).
 * What ksail stores, what verifies and what does not (unsigned, another key, a broken
 * signature, a genuine bundle re-attached to another digest, a legacy signature hidden by a
 * bundle), the bounds (10,000 referrers, a huge bundle: exit 9), and what versions and prune
 * see. The cosign v3 CLI checks the same bytes in sign-cosign-v3.test.ts.
 */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exitCodeFor } from "../../src/errors.js";
import { RegistryClient } from "../../src/oci/client.js";
import { MAX_REFERRERS, referrersTag } from "../../src/oci/referrers.js";
import type { RepositoryRef } from "../../src/oci/reference.js";
import {
  BUNDLE_MEDIA_TYPE,
  bundleReferrer,
  dsseBundle,
  INTOTO_PAYLOAD_TYPE,
  preAuthEncoding,
  signStatement,
} from "../../src/sign/bundle-format.js";
import { MAX_BUNDLE_SIZE } from "../../src/sign/bundle-signature.js";
import { blobOf } from "../../src/sign/cosign-format.js";
import {
  createKeyPair,
  loadPublicKey,
  loadSigningKey,
  type SigningKey,
} from "../../src/sign/keys.js";
import { signPayload } from "../../src/sign/signature.js";
import { silentProgress } from "../../src/progress.js";
import { pruneWorkload } from "../../src/workload/prune.js";
import { pushWorkload } from "../../src/workload/push.js";
import { signArtifact } from "../../src/workload/sign.js";
import { signatureFormats, verifyArtifact, verifyDigests } from "../../src/workload/verify.js";
import { rejectsKsail } from "../../lab/oci-fixtures.js";
import { startReferrersRegistry } from "../../lab/referrers-registry.js";
import { startRegistry } from "../../lab/registry.js";

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

const registries = [
  {
    // Debian's 2.8, or distribution v3 with KSAIL_REGISTRY_BIN: neither has the referrers API.
    name: "the distribution registry (no referrers API: the sha256-<hex> tag)",
    via: "tag" as const,
    start: () => startRegistry(),
  },
  {
    name: "go-containerregistry's registry (referrers API)",
    via: "api" as const,
    start: () => startReferrersRegistry(),
  },
];

for (const target of registries) {
  describe(`cosign bundles on ${target.name}`, () => {
    let lab: { registry: string; stop(): Promise<void> };
    let work: string;
    let alice: Pair;
    let bob: Pair;
    const client = new RegistryClient();
    const repository = (): RepositoryRef => ({ registry: lab.registry, repository: "b/app" });
    const digests: string[] = [];
    const verify = (reference: string, pub: KeyObject) =>
      verifyArtifact({ client }, { repository: repository(), reference, publicKey: pub });
    const signBundle = (digest: string, pair: Pair) =>
      signArtifact(
        { client },
        { repository: repository(), digest, key: pair.key, format: "bundle" },
        silentProgress,
      );

    /** Attaches `bundle` to `subject` exactly as ksail's signer does, bypassing its checks. */
    const attachRaw = async (subject: string, bundle: Buffer) => {
      const found = (await client.resolve(repository(), subject))!;
      const image = bundleReferrer(found, bundle, new Date());
      for (const blob of image.blobs) await client.pushBlob(repository(), blob);
      return client.pushReferrer(repository(), subject, image.manifest, {
        artifactType: BUNDLE_MEDIA_TYPE,
      });
    };

    before(async () => {
      [lab, alice, bob] = await Promise.all([target.start(), newPair(), newPair()]);
      work = await mkdtemp(join(tmpdir(), "ksail-bundle-"));
      for (let i = 1; i <= 8; i++) {
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

    it("signs a bundle referrer, found the registry's way; it verifies; signing again is a no-op", async () => {
      const signed = await signBundle(digests[0]!, alice);
      assert.equal(signed.format, "bundle");
      assert.equal(signed.via, target.via);
      assert.equal(signed.unchanged, false);
      const referrers = await client.referrers(repository(), digests[0]!);
      assert.equal(referrers.via, target.via);
      assert.deepEqual(
        referrers.descriptors.map((d) => d.digest),
        [signed.signature],
      );
      const fallback = await client.resolve(repository(), referrersTag(digests[0]!));
      if (target.via === "tag") {
        assert.equal(fallback?.mediaType, "application/vnd.oci.image.index.v1+json");
      } else {
        assert.equal(fallback, undefined, "a registry with the referrers API needs no tag");
      }
      const manifest = JSON.parse(
        (await client.fetchManifest(repository(), signed.signature)).bytes.toString(),
      ) as { artifactType: string; subject: { digest: string }; layers: { mediaType: string }[] };
      assert.equal(manifest.artifactType, BUNDLE_MEDIA_TYPE);
      assert.equal(manifest.subject.digest, digests[0]);
      assert.deepEqual(
        manifest.layers.map((l) => l.mediaType),
        [BUNDLE_MEDIA_TYPE],
      );

      const result = await verify(digests[0]!, alice.pub);
      assert.deepEqual(result, {
        ok: true,
        reference: digests[0],
        digest: digests[0],
        format: "bundle",
        signature: signed.signature,
      });
      const again = await signBundle(digests[0]!, alice);
      assert.equal(again.unchanged, true);
      assert.equal(again.signature, signed.signature);
    });

    it("refuses an unsigned digest and a bundle by another key", async () => {
      const unsigned = await verify(digests[1]!, alice.pub);
      assert.equal(unsigned.ok, false);
      assert.match(!unsigned.ok ? unsigned.reason : "", /is not signed: no signature bundle/);
      await signBundle(digests[1]!, bob);
      const other = await verify(digests[1]!, alice.pub);
      assert.equal(other.ok, false);
      assert.match(
        !other.ok ? other.reason : "",
        /no signature bundle of .* verifies with the given key: bundle 1 of 1 .*: the signature does not verify with the given public key/,
      );
      assert.equal((await verify(digests[1]!, bob.pub)).ok, true);
    });

    it("refuses a bundle with a broken signature", async () => {
      const statement = signStatement(digests[2]!);
      const good = Buffer.from(
        signPayload(alice.key, preAuthEncoding(INTOTO_PAYLOAD_TYPE, statement)),
        "base64",
      );
      good[good.length - 1]! ^= 0x01; // one flipped bit in the signature
      await attachRaw(digests[2]!, dsseBundle(statement, good.toString("base64"), "hint"));
      const result = await verify(digests[2]!, alice.pub);
      assert.equal(result.ok, false);
      assert.match(
        !result.ok ? result.reason : "",
        /the signature does not verify with the given public key/,
      );
    });

    it("refuses a genuine bundle of another digest, attached to this one", async () => {
      // alice's genuine bundle for digests[0], re-attached (subject digests[3]) by someone else.
      const statement = signStatement(digests[0]!);
      const signature = signPayload(alice.key, preAuthEncoding(INTOTO_PAYLOAD_TYPE, statement));
      await attachRaw(digests[3]!, dsseBundle(statement, signature, "hint"));
      const result = await verify(digests[3]!, alice.pub);
      assert.equal(result.ok, false);
      assert.match(
        !result.ok ? result.reason : "",
        new RegExp(`it signs ${digests[0]}, not ${digests[3]}`),
      );
    });

    it("a bundle hides a legacy signature, as in Flux and cosign v3", async () => {
      await signArtifact(
        { client },
        { repository: repository(), digest: digests[4]!, key: alice.key, format: "legacy" },
        silentProgress,
      );
      const legacy = await verify(digests[4]!, alice.pub);
      assert.equal(legacy.ok, true);
      assert.equal(legacy.ok && legacy.format, "legacy");
      await signBundle(digests[4]!, bob);
      const hidden = await verify(digests[4]!, alice.pub);
      assert.equal(hidden.ok, false);
      assert.match(
        !hidden.ok ? hidden.reason : "",
        /the legacy signature sha256-[a-f0-9]{64}\.sig is not checked: Flux and cosign v3 check only the bundles/,
      );
    });

    it("versions: formats without a key, verdicts with one", async () => {
      const tags = await client.listTags(repository());
      const formats = await signatureFormats(client, repository(), digests, tags);
      assert.deepEqual(formats.get(digests[0]!), ["bundle"]);
      assert.deepEqual(formats.get(digests[4]!), ["bundle", "legacy"]);
      assert.deepEqual(formats.get(digests[5]!), []);
      const checked = await verifyDigests(client, repository(), digests, alice.pub, { tags });
      assert.deepEqual(
        digests.map((d) => checked.get(d)!.ok),
        [true, false, false, false, false, false, false, false],
      );
    });

    it("refuses a bundle larger than the bound (exit 9) without reading it", async () => {
      const huge = Buffer.alloc(MAX_BUNDLE_SIZE + 1, 0x20);
      await attachRaw(digests[5]!, huge);
      const error = await rejectsKsail(verify(digests[5]!, alice.pub));
      assert.equal(exitCodeFor(error), 9, error.message);
      assert.match(error.message, /is 262145 bytes; a signature bundle is at most 262144/);
    });

    it(`refuses a referrers list of 10,000 entries (more than ${MAX_REFERRERS}): exit 9`, async () => {
      const signed = await signBundle(digests[6]!, alice);
      if (target.via === "tag") {
        // One genuine referrer listed 10,000 times in the fallback index.
        const entry = {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: signed.signature,
          size: (await client.resolve(repository(), signed.signature))!.size,
          artifactType: BUNDLE_MEDIA_TYPE,
        };
        const index = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: Array.from({ length: 10_000 }, () => entry),
          }),
        );
        await client.pushManifest(
          repository(),
          referrersTag(digests[6]!),
          index,
          "application/vnd.oci.image.index.v1+json",
        );
      } else {
        // 10,000 referrer manifests of one subject: the registry lists them all.
        const subject = (await client.resolve(repository(), digests[6]!))!;
        const config = blobOf(Buffer.from("{}"));
        await client.pushBlob(repository(), config);
        const pending = Array.from({ length: 10_000 }, (_, i) => i);
        const worker = async () => {
          for (let i = pending.shift(); i !== undefined; i = pending.shift()) {
            const manifest = Buffer.from(
              JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: {
                  mediaType: "application/vnd.oci.empty.v1+json",
                  size: config.size,
                  digest: config.digest,
                },
                layers: [],
                annotations: { n: String(i) },
                subject,
              }),
            );
            await client.pushManifest(
              repository(),
              blobOf(manifest).digest,
              manifest,
              "application/vnd.oci.image.manifest.v1+json",
            );
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
      }
      const error = await rejectsKsail(verify(digests[6]!, alice.pub));
      assert.equal(exitCodeFor(error), 9, error.message);
      assert.match(error.message, new RegExp(`more than ${MAX_REFERRERS} referrers of`));
    });

    it("prune deletes the pruned versions' bundles and fallback indexes, keeps the kept ones'", async () => {
      await signBundle(digests[7]!, alice);
      // Keep the newest two (digests[6], digests[7]); everything older goes.
      const result = await pruneWorkload(
        { client },
        { repository: repository(), keep: 2 },
        silentProgress,
      );
      const prunedDigests = new Set(result.digests);
      assert.ok(prunedDigests.has(digests[0]!) && !prunedDigests.has(digests[7]!));
      const bundles = result.referrers.filter((r) => r.kind === "bundle");
      assert.ok(
        bundles.some((b) => b.digest === digests[0]),
        JSON.stringify(result.referrers),
      );
      for (const r of result.referrers) {
        assert.ok(prunedDigests.has(r.digest), `${r.digest} was kept but lost ${r.kind}`);
        assert.equal(await client.resolve(repository(), r.manifestDigest), undefined);
      }
      if (target.via === "tag") {
        assert.ok(result.referrers.some((r) => r.kind === "index"));
        assert.equal(await client.resolve(repository(), referrersTag(digests[0]!)), undefined);
      }
      assert.equal((await verify(digests[7]!, alice.pub)).ok, true, "the kept version's bundle");
    });

    it("refuses a public key of another type with a clear error", () => {
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
        type: "spki",
        format: "pem",
      });
      assert.throws(
        () => loadPublicKey(rsa.toString(), { source: "public key file rsa.pub" }),
        /rsa\.pub.*(ECDSA|P-256)/,
      );
    });
  });
}
