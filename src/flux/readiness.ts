/**
 * Reading a Flux object's status after a reconcile request, the way `flux reconcile` does,
 * without polling: the caller feeds every watched version of the object here.
 */
export const REQUESTED_AT_ANNOTATION = "reconcile.fluxcd.io/requestedAt";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  /** The metadata.generation the controller reconciled when it set this condition. */
  observedGeneration?: number;
}

export interface FluxObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  spec?: { suspend?: boolean };
  status?: {
    observedGeneration?: number;
    lastHandledReconcileAt?: string;
    conditions?: Condition[];
    artifact?: { revision?: string; digest?: string };
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
  };
}

export type Readiness =
  | { state: "pending"; reason: string }
  | { state: "ready"; message: string }
  | { state: "failed"; reason: string; message: string };

/**
 * Reasons Flux gives the Ready condition while a reconciliation is still running: its
 * progressive status patches (which already carry lastHandledReconcileAt) mark Ready
 * Progressing, or ProgressingWithRetry after an earlier failure. A finished failed run names
 * the failure instead (e.g. OCIArtifactPullFailed, ReconciliationFailed, HealthCheckFailed).
 */
const IN_PROGRESS = new Set(["Progressing", "ProgressingWithRetry", "DependencyNotReady"]);

/** The Ready condition when it reports a finished failure (not a run in progress). */
function failedReadyCondition(object: FluxObject): Condition | undefined {
  const ready = condition(object, "Ready");
  return ready?.status === "False" && !IN_PROGRESS.has(ready.reason ?? "") ? ready : undefined;
}

export function condition(object: FluxObject | undefined, type: string): Condition | undefined {
  return object?.status?.conditions?.find((c) => c.type === type);
}

/**
 * Where an object stands after the reconcile request `token` (undefined: judge the current
 * state only, as `workload status` does).
 */
export function readiness(object: FluxObject | undefined, token?: string): Readiness {
  if (!object)
    return {
      state: "failed",
      reason: "NotFound",
      message: "the object does not exist (was it deleted?)",
    };
  if (object.spec?.suspend) {
    return {
      state: "failed",
      reason: "Suspended",
      message: "reconciliation is suspended (spec.suspend: true)",
    };
  }
  const status = object.status ?? {};
  if (token !== undefined && status.lastHandledReconcileAt !== token) {
    return { state: "pending", reason: "waiting for the controller to handle the request" };
  }
  const generation = object.metadata?.generation ?? 0;
  if ((status.observedGeneration ?? -1) < generation) {
    // Flux moves status.observedGeneration only when a run succeeds or stalls; a failed run
    // (e.g. source-controller's VerificationError) stamps its Ready condition with the
    // generation it tried instead, and — for a request — records lastHandledReconcileAt only
    // when the run is over. So that condition is the failure of the latest generation.
    const failed = failedReadyCondition(object);
    if (failed && (failed.observedGeneration ?? -1) >= generation) {
      return {
        state: "failed",
        reason: failed.reason ?? "NotReady",
        message: failed.message ?? "not ready",
      };
    }
    return {
      state: "pending",
      reason: "waiting for the controller to observe the latest generation",
    };
  }
  const stalled = condition(object, "Stalled");
  if (stalled?.status === "True") {
    return {
      state: "failed",
      reason: stalled.reason ?? "Stalled",
      message: stalled.message ?? "stalled",
    };
  }
  const ready = condition(object, "Ready");
  if (ready?.status === "True") {
    if (condition(object, "Reconciling")?.status === "True") {
      return {
        state: "pending",
        reason: condition(object, "Reconciling")?.message ?? "reconciling",
      };
    }
    return { state: "ready", message: ready.message ?? "" };
  }
  if (ready?.status === "False" && !IN_PROGRESS.has(ready.reason ?? "")) {
    return {
      state: "failed",
      reason: ready.reason ?? "NotReady",
      message: ready.message ?? "not ready",
    };
  }
  return { state: "pending", reason: ready?.message ?? "waiting for the Ready condition" };
}

/**
 * Where a Kustomization stands on one source revision, whoever asked for it: when the source
 * fetched a new revision, kustomize-controller applies it on its own, and that run answers the
 * question as well as one triggered by our request would. Undefined: not decided yet.
 */
export function revisionReadiness(
  object: FluxObject | undefined,
  revision: string,
): Readiness | undefined {
  const status = object?.status;
  if (!object || !status || (status.observedGeneration ?? -1) < (object.metadata?.generation ?? 0))
    return undefined;
  const ready = condition(object, "Ready");
  if (
    status.lastAppliedRevision === revision &&
    ready?.status === "True" &&
    condition(object, "Reconciling")?.status !== "True"
  ) {
    return { state: "ready", message: ready.message ?? "" };
  }
  if (
    status.lastAttemptedRevision === revision &&
    ready?.status === "False" &&
    !IN_PROGRESS.has(ready.reason ?? "")
  ) {
    return {
      state: "failed",
      reason: ready.reason ?? "NotReady",
      message: ready.message ?? "not ready",
    };
  }
  return undefined;
}
