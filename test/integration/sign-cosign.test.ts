/**
 * ksail's signatures and keys against the real cosign CLI (v2, built from its Go module by
 * `bash lab/go-tools.sh cosign`), on a real distribution registry over plain HTTP:
 *
 * - `cosign verify --key` accepts what ksail signs; ksail's verifyArtifact accepts what
 *   `cosign sign --key --tlog-upload=false` signs;
 * - keys cross over: cosign signs with a key from ksail's keygen, ksail signs with a key from
 *   `cosign generate-key-pair` (password in COSIGN_PASSWORD for both);
 * - the signature manifest cosign writes is byte for byte the one ksail builds from its layers;
 * - negative controls: neither side accepts a signature made with the other key pair.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import {
  signatureImage,
  signatureLayers,
  signatureTag,
  simpleSigningPayload,
} from "../../src/sign/cosign-format.js";
import { silentProgress } from "../../src/progress.js";
import { readPublicKey, readSigningKey, signArtifact } from "../../src/workload/sign.js";
import { verifyArtifact } from "../../src/workload/verify.js";
import { cosignBinary, runCosign } from "../../lab/cosign.js";
import {
  prepareCosignInterop,
  showRun as show,
  type CosignInterop,
} from "../../lab/cosign-interop.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const PASSWORD = "correct horse battery staple";

describe("interoperability with the cosign CLI", () => {
  let cosign: string;
  let lab: LabRegistry;
  let home: string;
  const client = new RegistryClient();
  const repository = () => ({ registry: lab.registry, repository: "interop/app" });
  const digests: string[] = [];
  /** ksail's keygen output and cosign generate-key-pair's, each cosign.key + cosign.pub. */
  let ksailKeys: { key: string; pub: string };
  let cosignKeys: { key: string; pub: string };

  const ref = (digest: string) => `${lab.registry}/interop/app@${digest}`;
  const cosignRun = (args: string[]) => runCosign(cosign, args, { home, password: PASSWORD });
  const cosignVerify = (pub: string, digest: string) =>
    cosignRun([
      "verify",
      "--key",
      pub,
      "--insecure-ignore-tlog=true",
      "--allow-insecure-registry",
      "--output",
      "json",
      ref(digest),
    ]);
  const cosignSign = (key: string, digest: string) =>
    cosignRun([
      "sign",
      "--key",
      key,
      "--tlog-upload=false",
      "--allow-insecure-registry",
      "--yes",
      ref(digest),
    ]);
  const ksailVerify = async (pub: string, digest: string) =>
    verifyArtifact(
      { client },
      {
        repository: repository(),
        reference: digest,
        publicKey: (await readPublicKey(pub)).key,
      },
    );
  const ksailSign = async (key: string, digest: string) =>
    signArtifact(
      { client },
      {
        repository: repository(),
        digest,
        key: await readSigningKey(key, PASSWORD),
        format: "legacy",
      },
      silentProgress,
    );

  let interop: CosignInterop | undefined;
  before(async () => {
    cosign = cosignBinary(); // fails with the build command when missing
    lab = await startRegistry();
    interop = await prepareCosignInterop({
      cosign,
      client,
      repository: repository(),
      password: PASSWORD,
      versions: 4,
    });
    ({ home, ksailKeys, cosignKeys } = interop);
    digests.push(...interop.digests);
  });
  after(async () => {
    await lab?.stop();
    await interop?.cleanup();
  });

  it("cosign verify accepts ksail's signature made with ksail's key; not with the other key", async () => {
    await ksailSign(ksailKeys.key, digests[0]!);
    const ok = await cosignVerify(ksailKeys.pub, digests[0]!);
    assert.equal(ok.code, 0, show(ok));
    const verified = JSON.parse(ok.stdout) as {
      critical: { image: { "docker-manifest-digest": string } };
    }[];
    assert.equal(verified.length, 1);
    assert.equal(verified[0]!.critical.image["docker-manifest-digest"], digests[0]);
    const wrong = await cosignVerify(cosignKeys.pub, digests[0]!);
    assert.notEqual(wrong.code, 0, show(wrong));
    assert.match(wrong.stderr, /no matching signatures/);
  });

  it("ksail verifies cosign's signature made with ksail's key (cosign reads ksail's cosign.key)", async () => {
    const signed = await cosignSign(ksailKeys.key, digests[1]!);
    assert.equal(signed.code, 0, show(signed));
    assert.equal((await ksailVerify(ksailKeys.pub, digests[1]!)).ok, true);
    assert.equal((await ksailVerify(cosignKeys.pub, digests[1]!)).ok, false);
  });

  it("ksail signs with cosign's generated key and cosign verifies it", async () => {
    await ksailSign(cosignKeys.key, digests[2]!);
    const ok = await cosignVerify(cosignKeys.pub, digests[2]!);
    assert.equal(ok.code, 0, show(ok));
    assert.equal((await ksailVerify(cosignKeys.pub, digests[2]!)).ok, true);
    const wrong = await cosignVerify(ksailKeys.pub, digests[2]!);
    assert.notEqual(wrong.code, 0, show(wrong));
  });

  it("cosign's signature manifest is byte for byte what ksail builds; ksail verifies it", async () => {
    const signed = await cosignSign(cosignKeys.key, digests[3]!);
    assert.equal(signed.code, 0, show(signed));
    const stored = await client.fetchManifest(repository(), signatureTag(digests[3]!));
    assert.equal(stored.mediaType, "application/vnd.oci.image.manifest.v1+json");
    const layers = signatureLayers(stored.bytes)!;
    assert.equal(layers.length, 1);
    assert.deepEqual(
      Object.keys(layers[0]!.annotations ?? {}),
      ["dev.cosignproject.cosign/signature"],
      "a key-based signature without a transparency log carries only the signature",
    );
    const payload = await client.fetchBlob(repository(), layers[0]!.digest);
    assert.equal(payload.toString(), simpleSigningPayload(repository(), digests[3]!).toString());
    assert.equal(stored.bytes.toString(), signatureImage(layers).manifest.toString());
    assert.equal((await ksailVerify(cosignKeys.pub, digests[3]!)).ok, true);
    assert.equal((await ksailVerify(ksailKeys.pub, digests[3]!)).ok, false);
  });

  it("a digest signed by both tools with both keys verifies with either key in either tool", async () => {
    // digests[3] has cosign's signature with cosign's key; ksail adds one with its own key.
    const added = await ksailSign(ksailKeys.key, digests[3]!);
    assert.equal(added.unchanged, false);
    for (const pub of [ksailKeys.pub, cosignKeys.pub]) {
      const run = await cosignVerify(pub, digests[3]!);
      assert.equal(run.code, 0, show(run));
      assert.equal((await ksailVerify(pub, digests[3]!)).ok, true);
    }
    // cosign's public key file is the PKIX PEM ksail writes too.
    assert.match(await readFile(cosignKeys.pub, "utf8"), /^-----BEGIN PUBLIC KEY-----\n/);
  });
});
