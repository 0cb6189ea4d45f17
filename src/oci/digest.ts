/** OCI content digests: the image spec's grammar, computing and verifying sha256 (and other algorithms') digests. */
import { createHash } from "node:crypto";
import { KsailError } from "../errors.js";

/** Digest grammar from the OCI image spec: `algorithm ":" encoded`. */
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const ENCODED_RE: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** True when `value` is a well-formed digest of an algorithm we can verify (sha256, sha512). */
export function isDigest(value: string): boolean {
  if (!DIGEST_RE.test(value)) return false;
  const [algorithm, encoded] = splitDigest(value);
  const re = ENCODED_RE[algorithm];
  return re !== undefined && re.test(encoded);
}

function splitDigest(value: string): [string, string] {
  const i = value.indexOf(":");
  return [value.slice(0, i), value.slice(i + 1)];
}

/** Throws KsailError("usage") unless `value` is a sha256/sha512 digest. */
export function assertDigest(value: string, what = "digest"): void {
  if (!isDigest(value)) {
    throw new KsailError(
      "usage",
      `"${value}" is not a valid ${what}; expected "sha256:" followed by 64 lowercase hex digits`,
    );
  }
}

/** Computes the digest of `data` with the algorithm named by `expected`. */
export function digestWithAlgorithmOf(expected: string, data: Uint8Array): string {
  const [algorithm] = splitDigest(expected);
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw new KsailError("usage", `unsupported digest algorithm "${algorithm}" in ${expected}`);
  }
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** True when `data` hashes to `expected` (sha256 or sha512). */
export function verifyDigest(expected: string, data: Uint8Array): boolean {
  return isDigest(expected) && digestWithAlgorithmOf(expected, data) === expected;
}
