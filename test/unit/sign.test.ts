/**
 * Issue 14, offline parts: cosign's key formats (encrypted private key, PKIX public key, plain
 * PEM keys), the refusals for unsupported keys and bad passwords, the simple-signing payload and
 * signature tag, keygen's files, and the Flux objects with `spec.verify`.
 * The cosign CLI itself checks the same formats in test/integration/sign-cosign.test.ts.
 */
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { KsailError } from "../../src/errors.js";
import {
  cosignPublicKeySecret,
  fluxSyncYaml,
  ociRepository,
  syncSpecFromConfig,
} from "../../src/flux/resources.js";
import {
  parseSimpleSigningPayload,
  signatureImage,
  signatureTag,
  signedDigestOfTag,
  simpleSigningPayload,
} from "../../src/sign/cosign-format.js";
import {
  createKeyPair,
  decodePem,
  loadPublicKey,
  loadSigningKey,
  publicKeyToPem,
} from "../../src/sign/keys.js";
import { signPayload, verifyPayload } from "../../src/sign/signature.js";
import { silentProgress } from "../../src/progress.js";
import { generateKeyPair, readPublicKey, readSigningKey } from "../../src/workload/sign.js";
import { signatureTagsByDigest } from "../../src/workload/verify.js";
import { loadConfig } from "../../src/config/load.js";
import { crdSchema, validateAgainstSchema } from "../../lab/openapi-schema.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;

async function rejectsWith(
  promise: Promise<unknown> | (() => unknown),
  kind: KsailError["kind"],
  message: RegExp,
): Promise<void> {
  await assert.rejects(
    typeof promise === "function" ? async () => promise() : promise,
    (error: unknown) => {
      assert.ok(error instanceof KsailError, `expected a KsailError, got ${String(error)}`);
      assert.equal(error.kind, kind, error.message);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("cosign key format", () => {
  let pair: { privateKeyPem: string; publicKeyPem: string };
  before(async () => {
    pair = await createKeyPair("s3cret");
  });

  it("writes go-securesystemslib's encrypted JSON in an ENCRYPTED SIGSTORE PRIVATE KEY block", () => {
    const block = decodePem(pair.privateKeyPem, "cosign.key");
    assert.equal(block.type, "ENCRYPTED SIGSTORE PRIVATE KEY");
    const body = JSON.parse(block.bytes.toString("utf8")) as {
      kdf: { name: string; params: unknown; salt: string };
      cipher: { name: string; nonce: string };
      ciphertext: string;
    };
    assert.deepEqual(Object.keys(body), ["kdf", "cipher", "ciphertext"]);
    assert.equal(body.kdf.name, "scrypt");
    assert.deepEqual(body.kdf.params, { N: 65536, r: 8, p: 1 });
    assert.equal(Buffer.from(body.kdf.salt, "base64").length, 32);
    assert.equal(body.cipher.name, "nacl/secretbox");
    assert.equal(Buffer.from(body.cipher.nonce, "base64").length, 24);
    // Go's pem.Encode: 64-character lines.
    const lines = pair.privateKeyPem.trim().split("\n").slice(1, -1);
    assert.ok(lines.slice(0, -1).every((l) => l.length === 64));
    assert.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  });

  it("reads its own key back with the password; the pair signs and verifies", async () => {
    const key = await loadSigningKey(pair.privateKeyPem, {
      source: "cosign.key",
      password: "s3cret",
    });
    const pub = loadPublicKey(pair.publicKeyPem, { source: "cosign.pub" });
    assert.equal(publicKeyToPem(key.publicKey), pair.publicKeyPem);
    const payload = simpleSigningPayload({ registry: "127.0.0.1:5000", repository: "app" }, DIGEST);
    const signature = signPayload(key, payload);
    assert.equal(verifyPayload(pub, payload, signature), true);
    assert.equal(verifyPayload(pub, Buffer.concat([payload, Buffer.from(" ")]), signature), false);
    assert.equal(verifyPayload(pub, payload, "not base64!"), false);
  });

  it("refuses a wrong or missing password with an auth error that names the file", async () => {
    await rejectsWith(
      loadSigningKey(pair.privateKeyPem, { source: "key file k/cosign.key", password: "wrong" }),
      "auth",
      /cannot decrypt key file k\/cosign\.key: the password is wrong/,
    );
    await rejectsWith(
      loadSigningKey(pair.privateKeyPem, { source: "key file k/cosign.key" }),
      "auth",
      /is encrypted and no password was given/,
    );
  });

  it("accepts an empty password, as cosign does", async () => {
    const empty = await createKeyPair("");
    await loadSigningKey(empty.privateKeyPem, { source: "k", password: "" });
    await rejectsWith(
      loadSigningKey(empty.privateKeyPem, { source: "k", password: "x" }),
      "auth",
      /wrong/,
    );
  });

  it("reads plain PKCS #8 and SEC 1 ECDSA P-256 keys", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const sec1 = privateKey.export({ type: "sec1", format: "pem" }).toString();
    for (const pem of [pkcs8, sec1]) {
      const key = await loadSigningKey(pem, { source: "k" });
      assert.equal(publicKeyToPem(key.publicKey), publicKeyToPem(createPublicKey(privateKey)));
    }
    const encrypted = privateKey
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" })
      .toString();
    await loadSigningKey(encrypted, { source: "k", password: "pw" });
    await rejectsWith(loadSigningKey(encrypted, { source: "k", password: "no" }), "auth", /wrong/);
  });

  it("refuses RSA, Ed25519 and P-384 keys: Flux verifies ECDSA P-256 with SHA-256", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const ed = generateKeyPairSync("ed25519");
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
    for (const [pair, what] of [
      [rsa, /RSA key/],
      [ed, /ED25519 key/],
      [p384, /curve secp384r1/],
    ] as const) {
      const pem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      await rejectsWith(loadSigningKey(pem, { source: "key file x.key" }), "usage", what);
      const pub = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
      await rejectsWith(() => loadPublicKey(pub, { source: "x.pub" }), "usage", what);
    }
    const pkcs1 = rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    await rejectsWith(loadSigningKey(pkcs1, { source: "k" }), "usage", /RSA private key/);
  });

  it("refuses files that are not keys, with what to use instead", async () => {
    await rejectsWith(loadSigningKey("hello", { source: "key file a" }), "usage", /not a PEM file/);
    await rejectsWith(
      loadSigningKey(pair.publicKeyPem, { source: "key file cosign.pub" }),
      "usage",
      /is a public key; signing needs the private key/,
    );
    await rejectsWith(
      () => loadPublicKey(pair.privateKeyPem, { source: "cosign.key" }),
      "usage",
      /"ENCRYPTED SIGSTORE PRIVATE KEY" PEM block, not a public key/,
    );
    const notJson =
      "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\naGVsbG8=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    await rejectsWith(
      loadSigningKey(notJson, { source: "k", password: "" }),
      "usage",
      /does not hold JSON/,
    );
    const body = JSON.parse(decodePem(pair.privateKeyPem, "k").bytes.toString()) as {
      kdf: { params: { N: number } };
    };
    body.kdf.params.N = 1024;
    const weak = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(body)).toString("base64")}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
    await rejectsWith(
      loadSigningKey(weak, { source: "k", password: "s3cret" }),
      "usage",
      /unsupported scrypt parameters/,
    );
  });
});

describe("cosign signature format", () => {
  it("signs the simple-signing payload exactly as cosign writes it", () => {
    const payload = simpleSigningPayload(
      { registry: "127.0.0.1:5000", repository: "team/app" },
      DIGEST,
    );
    assert.equal(
      payload.toString(),
      `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/team/app"},"image":{"docker-manifest-digest":"${DIGEST}"},"type":"cosign container image signature"},"optional":null}`,
    );
    const parsed = parseSimpleSigningPayload(payload);
    assert.deepEqual(parsed, {
      ok: true,
      claims: { dockerReference: "127.0.0.1:5000/team/app", digest: DIGEST },
    });
    assert.equal(parseSimpleSigningPayload(Buffer.from("{}")).ok, false);
    assert.equal(parseSimpleSigningPayload(Buffer.from("nope")).ok, false);
  });

  it("names the signature tag sha256-<hex>.sig and maps it back", () => {
    assert.equal(signatureTag(DIGEST), `sha256-${"ab".repeat(32)}.sig`);
    assert.equal(signedDigestOfTag(signatureTag(DIGEST)), DIGEST);
    for (const tag of [
      "0.0.1",
      "latest",
      `sha256-${"ab".repeat(32)}`,
      `sha256-${"ab".repeat(32)}.att`,
    ]) {
      assert.equal(signedDigestOfTag(tag), undefined, tag);
    }
    assert.deepEqual(
      [...signatureTagsByDigest(["0.0.1", signatureTag(DIGEST), "latest"])],
      [[DIGEST, signatureTag(DIGEST)]],
    );
    assert.throws(() => signatureTag("sha512:abc"), KsailError);
  });

  it("builds the OCI signature manifest whose config lists every layer", () => {
    const layer = {
      mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
      size: 10,
      digest: DIGEST,
      annotations: { "dev.cosignproject.cosign/signature": "MEUC" },
    };
    const image = signatureImage([layer]);
    const manifest = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
    assert.deepEqual(manifest, {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        size: image.config.size,
        digest: image.config.digest,
      },
      layers: [layer],
    });
    assert.equal(
      image.config.data.toString(),
      `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${DIGEST}"]},"config":{}}`,
    );
  });

  it("signs with ASN.1 DER ECDSA over SHA-256, which node:crypto verifies independently", async () => {
    const { privateKeyPem, publicKeyPem } = await createKeyPair("pw");
    const key = await loadSigningKey(privateKeyPem, { source: "k", password: "pw" });
    const payload = Buffer.from("payload");
    const signature = Buffer.from(signPayload(key, payload), "base64");
    assert.equal(signature[0], 0x30); // ASN.1 SEQUENCE
    assert.equal(verify("sha256", payload, publicKeyPem, signature), true);
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const foreign = sign("sha256", payload, other.privateKey).toString("base64");
    assert.equal(
      verifyPayload(loadPublicKey(publicKeyPem, { source: "p" }), payload, foreign),
      false,
    );
  });
});

describe("workload keygen", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-keygen-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes cosign.key (0600) and cosign.pub that read back", async () => {
    const out = join(dir, "keys");
    const result = await generateKeyPair({ outputDir: out, password: "pw" }, silentProgress);
    assert.deepEqual((await readdir(out)).sort(), ["cosign.key", "cosign.pub"]);
    assert.equal((await stat(result.privateKeyPath)).mode & 0o777, 0o600);
    const key = await readSigningKey(result.privateKeyPath, "pw");
    const pub = await readPublicKey(result.publicKeyPath);
    assert.equal(publicKeyToPem(key.publicKey), pub.pem);
  });

  it("refuses to overwrite an existing pair and leaves both files as they were", async () => {
    const out = join(dir, "keys");
    const before = await readFile(join(out, "cosign.key"), "utf8");
    await rejectsWith(
      generateKeyPair({ outputDir: out, password: "pw" }, silentProgress),
      "conflict",
      /cosign\.key already exists/,
    );
    assert.equal(await readFile(join(out, "cosign.key"), "utf8"), before);
    assert.deepEqual((await readdir(out)).sort(), ["cosign.key", "cosign.pub"]);
  });

  it("writes neither file when only cosign.pub is in the way", async () => {
    const out = join(dir, "half");
    await generateKeyPair({ outputDir: out, password: "pw" }, silentProgress);
    await rm(join(out, "cosign.key"));
    await rejectsWith(
      generateKeyPair({ outputDir: out, password: "pw" }, silentProgress),
      "conflict",
      /cosign\.pub already exists/,
    );
    assert.deepEqual(await readdir(out), ["cosign.pub"]);
  });

  it("replaces the pair with force", async () => {
    const out = join(dir, "keys");
    const old = await readFile(join(out, "cosign.pub"), "utf8");
    await generateKeyPair({ outputDir: out, password: "pw", force: true }, silentProgress);
    assert.notEqual(await readFile(join(out, "cosign.pub"), "utf8"), old);
    assert.deepEqual((await readdir(out)).sort(), ["cosign.key", "cosign.pub"]);
  });

  it("names a missing or unreadable key file", async () => {
    await rejectsWith(
      readSigningKey(join(dir, "none.key"), "pw"),
      "not-found",
      /none\.key does not exist/,
    );
    await rejectsWith(readSigningKey(dir, "pw"), "config", /is a directory, not a file/);
    const big = join(dir, "big.key");
    await writeFile(big, "x".repeat(100_000));
    await rejectsWith(readPublicKey(big), "config", /100000 bytes; ksail reads at most 64 KiB/);
  });
});

describe("Flux verification objects", () => {
  let project: string;
  before(async () => {
    project = await mkdtemp(join(tmpdir(), "ksail-verify-cfg-"));
    await writeFile(
      join(project, "ksail.yaml"),
      "apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: app\nspec:\n  gitOpsEngine: Flux\n",
    );
  });
  after(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it("adds spec.verify and the cosign.pub Secret only when a public key is given", async () => {
    const { config } = await loadConfig({ cwd: project, env: {} });
    const { publicKeyPem } = await createKeyPair("pw");
    const plain = syncSpecFromConfig(config);
    assert.equal(plain.verify, undefined);
    assert.equal((ociRepository(plain).spec as Record<string, unknown>).verify, undefined);
    assert.equal(cosignPublicKeySecret(plain), undefined);
    assert.equal(parseAllDocuments(fluxSyncYaml(plain)).length, 2);

    const spec = syncSpecFromConfig(config, { verifyPublicKey: publicKeyPem });
    assert.deepEqual((ociRepository(spec).spec as Record<string, unknown>).verify, {
      provider: "cosign",
      secretRef: { name: "app-cosign-pub" },
    });
    const secret = cosignPublicKeySecret(spec) as {
      metadata: { name: string; namespace: string };
      data: Record<string, string>;
    };
    assert.equal(secret.metadata.name, "app-cosign-pub");
    assert.equal(secret.metadata.namespace, "flux-system");
    assert.equal(Buffer.from(secret.data["cosign.pub"]!, "base64").toString(), publicKeyPem);
    const docs = parseAllDocuments(fluxSyncYaml(spec)).map((d) => d.toJS() as { kind: string });
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["Secret", "OCIRepository", "Kustomization"],
    );
    assert.equal(
      (parse(fluxSyncYaml(plain).split("---\n")[1]!) as { kind: string }).kind,
      "OCIRepository",
    );
  });

  it("spec.verify is valid against Flux's OCIRepository CRD schema (source-controller v1.9.1)", async () => {
    // The CRD of the source-controller the lab runs (test/fixtures/flux-crds/README.md).
    const text = await readFile(
      new URL(
        "../fixtures/flux-crds/source.toolkit.fluxcd.io_ocirepositories.yaml",
        import.meta.url,
      ),
      "utf8",
    );
    const schema = crdSchema(parse(text), "v1");
    const { config } = await loadConfig({ cwd: project, env: {} });
    const { publicKeyPem } = await createKeyPair("pw");
    const oci = ociRepository(syncSpecFromConfig(config, { verifyPublicKey: publicKeyPem }));
    assert.deepEqual(validateAgainstSchema(oci, schema), []);
    // The check can fail: a provider Flux does not know is caught.
    const spec = oci.spec as { verify: { provider: string } };
    spec.verify.provider = "sigstore";
    assert.notDeepEqual(validateAgainstSchema(oci, schema), []);
  });

  it("refuses a verify key that is not an ECDSA P-256 public key", async () => {
    const { config } = await loadConfig({ cwd: project, env: {} });
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .publicKey.export({ type: "spki", format: "pem" })
      .toString();
    await rejectsWith(
      () => syncSpecFromConfig(config, { verifyPublicKey: rsa }),
      "usage",
      /the verify public key is an RSA key/,
    );
    await rejectsWith(
      () => syncSpecFromConfig(config, { verifyPublicKey: "garbage" }),
      "usage",
      /not a PEM file/,
    );
  });
});
