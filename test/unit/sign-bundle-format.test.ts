/**
 * The pieces of cosign v3's bundle format that have a written definition: DSSE's
 * pre-authentication encoding (the spec's own example), the in-toto statement cosign signs,
 * which bundle media types count as v0.3 or later (cosign's `MinVersion("v0.3")`), and what a
 * bundle that is not one gets as a reason. The registry and cosign CLI sides are in
 * test/integration/sign-bundle.test.ts and sign-cosign-v3.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BUNDLE_MEDIA_TYPE,
  dsseBundle,
  parseBundle,
  parseReferrer,
  preAuthEncoding,
  signStatement,
  statementSubjects,
} from "../../src/sign/bundle-format.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("cosign bundle format", () => {
  it("DSSE pre-authentication encoding is the spec's example byte for byte", () => {
    assert.equal(
      preAuthEncoding("http://example.com/HelloWorld", Buffer.from("hello world")).toString(),
      "DSSEv1 29 http://example.com/HelloWorld 11 hello world",
    );
  });

  it("the statement names the digest as its one subject, with cosign's predicate type", () => {
    const statement = signStatement(DIGEST);
    assert.equal(
      statement.toString(),
      `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${"ab".repeat(32)}"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
    );
    assert.deepEqual(statementSubjects(statement), {
      ok: true,
      digests: [DIGEST],
      predicateType: "https://sigstore.dev/cosign/sign/v1",
    });
    assert.throws(() => signStatement("sha512:00"), /not a sha256 digest/);
  });

  it("reads v0.3+ bundles in both media type spellings, refuses older ones and non-bundles", () => {
    const bundle = JSON.parse(dsseBundle(Buffer.from("{}"), "c2ln", "hint").toString()) as {
      mediaType: string;
    };
    assert.equal(bundle.mediaType, BUNDLE_MEDIA_TYPE);
    for (const [mediaType, ok] of [
      [BUNDLE_MEDIA_TYPE, true],
      ["application/vnd.dev.sigstore.bundle.v0.4+json", true],
      ["application/vnd.dev.sigstore.bundle+json;version=0.3", true],
      ["application/vnd.dev.sigstore.bundle+json;version=0.2", false],
      ["application/vnd.dev.sigstore.bundle.v0.2+json", false],
      ["application/json", false],
    ] as const) {
      const parsed = parseBundle(Buffer.from(JSON.stringify({ ...bundle, mediaType })));
      assert.equal(parsed.ok, ok, mediaType);
    }
    assert.deepEqual(parseBundle(Buffer.from("not json")), {
      ok: false,
      reason: "the bundle is not JSON",
    });
    const unsigned = parseBundle(
      Buffer.from(
        JSON.stringify({
          mediaType: BUNDLE_MEDIA_TYPE,
          dsseEnvelope: { payload: "e30=", payloadType: "x", signatures: [] },
        }),
      ),
    );
    assert.deepEqual(unsigned, {
      ok: false,
      reason: "the bundle's DSSE envelope has no signature",
    });
  });

  it("a message signature's digest is read from its base64 SHA2_256 digest", () => {
    const parsed = parseBundle(
      Buffer.from(
        JSON.stringify({
          mediaType: BUNDLE_MEDIA_TYPE,
          messageSignature: {
            messageDigest: {
              algorithm: "SHA2_256",
              digest: Buffer.from("ab".repeat(32), "hex").toString("base64"),
            },
            signature: "c2ln",
          },
        }),
      ),
    );
    assert.deepEqual(parsed, {
      ok: true,
      content: { kind: "message", digest: DIGEST, signature: "c2ln" },
    });
  });

  it("statements that name no sha256 subject, and referrers without one bundle layer", () => {
    assert.equal(
      statementSubjects(Buffer.from('{"_type":"https://in-toto.io/Statement/v1","subject":[]}')).ok,
      false,
    );
    assert.equal(statementSubjects(Buffer.from('{"_type":"other"}')).ok, false);
    const twoLayers = parseReferrer(
      Buffer.from(
        JSON.stringify({
          subject: { digest: DIGEST },
          layers: [
            { mediaType: BUNDLE_MEDIA_TYPE, digest: DIGEST, size: 1 },
            { mediaType: BUNDLE_MEDIA_TYPE, digest: DIGEST, size: 1 },
          ],
        }),
      ),
    );
    assert.deepEqual(twoLayers, { subjectDigest: DIGEST, bundleLayer: undefined });
  });
});
