/**
 * `ksail workload reconcile` (FR-012, FR-013): ask Flux to act now, then wait — with a watch,
 * not a sleep loop — until the OCIRepository has fetched and the Kustomization has applied,
 * and report Flux's own message when either fails.
 */
import type { KubeClient, ObjectRef } from "../k8s/client.js";
import { describeRef } from "../k8s/client.js";
import { KsailError } from "../errors.js";
import { silentProgress, type Progress } from "../progress.js";
import { KUSTOMIZATION_API, OCI_REPOSITORY_API } from "./resources.js";
import { assertFluxServed } from "./served.js";
import {
  readiness,
  REQUESTED_AT_ANNOTATION,
  revisionReadiness,
  type FluxObject,
} from "./readiness.js";

/** How long the read of Flux's last status may take after the wait timed out. */
const LAST_STATUS_GRACE_MS = 2000;

export interface ReconcileTarget {
  name: string;
  namespace: string;
}

export interface ReconcileStep {
  kind: "OCIRepository" | "Kustomization";
  name: string;
  namespace: string;
  /** Fetched artifact revision (OCIRepository) or applied revision (Kustomization). */
  revision: string | undefined;
  message: string;
  /** From sending the request to seeing the result. */
  ms: number;
}

export interface ReconcileResult {
  token: string;
  steps: ReconcileStep[];
  ms: number;
}

export function ociRepositoryRef(target: ReconcileTarget): ObjectRef {
  return { apiVersion: OCI_REPOSITORY_API, kind: "OCIRepository", ...target };
}

export function kustomizationRef(target: ReconcileTarget): ObjectRef {
  return { apiVersion: KUSTOMIZATION_API, kind: "Kustomization", ...target };
}

/** A fresh request token, in the format `flux reconcile` writes (RFC 3339 with sub-seconds). */
export function requestToken(now: Date = new Date()): string {
  return now.toISOString();
}

export async function reconcileWorkload(
  deps: { kube: KubeClient },
  input: ReconcileTarget & {
    timeoutMs: number;
    /** When the whole command must end (ms since the epoch); default now + timeoutMs. */
    deadline?: number;
    now?: () => Date;
  },
  progress: Progress = silentProgress,
): Promise<ReconcileResult> {
  const { kube } = deps;
  const { timeoutMs, deadline: commandDeadline, now, ...target } = input;
  const options = { timeoutMs, deadline: commandDeadline, now };
  const started = performance.now();
  const deadline = options.deadline ?? Date.now() + options.timeoutMs;
  // Every API call, not only the waits, ends at the deadline: a server that accepts
  // connections and never answers cannot hold the command past --timeout. A client used on
  // afterwards (watch, tests) gets its earlier deadline back.
  const previous = kube.setDeadline(deadline);
  try {
    const token = requestToken(options.now?.());
    const steps: ReconcileStep[] = [];
    for (const ref of [ociRepositoryRef(target), kustomizationRef(target)]) {
      // The Kustomization may also finish by applying the revision the source just fetched.
      const fetched = steps[0]?.revision;
      const step = await progress.step(
        `Reconcile ${ref.kind} ${ref.namespace}/${ref.name}`,
        () => reconcileObject(kube, ref, token, deadline, fetched),
        (s) =>
          `${s.kind} ${s.namespace}/${s.name} ${s.kind === "OCIRepository" ? "fetched" : "applied"} ${s.revision ?? "(no revision)"}`,
      );
      steps.push(step);
    }
    return { token, steps, ms: performance.now() - started };
  } finally {
    kube.setDeadline(previous);
  }
}

/**
 * Before a push that a reconcile follows: the cluster answers, serves Flux's APIs and has both
 * objects — so `reconcile --push` never pushes a version for a cluster that cannot take it.
 */
export async function checkReconcileTarget(
  deps: { kube: KubeClient },
  target: ReconcileTarget,
  progress: Progress = silentProgress,
): Promise<void> {
  const { kube } = deps;
  await progress.step(
    `Check the cluster (context ${kube.context})`,
    async () => {
      await assertFluxServed(kube);
      for (const ref of [ociRepositoryRef(target), kustomizationRef(target)]) {
        if ((await kube.get(ref)) === undefined) {
          throw new KsailError("not-found", `${describeRef(ref)} does not exist`, {
            hint: "Create the Flux objects with `ksail flux sync` (ksail up does it when gitOpsEngine is Flux); nothing was pushed.",
          });
        }
      }
    },
    () =>
      `Cluster ${kube.context} has the OCIRepository and Kustomization ${target.namespace}/${target.name}`,
  );
}

async function reconcileObject(
  kube: KubeClient,
  ref: ObjectRef,
  token: string,
  deadline: number,
  sourceRevision?: string,
): Promise<ReconcileStep> {
  const hint = `kubectl describe ${ref.kind.toLowerCase()} -n ${ref.namespace} ${ref.name}`;
  const current = await kube.get<FluxObject>(ref);
  if (!current) {
    await assertFluxServed(kube);
    throw new KsailError("not-found", `${describeRef(ref)} does not exist`, {
      hint: "Create the Flux objects with `ksail flux sync` (ksail up does it when gitOpsEngine is Flux).",
    });
  }
  if (current.spec?.suspend) {
    throw new KsailError(
      "failed",
      `${describeRef(ref)} is suspended, so Flux will not reconcile it`,
      {
        hint: `Resume it: flux resume ${ref.kind === "Kustomization" ? "kustomization" : "source oci"} ${ref.name} -n ${ref.namespace}`,
      },
    );
  }
  // Only a revision not applied yet can answer for our request (see revisionReadiness).
  const newRevision =
    sourceRevision !== undefined && current.status?.lastAppliedRevision !== sourceRevision
      ? sourceRevision
      : undefined;
  const sent = performance.now();
  await kube.mergePatch(ref, { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: token } } });
  const result = await kube
    .waitFor<FluxObject, { object: FluxObject; message: string }>(
      ref,
      (object) => {
        let state = readiness(object, token);
        if (state.state === "pending" && newRevision !== undefined) {
          state = revisionReadiness(object, newRevision) ?? state;
        }
        if (state.state === "pending") return undefined;
        if (state.state === "failed") {
          throw new KsailError(
            "failed",
            `${describeRef(ref)} is not ready (${state.reason}): ${state.message}`,
            { hint },
          );
        }
        return { object: object as FluxObject, message: state.message };
      },
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        describeTimeout: () => `timed out waiting for ${describeRef(ref)} to reconcile`,
      },
    )
    .catch(async (error: unknown) => {
      if (error instanceof KsailError && error.kind === "timeout") {
        // Say what Flux says right now: usually the reason it is stuck. The deadline has
        // passed, so this one read gets a short grace of its own (else it is refused at once).
        kube.setDeadline(Date.now() + LAST_STATUS_GRACE_MS);
        const latest = await kube.get<FluxObject>(ref).catch(() => undefined);
        const ready = latest?.status?.conditions?.find((c) => c.type === "Ready");
        throw new KsailError(
          "timeout",
          `${error.message}${ready?.message ? `; last status: ${ready.message}` : ""}`,
          {
            hint: `${hint}; raise --timeout if the controller is just slow.`,
          },
        );
      }
      throw error;
    });
  const status = result.object.status ?? {};
  return {
    kind: ref.kind as ReconcileStep["kind"],
    name: ref.name,
    namespace: ref.namespace as string,
    revision: ref.kind === "OCIRepository" ? status.artifact?.revision : status.lastAppliedRevision,
    message: result.message,
    ms: performance.now() - sent,
  };
}
