/**
 * ksail's cosign bundles against the real cosign v3 CLI (built from its Go module by
 * `bash lab/go-tools.sh cosign3`), which signs in the Sigstore bundle format by default and
 * attaches the bundle as an OCI referrer — on a registry without the referrers API (Debian's
 * distribution 2.8: the `sha256-<hex>` fallback tag) and on one with it (lab/referrers-registry):
 *
 * - ksail verifies what `cosign sign --key … --tlog-upload=false` signs, and refuses it once
 *   tampered with (cosign's genuine bundle re-attached to another digest; a flipped signature
 *   bit) — and cosign v3 refuses the same tampered cases;
 * - `cosign verify --key … --insecure-ignore-tlog` (v3) accepts what ksail signs in bundle
 *   format, and refuses it with another key;
 * - the referrer cosign writes has the layout ksail writes (artifact type, empty config, one
 *   bundle layer, subject, annotations);
 * - cosign v3 still verifies ksail's legacy signatures (its fallback when there is no bundle).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import type { RepositoryRef } from "../../src/oci/reference.js";
import { referrersTag } from "../../src/oci/referrers.js";
import { BUNDLE_MEDIA_TYPE, bundleReferrer, parseBundle } from "../../src/sign/bundle-format.js";
import { silentProgress } from "../../src/progress.js";
import { readPublicKey, readSigningKey, signArtifact } from "../../src/workload/sign.js";
import { verifyArtifact } from "../../src/workload/verify.js";
import { cosign3Binary, runCosign } from "../../lab/cosign.js";
import {
  prepareCosignInterop,
  showRun as show,
  type CosignInterop,
} from "../../lab/cosign-interop.js";
import { startReferrersRegistry } from "../../lab/referrers-registry.js";
import { startRegistry } from "../../lab/registry.js";

const PASSWORD = "correct horse battery staple";

const registries = [
  { name: "Debian distribution 2.8 (referrers tag fallback)", start: () => startRegistry() },
  { name: "a registry with the referrers API", start: () => startReferrersRegistry() },
];

for (const target of registries) {
  describe(`interoperability with cosign v3 on ${target.name}`, () => {
    let cosign: string;
    let lab: { registry: string; stop(): Promise<void> };
    let home: string;
    const client = new RegistryClient();
    const repository = (): RepositoryRef => ({ registry: lab.registry, repository: "v3/app" });
    const digests: string[] = [];
    let mine: { key: string; pub: string };
    let theirs: { key: string; pub: string };

    const ref = (digest: string) => `${lab.registry}/v3/app@${digest}`;
    const cosignRun = (args: string[]) => runCosign(cosign, args, { home, password: PASSWORD });
    /** The interop commands, exactly as the README lists them. */
    const cosignSign = (key: string, digest: string) =>
      cosignRun([
        "sign",
        "--key",
        key,
        "--tlog-upload=false",
        "--use-signing-config=false",
        "--allow-http-registry",
        "--allow-insecure-registry",
        "--yes",
        ref(digest),
      ]);
    const cosignVerify = (pub: string, digest: string) =>
      cosignRun([
        "verify",
        "--key",
        pub,
        "--insecure-ignore-tlog=true",
        "--allow-http-registry",
        "--allow-insecure-registry",
        "--output",
        "json",
        ref(digest),
      ]);
    const ksailVerify = async (pub: string, digest: string) =>
      verifyArtifact(
        { client },
        { repository: repository(), reference: digest, publicKey: (await readPublicKey(pub)).key },
      );
    const ksailSign = async (key: string, digest: string, format: "bundle" | "legacy") =>
      signArtifact(
        { client },
        { repository: repository(), digest, key: await readSigningKey(key, PASSWORD), format },
        silentProgress,
      );
    /** cosign's one referrer of `digest`: its manifest and bundle. */
    const cosignReferrer = async (digest: string) => {
      const { descriptors } = await client.referrers(repository(), digest);
      assert.equal(descriptors.length, 1, JSON.stringify(descriptors));
      const manifest = await client.fetchManifest(repository(), descriptors[0]!.digest);
      const parsed = JSON.parse(manifest.bytes.toString()) as {
        layers: { digest: string; size: number }[];
      };
      const bundle = await client.fetchBlob(repository(), parsed.layers[0]!.digest);
      return { manifest: manifest.bytes, bundle };
    };

    let interop: CosignInterop | undefined;
    before(async () => {
      cosign = cosign3Binary(); // fails with the build command when missing
      lab = await target.start();
      interop = await prepareCosignInterop({
        cosign,
        client,
        repository: repository(),
        password: PASSWORD,
        versions: 6,
      });
      ({ home, ksailKeys: mine, cosignKeys: theirs } = interop);
      digests.push(...interop.digests);
    });
    after(async () => {
      await lab?.stop();
      await interop?.cleanup();
    });

    it("ksail verifies cosign v3's bundle; not with another key", async () => {
      const signed = await cosignSign(theirs.key, digests[0]!);
      assert.equal(signed.code, 0, show(signed));
      const result = await ksailVerify(theirs.pub, digests[0]!);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(result.ok && result.format, "bundle");
      const other = await ksailVerify(mine.pub, digests[0]!);
      assert.equal(other.ok, false);
    });

    it("cosign's referrer has ksail's layout", async () => {
      const { manifest, bundle } = await cosignReferrer(digests[0]!);
      const theirsJson = JSON.parse(manifest.toString()) as Record<string, unknown>;
      const subject = (await client.resolve(repository(), digests[0]!))!;
      const oursJson = JSON.parse(
        bundleReferrer(subject, bundle, new Date()).manifest.toString(),
      ) as Record<string, unknown>;
      const created = "org.opencontainers.image.created";
      for (const m of [theirsJson, oursJson]) {
        (m.annotations as Record<string, string>)[created] = "(time)";
      }
      assert.deepEqual(oursJson, theirsJson);
      assert.equal(theirsJson.artifactType, BUNDLE_MEDIA_TYPE);
      const parsed = parseBundle(bundle);
      assert.equal(parsed.ok && parsed.content.kind, "dsse");
    });

    it("ksail and cosign v3 refuse cosign's genuine bundle re-attached to another digest", async () => {
      const { bundle } = await cosignReferrer(digests[0]!);
      const subject = (await client.resolve(repository(), digests[1]!))!;
      const image = bundleReferrer(subject, bundle, new Date());
      for (const blob of image.blobs) await client.pushBlob(repository(), blob);
      await client.pushReferrer(repository(), digests[1]!, image.manifest, {
        artifactType: BUNDLE_MEDIA_TYPE,
      });
      const ours = await ksailVerify(theirs.pub, digests[1]!);
      assert.equal(ours.ok, false);
      assert.match(!ours.ok ? ours.reason : "", new RegExp(`it signs ${digests[0]}, not`));
      const peer = await cosignVerify(theirs.pub, digests[1]!);
      assert.notEqual(peer.code, 0, show(peer));
      assert.match(peer.stderr, /provided artifact digest does not match any digest in statement/);
    });

    it("ksail and cosign v3 refuse cosign's bundle with one flipped signature bit", async () => {
      const signed = await cosignSign(theirs.key, digests[2]!);
      assert.equal(signed.code, 0, show(signed));
      const { bundle } = await cosignReferrer(digests[2]!);
      const json = JSON.parse(bundle.toString()) as {
        dsseEnvelope: { signatures: { sig: string }[] };
      };
      const sig = Buffer.from(json.dsseEnvelope.signatures[0]!.sig, "base64");
      sig[sig.length - 1]! ^= 0x01;
      json.dsseEnvelope.signatures[0]!.sig = sig.toString("base64");
      const tampered = Buffer.from(JSON.stringify(json));
      // Replace cosign's referrer by one holding the tampered bundle (same subject).
      const found = (await client.resolve(repository(), digests[2]!))!;
      const image = bundleReferrer(found, tampered, new Date());
      const referrers = await client.referrers(repository(), digests[2]!);
      for (const d of referrers.descriptors) await client.deleteManifest(repository(), d.digest);
      if (referrers.via === "tag") {
        const index = await client.resolve(repository(), referrersTag(digests[2]!));
        if (index) await client.deleteManifest(repository(), index.digest);
      }
      for (const blob of image.blobs) await client.pushBlob(repository(), blob);
      await client.pushReferrer(repository(), digests[2]!, image.manifest, {
        artifactType: BUNDLE_MEDIA_TYPE,
      });
      const ours = await ksailVerify(theirs.pub, digests[2]!);
      assert.equal(ours.ok, false);
      assert.match(!ours.ok ? ours.reason : "", /the signature does not verify/);
      const peer = await cosignVerify(theirs.pub, digests[2]!);
      assert.notEqual(peer.code, 0, show(peer));
      assert.match(peer.stderr, /accepted signatures do not match threshold/);
    });

    it("cosign v3 verifies ksail's bundle (ksail's key and cosign's key); not with the other key", async () => {
      const pairs: [typeof mine, typeof mine][] = [
        [mine, theirs],
        [theirs, mine],
      ];
      for (const [i, [signer, other]] of pairs.entries()) {
        const digest = digests[3 + i]!;
        const signed = await ksailSign(signer.key, digest, "bundle");
        assert.equal(signed.format, "bundle");
        const ok = await cosignVerify(signer.pub, digest);
        assert.equal(ok.code, 0, show(ok));
        const verified = JSON.parse(ok.stdout) as {
          critical: { image: { "docker-manifest-digest": string }; type: string };
        }[];
        assert.equal(verified[0]!.critical.image["docker-manifest-digest"], digest);
        assert.equal(verified[0]!.critical.type, "https://sigstore.dev/cosign/sign/v1");
        const wrong = await cosignVerify(other.pub, digest);
        assert.notEqual(wrong.code, 0, show(wrong));
        assert.match(wrong.stderr, /accepted signatures do not match threshold/);
      }
    });

    it("cosign v3 verifies ksail's legacy signature (no bundle on the digest)", async () => {
      await ksailSign(mine.key, digests[5]!, "legacy");
      const ok = await cosignVerify(mine.pub, digests[5]!);
      assert.equal(ok.code, 0, show(ok));
      const wrong = await cosignVerify(theirs.pub, digests[5]!);
      assert.notEqual(wrong.code, 0, show(wrong));
      assert.match(wrong.stderr, /no matching signatures/);
    });
  });
}
