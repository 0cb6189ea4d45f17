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
import { renderIdentities } from "../flux/render.js";
import { displayName } from "./object-diff.js";
import { semverTags } from "./versions.js";
import { count } from "../util/plural.js";

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
  /**
   * Generated ConfigMaps/Secrets whose hash suffix ksail could not compute (`Kind ns/name-<hash>:
   * why`), matched by `name-` and any 10-character suffix.
   */
  prefixMatched?: string[];
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
 * An object the version builds, as the inventory names it. A generated ConfigMap or Secret's
 * name ends in kustomize's hash of its content (src/flux/name-hash.ts). `hashSuffix`: one whose
 * hash could not be computed (`hashUnknown` says why); it matches an inventory entry named
 * `<name>-` and any 10-character suffix.
 */
export interface ExpectedObject {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  /** group/version, when known (else the inventory's version of that kind is asked). */
  apiVersion?: string;
  hashSuffix?: boolean;
  hashUnknown?: string;
}

/** kustomize's name hash: 10 characters of [0-9a-z] (hex digits with some replaced). */
const HASH_SUFFIX = /^-[0-9a-z]{10}$/;

/** The objects of one version (by its manifest digest), known already. */
export interface KnownObjects {
  digest: string;
  objects: readonly ExpectedObject[];
}

type CheckInput = { target: ReconcileTarget; repository: RepositoryRef; expectDigest?: string };

/** The Kustomization with its applied revision, or the error that it has none (or another). */
async function appliedKustomization(kube: KubeClient, input: Omit<CheckInput, "repository">) {
  const { target } = input;
  const where = `Kustomization ${target.namespace}/${target.name}`;
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
  return { ks, base };
}

/** The objects a version's layer builds for this Kustomization (fetched from the registry). */
async function versionObjects(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
  targetNamespace: string | undefined,
): Promise<ExpectedObject[]> {
  const { bytes } = await client.fetchManifest(repository, digest);
  const manifest = parseFluxManifest(bytes);
  const layer = await client.fetchBlob(repository, manifest.layer.digest, {
    size: manifest.layer.size,
  });
  return renderIdentities(await readLayerFiles(layer), {
    ...(targetNamespace ? { targetNamespace } : {}),
  });
}

/** Compares the inventory's entries with the expected objects. */
async function compareInventory(
  kube: KubeClient,
  objects: readonly ExpectedObject[],
  entries: readonly { id: string; v: string }[],
): Promise<{
  expected: number;
  missing: string[];
  unexpected: string[];
  prefixMatched?: string[];
}> {
  const parsed = entries.map((e) => ({ entry: e, id: parseInventoryId(e.id) }));
  const versionOf = (group: string, kind: string) => {
    const held = parsed.find((p) => p.id?.group === group && p.id.kind === kind);
    return held ? (group ? `${group}/${held.entry.v}` : held.entry.v) : undefined;
  };
  const unmatched = new Set(entries.map((e) => e.id));
  const missing: string[] = [];
  const suffixed: ExpectedObject[] = [];
  for (const object of objects) {
    const apiVersion = object.apiVersion ?? versionOf(object.group, object.kind);
    const namespaced =
      CLUSTER_SCOPED_KINDS.has(object.kind) || apiVersion === undefined
        ? !CLUSTER_SCOPED_KINDS.has(object.kind)
        : ((await kube.isNamespaced(apiVersion, object.kind)) ?? true);
    const id = { ...object, namespace: namespaced ? object.namespace : "" };
    if (object.hashSuffix) {
      suffixed.push(id);
      continue;
    }
    const key = inventoryId(id);
    if (unmatched.has(key)) unmatched.delete(key);
    else missing.push(displayName(id));
  }
  // Generated objects last, so an exact name is never taken for a hashed one.
  for (const object of suffixed) {
    const match = parsed.find(
      ({ entry, id }) =>
        unmatched.has(entry.id) &&
        id !== undefined &&
        id.group === object.group &&
        id.kind === object.kind &&
        id.namespace === object.namespace &&
        id.name.startsWith(object.name) &&
        HASH_SUFFIX.test(id.name.slice(object.name.length)),
    );
    if (match) unmatched.delete(match.entry.id);
    else missing.push(`${displayName(object)}-<hash>`);
  }
  const unexpected = parsed
    .filter(({ entry }) => unmatched.has(entry.id))
    .map(({ entry, id }) => (id ? displayName(id) : entry.id));
  const prefixMatched = suffixed.map(
    (o) => `${displayName(o)}-<hash>: ${o.hashUnknown ?? "its content is unknown"}`,
  );
  return {
    expected: objects.length,
    missing,
    unexpected,
    ...(prefixMatched.length > 0 ? { prefixMatched } : {}),
  };
}

function summaryLine(where: string, check: AppliedCheck): string {
  return check.skipped
    ? `Inventory not checked: ${check.skipped}`
    : check.missing.length + check.unexpected.length === 0
      ? `Inventory of ${where} holds the ${check.expected} objects of ${check.version ?? check.digest}${
          check.prefixMatched
            ? ` (${check.prefixMatched.length} generated by name prefix only, hash not computable: ${check.prefixMatched.join("; ")})`
            : ""
        }`
      : `Inventory of ${where} differs from ${check.version ?? check.digest}`;
}

/**
 * Compares the Kustomization's inventory with the objects of the revision it applied. With
 * `expectDigest`, that revision must be this digest (rollback: the pinned version). When the
 * revision is the digest of `objects` (what `watch` computed when it validated the version it
 * pushed), nothing is read from the registry: one GET of the Kustomization.
 */
export async function checkApplied(
  deps: { kube: KubeClient; client: RegistryClient },
  input: CheckInput & { objects?: KnownObjects },
  progress: Progress = silentProgress,
): Promise<AppliedCheck> {
  const { kube, client } = deps;
  const { target, repository } = input;
  const where = `Kustomization ${target.namespace}/${target.name}`;
  return progress.step(
    `Check the inventory of ${where}`,
    async (): Promise<AppliedCheck> => {
      const { ks, base } = await appliedKustomization(kube, input);
      const targetNamespace = ks.spec?.targetNamespace;
      let objects: readonly ExpectedObject[];
      const known = input.objects?.digest === base.digest ? input.objects.objects : undefined;
      if (known !== undefined) {
        objects = targetNamespace
          ? known.map((o) =>
              CLUSTER_SCOPED_KINDS.has(o.kind) ? o : { ...o, namespace: targetNamespace },
            )
          : known;
      } else {
        try {
          objects = await versionObjects(client, repository, base.digest, targetNamespace);
        } catch (error) {
          if (isKsailError(error) && error.kind === "usage") {
            return { ...base, expected: 0, missing: [], unexpected: [], skipped: error.message };
          }
          throw error;
        }
      }
      const compared = await compareInventory(kube, objects, ks.status?.inventory?.entries ?? []);
      return { ...base, ...compared };
    },
    (check) => summaryLine(where, check),
  );
}

/** The error for an inventory that does not match its version (undefined when it does). */
export function appliedMismatch(check: AppliedCheck): KsailError | undefined {
  if (check.missing.length === 0 && check.unexpected.length === 0) return undefined;
  const what = check.version ?? check.revision;
  const parts = [
    ...(check.missing.length > 0
      ? [`lacks ${count(check.missing.length, "object")} of ${what}: ${check.missing.join(", ")}`]
      : []),
    ...(check.unexpected.length > 0
      ? [
          `holds ${count(check.unexpected.length, "object")} not in ${what}: ${check.unexpected.join(", ")}`,
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
  input: CheckInput & { objects?: KnownObjects },
  progress: Progress = silentProgress,
): Promise<AppliedCheck> {
  const check = await checkApplied(deps, input, progress);
  const mismatch = appliedMismatch(check);
  if (mismatch) throw mismatch;
  return check;
}
