/**
 * Proof of what the cluster runs: after Flux reports a version applied, the Kustomization's
 * `status.inventory` (every object kustomize-controller applied and now owns) must hold exactly
 * the objects of that version — as ksail builds them from the version's files — and nothing
 * else. "Ready" alone is not trusted: a Kustomization whose `spec.path` points at the wrong
 * folder is Ready while it applies none of the version's objects.
 */
import { readLayerFiles } from "../artifact/extract.js";
import { parseFluxManifest } from "../artifact/manifest.js";
import { KsailError, isKsailError } from "../errors.js";
import { inventoryId, parseInventoryId } from "../flux/cluster-diff.js";
import { revisionDigest } from "../flux/pin.js";
import { kustomizationRef, type ReconcileTarget } from "../flux/reconcile.js";
import { CLUSTER_SCOPED_KINDS } from "../validate/identity.js";
import type { KubeClient } from "../k8s/client.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { silentProgress, type Progress } from "../progress.js";
import { displayName, sourceObjects } from "./object-diff.js";
import { semverTags } from "./versions.js";

export interface AppliedCheck {
  /** namespace/name of the Kustomization. */
  kustomization: string;
  /** Its status.lastAppliedRevision. */
  revision: string;
  digest: string;
  /** The version (semver tag) of that revision, when the revision names one. */
  version?: string;
  /** Objects the version builds. */
  expected: number;
  /** Objects of the version the inventory lacks (`Kind namespace/name`). */
  missing: string[];
  /** Inventory objects that are not in the version. */
  unexpected: string[];
  /** Why the comparison could not be made (then missing/unexpected are empty). */
  skipped?: string;
}

interface InventoryKustomization {
  spec?: { targetNamespace?: string };
  status?: {
    lastAppliedRevision?: string;
    inventory?: { entries?: { id: string; v: string }[] };
  };
}

/** The semver tag of a revision like `0.0.9@sha256:…`. */
export function revisionVersion(revision: string | undefined): string | undefined {
  const at = revision?.lastIndexOf("@") ?? -1;
  const name = at > 0 ? revision!.slice(0, at) : undefined;
  return name !== undefined && semverTags([name]).length === 1 ? name : undefined;
}

/**
 * Compares the Kustomization's inventory with the objects of the revision it applied. With
 * `expectDigest`, that revision must be this digest (rollback: the pinned version).
 */
export async function checkApplied(
  deps: { kube: KubeClient; client: RegistryClient },
  input: { target: ReconcileTarget; repository: RepositoryRef; expectDigest?: string },
  progress: Progress = silentProgress,
): Promise<AppliedCheck> {
  const { kube, client } = deps;
  const { target, repository } = input;
  const where = `Kustomization ${target.namespace}/${target.name}`;
  return progress.step(
    `Check the inventory of ${where}`,
    async (): Promise<AppliedCheck> => {
      const ks = await kube.getRaw<InventoryKustomization & { apiVersion: string; kind: string }>(
        kustomizationRef(target),
      );
      if (!ks) throw new KsailError("not-found", `${where} does not exist`);
      const revision = ks.status?.lastAppliedRevision ?? "";
      const digest = revisionDigest(revision);
      if (digest === undefined) {
        throw new KsailError("failed", `${where} has applied no artifact revision yet`, {
          hint: `kubectl describe kustomization -n ${target.namespace} ${target.name}`,
        });
      }
      if (input.expectDigest !== undefined && digest !== input.expectDigest) {
        throw new KsailError(
          "failed",
          `${where} applied ${revision}, not the requested ${input.expectDigest}`,
          { hint: `kubectl describe kustomization -n ${target.namespace} ${target.name}` },
        );
      }
      const version = revisionVersion(revision);
      const base = {
        kustomization: `${target.namespace}/${target.name}`,
        revision,
        digest,
        ...(version ? { version } : {}),
      };
      const { bytes } = await client.fetchManifest(repository, digest);
      const manifest = parseFluxManifest(bytes);
      const layer = await client.fetchBlob(repository, manifest.layer.digest, {
        size: manifest.layer.size,
      });
      let objects;
      try {
        objects = sourceObjects(await readLayerFiles(layer), {
          ...(ks.spec?.targetNamespace ? { targetNamespace: ks.spec.targetNamespace } : {}),
        });
      } catch (error) {
        if (isKsailError(error) && error.kind === "usage") {
          return { ...base, expected: 0, missing: [], unexpected: [], skipped: error.message };
        }
        throw error;
      }
      const expected = new Map<string, string>();
      for (const { id, apiVersion } of objects.values()) {
        const namespaced = CLUSTER_SCOPED_KINDS.has(id.kind)
          ? false
          : ((await kube.isNamespaced(apiVersion, id.kind)) ?? true);
        const namespace = namespaced ? id.namespace : "";
        expected.set(inventoryId({ ...id, namespace }), displayName({ ...id, namespace }));
      }
      const entries = ks.status?.inventory?.entries ?? [];
      const held = new Set(entries.map((e) => e.id));
      const missing = [...expected].filter(([id]) => !held.has(id)).map(([, name]) => name);
      const unexpected = entries
        .filter((e) => !expected.has(e.id))
        .map((e) => {
          const parsed = parseInventoryId(e.id);
          return parsed ? displayName(parsed) : e.id;
        });
      return { ...base, expected: expected.size, missing, unexpected };
    },
    (check) =>
      check.skipped
        ? `Inventory not checked: ${check.skipped}`
        : check.missing.length + check.unexpected.length === 0
          ? `Inventory of ${where} holds the ${check.expected} objects of ${check.version ?? check.digest}`
          : `Inventory of ${where} differs from ${check.version ?? check.digest}`,
  );
}

/** The error for an inventory that does not match its version (undefined when it does). */
export function appliedMismatch(check: AppliedCheck): KsailError | undefined {
  if (check.missing.length === 0 && check.unexpected.length === 0) return undefined;
  const what = check.version ?? check.revision;
  const parts = [
    ...(check.missing.length > 0
      ? [`lacks ${check.missing.length} object(s) of ${what}: ${check.missing.join(", ")}`]
      : []),
    ...(check.unexpected.length > 0
      ? [
          `holds ${check.unexpected.length} object(s) not in ${what}: ${check.unexpected.join(", ")}`,
        ]
      : []),
  ];
  const [namespace, name] = check.kustomization.split("/");
  return new KsailError(
    "failed",
    `Kustomization ${check.kustomization} reports ${what} applied, but its inventory ${parts.join("; and ")}`,
    {
      hint: `Check its spec.path and targetNamespace: kubectl get kustomization -n ${namespace} ${name} -o yaml`,
    },
  );
}

/**
 * checkApplied, then the mismatch as an error (exit 1): what `reconcile`, `rollback` and `watch`
 * run after Flux reports the version applied. Returns the check when the inventory matches (or
 * could not be compared: `skipped` says why).
 */
export async function proveApplied(
  deps: { kube: KubeClient; client: RegistryClient },
  input: { target: ReconcileTarget; repository: RepositoryRef; expectDigest?: string },
  progress: Progress = silentProgress,
): Promise<AppliedCheck> {
  const check = await checkApplied(deps, input, progress);
  const mismatch = appliedMismatch(check);
  if (mismatch) throw mismatch;
  return check;
}
