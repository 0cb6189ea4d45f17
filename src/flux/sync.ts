/** Applying the generated OCIRepository + Kustomization, and reading their state back. */
import type { KubeClient } from "../k8s/client.js";
import type { Progress } from "../progress.js";
import { sopsAgeSecret } from "../secrets/flux-decryption.js";
import { cosignPublicKeySecret, fluxSyncObjects, type FluxSyncSpec } from "./resources.js";
import { condition, readiness, type FluxObject } from "./readiness.js";
import { kustomizationRef, ociRepositoryRef, type ReconcileTarget } from "./reconcile.js";

/**
 * Server-side apply: existing objects are updated in place and fields others own are kept.
 * `ageIdentities`: the private keys for spec.decryption's Secret (applied first, never printed).
 */
export async function applyFluxSync(
  kube: KubeClient,
  spec: FluxSyncSpec,
  progress: Progress,
  ageIdentities: readonly string[] = [],
): Promise<void> {
  await progress.step(
    "Apply OCIRepository and Kustomization",
    async () => {
      // The verify Secret first, so source-controller never sees spec.verify without its key.
      const secret = cosignPublicKeySecret(spec);
      if (secret !== undefined) await kube.apply(secret);
      if (spec.decryption !== undefined && ageIdentities.length > 0)
        await kube.apply(
          sopsAgeSecret(spec.namespace, ageIdentities, { "app.kubernetes.io/managed-by": "ksail" }),
        );
      for (const object of fluxSyncObjects(spec)) await kube.apply(object);
    },
    () => `Applied OCIRepository and Kustomization ${spec.namespace}/${spec.name} (${spec.url})`,
  );
}

export interface ObjectStatus {
  kind: "OCIRepository" | "Kustomization";
  name: string;
  namespace: string;
  exists: boolean;
  ready: "True" | "False" | "Unknown";
  suspended: boolean;
  revision?: string;
  reason?: string;
  message?: string;
  /** What it follows: the OCIRepository's URL, the Kustomization's source (`OCIRepository/name`). */
  source?: string;
  interval?: string;
}

/** The spec fields status shows with -o wide. */
type FollowingSpec = {
  suspend?: boolean;
  url?: string;
  interval?: string;
  sourceRef?: { kind?: string; name?: string };
};

export async function workloadStatus(
  kube: KubeClient,
  target: ReconcileTarget,
): Promise<ObjectStatus[]> {
  const refs = [ociRepositoryRef(target), kustomizationRef(target)];
  const objects = await Promise.all(
    refs.map((ref) => kube.get<FluxObject & { spec?: FollowingSpec }>(ref)),
  );
  return refs.map((ref, i) => {
    const object = objects[i];
    const ready = condition(object, "Ready");
    const state = readiness(object);
    const spec = object?.spec;
    const source =
      ref.kind === "OCIRepository"
        ? spec?.url
        : spec?.sourceRef?.name
          ? `${spec.sourceRef.kind ?? "OCIRepository"}/${spec.sourceRef.name}`
          : undefined;
    const revision =
      ref.kind === "OCIRepository"
        ? object?.status?.artifact?.revision
        : object?.status?.lastAppliedRevision;
    return {
      kind: ref.kind as ObjectStatus["kind"],
      name: ref.name,
      namespace: target.namespace,
      exists: object !== undefined,
      ready: state.state === "ready" ? "True" : state.state === "failed" ? "False" : "Unknown",
      suspended: object?.spec?.suspend === true,
      ...(revision ? { revision } : {}),
      ...(source ? { source } : {}),
      ...(spec?.interval ? { interval: spec.interval } : {}),
      ...(ready?.reason ? { reason: ready.reason } : {}),
      ...(state.state === "failed"
        ? { message: state.message }
        : ready?.message
          ? { message: ready.message }
          : {}),
    };
  });
}
