/** Reading pins and revisions (src/flux/pin.ts, src/workload/applied.ts, src/workload/rollback.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pinOf, revisionDigest } from "../../src/flux/pin.js";
import { appliedMismatch, revisionVersion } from "../../src/workload/applied.js";
import { formatRunning } from "../../src/workload/rollback.js";

const digest = `sha256:${"ab".repeat(32)}`;

describe("pins and revisions", () => {
  it("takes the digest out of every revision form Flux writes", () => {
    assert.equal(revisionDigest(`0.0.7@${digest}`), digest);
    assert.equal(revisionDigest(`latest@${digest}`), digest);
    assert.equal(revisionDigest(digest), digest);
    assert.equal(revisionDigest("0.0.7"), undefined);
    assert.equal(revisionDigest(undefined), undefined);
  });

  it("names the version only when the revision's tag is one", () => {
    assert.equal(revisionVersion(`0.0.7@${digest}`), "0.0.7");
    assert.equal(revisionVersion(`latest@${digest}`), undefined);
    assert.equal(revisionVersion(digest), undefined);
  });

  it("reads a pin from spec.ref.digest and the version annotation", () => {
    assert.equal(pinOf({ spec: { ref: { semver: ">=0.0.0" } } }), undefined);
    assert.deepEqual(
      pinOf({
        metadata: { annotations: { "ksail.io/pinned-version": "0.0.7" } },
        spec: { ref: { semver: ">=0.0.0", digest } },
      }),
      { digest, version: "0.0.7" },
    );
    assert.deepEqual(pinOf({ spec: { ref: { digest } } }), { digest });
  });

  it("says which version runs, since when, and whether it is pinned", () => {
    const since = "2026-12-07T18:00:00Z";
    assert.equal(
      formatRunning({
        version: "0.0.7",
        since,
        pinned: { digest, version: "0.0.7" },
        latest: "0.0.9",
      }),
      `0.0.7 since ${since}, pinned to 0.0.7 (latest is 0.0.9)`,
    );
    assert.equal(
      formatRunning({ version: "0.0.9", since, latest: "0.0.9" }),
      `0.0.9 since ${since}`,
    );
    assert.equal(
      formatRunning({ version: "0.0.8", latest: "0.0.9" }),
      "0.0.8 (latest is 0.0.9, not applied yet)",
    );
  });

  it("turns an inventory that differs from its version into an error naming the objects", () => {
    const base = {
      kustomization: "flux-system/demo",
      revision: `0.0.2@${digest}`,
      digest,
      version: "0.0.2",
      expected: 2,
    };
    assert.equal(appliedMismatch({ ...base, missing: [], unexpected: [] }), undefined);
    const error = appliedMismatch({
      ...base,
      missing: ["ConfigMap default/a", "Deployment default/web"],
      unexpected: ["ConfigMap default/other"],
    });
    assert.equal(error?.kind, "failed");
    assert.equal(
      error?.message,
      "Kustomization flux-system/demo reports 0.0.2 applied, but its inventory lacks 2 objects of 0.0.2: ConfigMap default/a, Deployment default/web; and holds 1 object not in 0.0.2: ConfigMap default/other",
    );
  });
});
