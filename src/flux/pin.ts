/**
 * Pinning the OCIRepository to one version (`ksail workload rollback`): `spec.ref.digest`, which
 * source-controller prefers over `semver` and `tag`, so a retag cannot move it. The semver range
 * stays in place; unpinning removes the digest and the OCIRepository follows the range again.
 * The version's name is kept in an annotation for `status` and the warnings.
 */
import type { KubeClient } from "../k8s/client.js";
import type { FluxObject } from "./readiness.js";
import { ociRepositoryRef, type ReconcileTarget } from "./reconcile.js";

/** The version (semver tag) the OCIRepository is pinned to, next to its spec.ref.digest. */
export const PINNED_VERSION_ANNOTATION = "ksail.io/pinned-version";

export interface Pin {
  digest: string;
  /** The version named at rollback (absent when the digest was set by someone else). */
  version?: string;
}

type OciRepository = FluxObject & {
  spec?: { ref?: { digest?: string; semver?: string; tag?: string } };
  status?: FluxObject["status"] & {
    artifact?: { revision?: string; digest?: string; lastUpdateTime?: string };
  };
};

export async function readOciRepository(
  kube: KubeClient,
  target: ReconcileTarget,
): Promise<OciRepository | undefined> {
  return kube.get<OciRepository>(ociRepositoryRef(target));
}

/** The pin of an OCIRepository object, if it has one. */
export function pinOf(object: OciRepository | undefined): Pin | undefined {
  const digest = object?.spec?.ref?.digest;
  if (!digest) return undefined;
  const version = object.metadata?.annotations?.[PINNED_VERSION_ANNOTATION];
  return { digest, ...(version ? { version } : {}) };
}

export async function readPin(kube: KubeClient, target: ReconcileTarget): Promise<Pin | undefined> {
  return pinOf(await readOciRepository(kube, target));
}

export async function pinOciRepository(
  kube: KubeClient,
  target: ReconcileTarget,
  pin: Required<Pin>,
): Promise<void> {
  await kube.mergePatch(ociRepositoryRef(target), {
    metadata: { annotations: { [PINNED_VERSION_ANNOTATION]: pin.version } },
    spec: { ref: { digest: pin.digest } },
  });
}

export async function unpinOciRepository(kube: KubeClient, target: ReconcileTarget): Promise<void> {
  await kube.mergePatch(ociRepositoryRef(target), {
    metadata: { annotations: { [PINNED_VERSION_ANNOTATION]: null } },
    spec: { ref: { digest: null } },
  });
}

/** The digest in a Flux artifact revision (`0.0.7@sha256:…`, `latest@sha256:…` or `sha256:…`). */
export function revisionDigest(revision: string | undefined): string | undefined {
  if (!revision) return undefined;
  const at = revision.lastIndexOf("@");
  const digest = at >= 0 ? revision.slice(at + 1) : revision;
  return /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
}
