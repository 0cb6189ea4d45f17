import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { demoConfig as config } from "../../lab/project-config.js";
import { KsailError } from "../../src/errors.js";
import { deploymentReady, parseManifests } from "../../src/flux/install.js";
import { readiness, revisionReadiness, type FluxObject } from "../../src/flux/readiness.js";
import {
  fluxSyncYaml,
  kustomization,
  ociRepository,
  syncSpecFromConfig,
} from "../../src/flux/resources.js";
import { crdSchema, validateAgainstSchema } from "../../lab/openapi-schema.js";

/** The CRDs of the controllers the lab runs (test/fixtures/flux-crds/README.md). */
const fixtures = new URL("../fixtures/flux-crds/", import.meta.url);

async function schemaOf(file: string, version: string) {
  return crdSchema(parse(await readFile(new URL(file, fixtures), "utf8")), version);
}

describe("generated Flux objects", () => {
  it("follow the local registry by its in-cluster address, over plain HTTP", () => {
    const spec = syncSpecFromConfig(config({ options: { flux: { interval: "30s" } } }));
    assert.deepEqual(ociRepository(spec), {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "OCIRepository",
      metadata: {
        name: "demo",
        namespace: "flux-system",
        labels: { "app.kubernetes.io/managed-by": "ksail" },
      },
      spec: {
        interval: "30s",
        url: "oci://ksail-registry:5000/demo",
        ref: { semver: ">=0.0.0" },
        insecure: true,
      },
    });
    assert.deepEqual(kustomization(spec).spec, {
      interval: "30s",
      sourceRef: { kind: "OCIRepository", name: "demo" },
      path: "./",
      prune: true,
      wait: true,
      timeout: "2m",
    });
  });

  it("use options.localRegistry.clusterAddress when set", () => {
    const spec = syncSpecFromConfig(
      config({ options: { localRegistry: { clusterAddress: "127.0.0.1:5123" } } }),
    );
    assert.equal(spec.url, "oci://127.0.0.1:5123/demo");
  });

  it("use provider and secretRef instead of insecure for a remote registry", () => {
    const spec = syncSpecFromConfig(config(), {
      registry: "oci://ghcr.io/acme/app",
      provider: "gcp",
      secretRef: "pull",
      tag: "stable",
      targetNamespace: "apps",
    });
    assert.deepEqual(ociRepository(spec).spec, {
      interval: "1m",
      url: "oci://ghcr.io/acme/app",
      ref: { tag: "stable" },
      provider: "gcp",
      secretRef: { name: "pull" },
    });
    assert.equal((kustomization(spec).spec as { targetNamespace: string }).targetNamespace, "apps");
  });

  it("refuse contradictory options", () => {
    assert.throws(() => syncSpecFromConfig(config(), { tag: "x", semver: ">=1.0.0" }), KsailError);
    assert.throws(
      () => syncSpecFromConfig(config(), { secretRef: "s" }),
      /remote registries over HTTPS/,
    );
    assert.throws(() => syncSpecFromConfig(config({ localRegistry: "Disabled" })), /no --registry/);
  });

  it("are valid against Flux's own CRD schemas (source-controller v1.9.1, kustomize-controller v1.9.4)", async () => {
    const ociSchema = await schemaOf("source.toolkit.fluxcd.io_ocirepositories.yaml", "v1");
    const ksSchema = await schemaOf("kustomize.toolkit.fluxcd.io_kustomizations.yaml", "v1");
    for (const spec of [
      syncSpecFromConfig(config()),
      syncSpecFromConfig(config(), {
        registry: "oci://ghcr.io/acme/app",
        provider: "aws",
        semver: "~1.2",
        targetNamespace: "x",
      }),
    ]) {
      const [oci, ks] = fluxSyncYaml(spec)
        .split("---\n")
        .slice(1)
        .map((document) => parse(document) as unknown);
      assert.deepEqual(validateAgainstSchema(oci, ociSchema), []);
      assert.deepEqual(validateAgainstSchema(ks, ksSchema), []);
    }
    // The check itself can fail: an unknown field and a bad interval are caught.
    const broken = {
      ...ociRepository(syncSpecFromConfig(config())),
      spec: { interval: "soon", url: "oci://x/y", tags: "1" },
    };
    assert.deepEqual(validateAgainstSchema(broken, ociSchema), [
      'spec.interval: "soon" does not match ^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$',
      "spec.tags: unknown field",
    ]);
  });
});

function object(status: FluxObject["status"], extra: Partial<FluxObject> = {}): FluxObject {
  return { metadata: { generation: 2 }, status, ...extra };
}
const ready = (s: "True" | "False" | "Unknown", reason = "Succeeded", message = "ok") => ({
  type: "Ready",
  status: s,
  reason,
  message,
});

describe("readiness after a reconcile request", () => {
  const token = "2026-11-27T10:00:00.000Z";
  it("waits until the controller has handled this request for the current generation", () => {
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: "older",
          observedGeneration: 2,
          conditions: [ready("True")],
        }),
        token,
      ).state,
      "pending",
    );
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 1,
          conditions: [ready("True")],
        }),
        token,
      ).state,
      "pending",
    );
    assert.deepEqual(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 2,
          conditions: [ready("True", "Succeeded", "Applied revision: 1.0.0@sha256:ab")],
        }),
        token,
      ),
      {
        state: "ready",
        message: "Applied revision: 1.0.0@sha256:ab",
      },
    );
  });
  it("reports Flux's message when Ready=False or Stalled=True, keeps waiting while Progressing", () => {
    const failed = readiness(
      object({
        lastHandledReconcileAt: token,
        observedGeneration: 2,
        conditions: [
          ready(
            "False",
            "ReconciliationFailed",
            "Deployment/default/web dry-run failed: spec.selector: Required value",
          ),
        ],
      }),
      token,
    );
    assert.deepEqual(failed, {
      state: "failed",
      reason: "ReconciliationFailed",
      message: "Deployment/default/web dry-run failed: spec.selector: Required value",
    });
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 2,
          conditions: [ready("False", "Progressing", "working")],
        }),
        token,
      ).state,
      "pending",
    );
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 2,
          conditions: [
            { type: "Stalled", status: "True", reason: "InvalidURL", message: "bad url" },
            ready("False", "Progressing"),
          ],
        }),
        token,
      ).state,
      "failed",
    );
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 2,
          conditions: [ready("Unknown", "Progressing")],
        }),
        token,
      ).state,
      "pending",
    );
  });
  it("reports a failed run of a new generation, which leaves status.observedGeneration behind", () => {
    // What source-controller v1.9.1 writes when verification refuses a new tag (read in the
    // process lab, test/e2e/flux-verify.test.ts): observedGeneration stays at the last success,
    // the Ready condition carries the generation it tried.
    const verifyFailed = {
      ...ready(
        "False",
        "VerificationError",
        "failed to verify the signature using provider 'cosign'",
      ),
      observedGeneration: 2,
    };
    const retrying = {
      type: "Reconciling",
      status: "True" as const,
      reason: "ProgressingWithRetry",
      message: "building artifact: new revision",
      observedGeneration: 2,
    };
    assert.deepEqual(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 1,
          conditions: [retrying, verifyFailed],
        }),
        token,
      ),
      {
        state: "failed",
        reason: "VerificationError",
        message: "failed to verify the signature using provider 'cosign'",
      },
    );
    // The same failure from the previous generation says nothing about the new one.
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: token,
          observedGeneration: 1,
          conditions: [{ ...verifyFailed, observedGeneration: 1 }],
        }),
        token,
      ).state,
      "pending",
    );
    // Nor before the controller has handled this request.
    assert.equal(
      readiness(
        object({
          lastHandledReconcileAt: "older",
          observedGeneration: 1,
          conditions: [verifyFailed],
        }),
        token,
      ).state,
      "pending",
    );
  });
  it("treats Flux's progressive status (already carrying the token) as still running", () => {
    const handled = { lastHandledReconcileAt: token, observedGeneration: 2 };
    const reconciling = {
      type: "Reconciling",
      status: "True" as const,
      reason: "ProgressingWithRetry",
      message: "building artifact",
    };
    assert.equal(
      readiness(
        object({
          ...handled,
          conditions: [ready("False", "ProgressingWithRetry", "building artifact"), reconciling],
        }),
        token,
      ).state,
      "pending",
    );
    assert.equal(
      readiness(object({ ...handled, conditions: [ready("True"), reconciling] }), token).state,
      "pending",
    );
    // A finished failed run names its failure in Ready, even though Reconciling stays True.
    assert.equal(
      readiness(
        object({
          ...handled,
          conditions: [ready("False", "OCIArtifactPullFailed", "failed to pull"), reconciling],
        }),
        token,
      ).state,
      "failed",
    );
  });

  it("accepts a Kustomization that applied the newly fetched revision on its own", () => {
    const revision = "0.0.2@sha256:ab";
    const applied = object({
      observedGeneration: 2,
      lastAppliedRevision: revision,
      lastAttemptedRevision: revision,
      conditions: [ready("True")],
    });
    assert.equal(revisionReadiness(applied, revision)?.state, "ready");
    assert.equal(revisionReadiness(applied, "0.0.3@sha256:cd"), undefined);
    const failed = object({
      observedGeneration: 2,
      lastAppliedRevision: "0.0.1@sha256:00",
      lastAttemptedRevision: revision,
      conditions: [ready("False", "HealthCheckFailed", "timeout waiting for Deployment")],
    });
    assert.deepEqual(revisionReadiness(failed, revision), {
      state: "failed",
      reason: "HealthCheckFailed",
      message: "timeout waiting for Deployment",
    });
    const stale = object({
      observedGeneration: 1,
      lastAppliedRevision: revision,
      conditions: [ready("True")],
    });
    assert.equal(revisionReadiness(stale, revision), undefined);
  });

  it("fails at once for suspended and missing objects", () => {
    assert.equal(readiness(object({}, { spec: { suspend: true } }), token).state, "failed");
    assert.deepEqual(readiness(undefined, token).state, "failed");
  });
});

describe("Flux install manifests", () => {
  it("parses multi-document YAML and names what is wrong", () => {
    const objects = parseManifests(
      "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n---\n# only a comment\n",
      "install.yaml",
    );
    assert.equal(objects.length, 1);
    assert.throws(
      () => parseManifests("kind: Namespace\n", "install.yaml"),
      /install\.yaml: a document lacks apiVersion, kind or metadata\.name/,
    );
    assert.throws(() => parseManifests("a: [b\n", "install.yaml"), /^KsailError: install\.yaml: /);
    assert.throws(() => parseManifests("", "empty.yaml"), /holds no Kubernetes objects/);
  });
  it("treats a Deployment as ready only when observed, rolled out and Available", () => {
    const base = { metadata: { generation: 3 }, spec: { replicas: 1 } };
    const available = { type: "Available", status: "True" };
    assert.equal(
      deploymentReady({
        ...base,
        status: {
          observedGeneration: 3,
          updatedReplicas: 1,
          availableReplicas: 1,
          conditions: [available],
        },
      }),
      true,
    );
    assert.equal(
      deploymentReady({
        ...base,
        status: {
          observedGeneration: 2,
          updatedReplicas: 1,
          availableReplicas: 1,
          conditions: [available],
        },
      }),
      false,
    );
    assert.equal(
      deploymentReady({
        ...base,
        status: {
          observedGeneration: 3,
          updatedReplicas: 1,
          availableReplicas: 0,
          conditions: [available],
        },
      }),
      false,
    );
    assert.equal(
      deploymentReady({
        metadata: { generation: 1 },
        spec: { replicas: 0 },
        status: { observedGeneration: 1, conditions: [available] },
      }),
      true,
    );
    assert.equal(deploymentReady(undefined), false);
  });
});
