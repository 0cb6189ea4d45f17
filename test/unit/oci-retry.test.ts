import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDigest, sha256Digest, verifyDigest } from "../../src/oci/digest.js";
import {
  DEFAULT_RETRY_POLICY,
  computeBackoff,
  isRetryableStatus,
  isTransientNetworkCode,
  parseRetryAfter,
} from "../../src/oci/retry.js";

describe("parseRetryAfter", () => {
  const now = Date.parse("2024-01-01T00:00:00Z");
  it("reads delta-seconds", () => {
    assert.equal(parseRetryAfter("0", now), 0);
    assert.equal(parseRetryAfter("3", now), 3000);
    assert.equal(parseRetryAfter(" 120 ", now), 120_000);
    assert.equal(parseRetryAfter(["2", "9"], now), 2000);
  });
  it("reads an HTTP-date, clamping the past to 0", () => {
    assert.equal(parseRetryAfter("Mon, 01 Jan 2024 00:00:05 GMT", now), 5000);
    assert.equal(parseRetryAfter("Sun, 31 Dec 2023 23:59:00 GMT", now), 0);
  });
  it("ignores malformed values", () => {
    for (const v of [undefined, "", "soon", "1.5", "-3", "10s"])
      assert.equal(parseRetryAfter(v, now), undefined, String(v));
  });
});

describe("computeBackoff", () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
  it("stays within [cap/2, cap] where cap doubles up to maxDelayMs", () => {
    const caps = [100, 200, 400, 800, 1000, 1000, 1000];
    caps.forEach((cap, i) => {
      assert.equal(
        computeBackoff(i + 1, policy, () => 0),
        cap / 2,
      );
      assert.equal(
        computeBackoff(i + 1, policy, () => 0.999999),
        cap,
      );
      for (let k = 0; k < 50; k++) {
        const d = computeBackoff(i + 1, policy);
        assert.ok(d >= cap / 2 && d <= cap, `attempt ${i + 1}: ${d}`);
      }
    });
  });
  it("does not overflow for huge attempt numbers", () => {
    assert.ok(computeBackoff(10_000, policy) <= 1000);
  });
  it("default policy: the whole backoff of a refused connection stays far below 5 s", () => {
    let worst = 0;
    for (let a = 1; a < DEFAULT_RETRY_POLICY.maxAttempts; a++)
      worst += computeBackoff(a, DEFAULT_RETRY_POLICY, () => 1);
    assert.ok(worst < 2000, `worst case ${worst} ms`);
    assert.ok(DEFAULT_RETRY_POLICY.totalTimeoutMs < 5000);
  });
});

describe("what is retried", () => {
  it("statuses", () => {
    for (const s of [429, 500, 502, 503, 504, 408])
      assert.equal(isRetryableStatus(s), true, String(s));
    for (const s of [200, 201, 400, 401, 403, 404, 405, 416, 501, 505])
      assert.equal(isRetryableStatus(s), false, String(s));
  });
  it("network codes", () => {
    for (const c of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"])
      assert.equal(isTransientNetworkCode(c), true, c);
    for (const c of ["ENOTFOUND", "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID", undefined]) {
      assert.equal(isTransientNetworkCode(c), false, String(c));
    }
  });
});

describe("digests", () => {
  it("sha256Digest matches a known vector", () => {
    assert.equal(
      sha256Digest(Buffer.from("")),
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
  it("isDigest / verifyDigest", () => {
    const d = sha256Digest(Buffer.from("x"));
    assert.equal(isDigest(d), true);
    assert.equal(verifyDigest(d, Buffer.from("x")), true);
    assert.equal(verifyDigest(d, Buffer.from("y")), false);
    assert.equal(isDigest("sha256:abc"), false);
    assert.equal(isDigest(`md5:${"a".repeat(32)}`), false);
    assert.equal(isDigest(d.toUpperCase()), false);
  });
});
