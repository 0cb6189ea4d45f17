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
import type { ObjectWatch } from "../k8s/object-watch.js";
import {
  condition,
  readiness,
  REQUESTED_AT_ANNOTATION,
  revisionReadiness,
  type FluxObject,
  type Readiness,
} from "./readiness.js";

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

/**
 * The OCIRepository and the Kustomization of a target, each kept up to date by a watch: what a
 * reconcile waits on. `workload watch` keeps one open for all its cycles (no read, no new watch
 * per cycle); a single reconcile opens and closes its own.
 */
export class TargetWatches {
  private constructor(
    readonly source: ObjectWatch<FluxObject>,
    readonly kustomization: ObjectWatch<FluxObject>,
  ) {}

  static async open(kube: KubeClient, target: ReconcileTarget): Promise<TargetWatches> {
    const [source, kustomization] = await Promise.allSettled([
      kube.observe<FluxObject>(ociRepositoryRef(target)),
      kube.observe<FluxObject>(kustomizationRef(target)),
    ]);
    if (source.status === "fulfilled" && kustomization.status === "fulfilled") {
      return new TargetWatches(source.value, kustomization.value);
    }
    if (source.status === "fulfilled") source.value.close();
    if (kustomization.status === "fulfilled") kustomization.value.close();
    throw source.status === "rejected"
      ? source.reason
      : (kustomization as PromiseRejectedResult).reason;
  }

  /** Both watches still running (neither failed nor closed). */
  get live(): boolean {
    return this.source.live && this.kustomization.live;
  }

  close(): void {
    this.source.close();
    this.kustomization.close();
  }
}

/**
 * Asks source-controller to fetch now (the OCIRepository's request annotation) and waits until it
 * has; then waits for the Kustomization. When the fetch brought a new artifact revision,
 * kustomize-controller applies it on its own — it watches its source and queues the
 * Kustomization on every revision change, as `flux reconcile ks --with-source` relies on too — so
 * the Kustomization is not asked as well: a request sent at that moment would start a second
 * run, which may even start first, on the old revision the controller's cache still holds, and
 * delay the one that applies the new revision. When the revision did not change, the
 * Kustomization is asked (so `reconcile` still corrects drift) and its answer waited for.
 */
export async function reconcileWorkload(
  deps: { kube: KubeClient; watches?: TargetWatches },
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
  const started = performance.now();
  const deadline = commandDeadline ?? Date.now() + timeoutMs;
  // Every API call, not only the waits, ends at the deadline: a server that accepts
  // connections and never answers cannot hold the command past --timeout. A client used on
  // afterwards (watch, tests) gets its earlier deadline back.
  const previous = kube.setDeadline(deadline);
  const own = deps.watches?.live
    ? undefined
    : await TargetWatches.open(kube, target).catch((error: unknown) => {
        kube.setDeadline(previous);
        throw error;
      });
  const watches = (own ?? deps.watches) as TargetWatches;
  try {
    const token = requestToken(now?.());
    const sourceRef = ociRepositoryRef(target);
    const ksRef = kustomizationRef(target);
    await assertReconcilable(kube, sourceRef, watches.source.latest);
    await assertReconcilable(kube, ksRef, watches.kustomization.latest);
    const before = watches.source.latest?.status?.artifact?.revision;
    const fetched = await progress.step(
      `Reconcile OCIRepository ${target.namespace}/${target.name}`,
      () => requestAndWait(kube, sourceRef, watches.source, token, deadline),
      describeStep,
    );
    const revision = fetched.revision;
    const followsSource =
      revision !== undefined &&
      revision !== before &&
      appliesFrom(watches.kustomization.latest, target);
    const applied = await progress.step(
      `Reconcile Kustomization ${target.namespace}/${target.name}`,
      () =>
        followsSource
          ? awaitRevision(ksRef, watches, revision, deadline)
          : requestAndWait(kube, ksRef, watches.kustomization, token, deadline, revision),
      describeStep,
    );
    return { token, steps: [fetched, applied], ms: performance.now() - started };
  } finally {
    own?.close();
    kube.setDeadline(previous);
  }
}

function describeStep(s: ReconcileStep): string {
  return `${s.kind} ${s.namespace}/${s.name} ${s.kind === "OCIRepository" ? "fetched" : "applied"} ${s.revision ?? "(no revision)"}`;
}

/** Whether the Kustomization takes its artifact from the target's OCIRepository. */
function appliesFrom(kustomization: FluxObject | undefined, target: ReconcileTarget): boolean {
  const ref = (kustomization?.spec as { sourceRef?: SourceRef } | undefined)?.sourceRef;
  return (
    ref?.kind === "OCIRepository" &&
    ref.name === target.name &&
    (ref.namespace ?? kustomization?.metadata?.namespace) === target.namespace
  );
}

interface SourceRef {
  kind?: string;
  name?: string;
  namespace?: string;
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

/** The object exists and is not suspended, or the error that says so. */
async function assertReconcilable(
  kube: KubeClient,
  ref: ObjectRef,
  current: FluxObject | undefined,
): Promise<void> {
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
}

const describeHint = (ref: ObjectRef) =>
  `kubectl describe ${ref.kind.toLowerCase()} -n ${ref.namespace} ${ref.name}`;

/** Annotates the object with the request `token` and waits for the controller's answer. */
async function requestAndWait(
  kube: KubeClient,
  ref: ObjectRef,
  watch: ObjectWatch<FluxObject>,
  token: string,
  deadline: number,
  sourceRevision?: string,
): Promise<ReconcileStep> {
  // Only a revision not applied yet can answer for our request (see revisionReadiness).
  const newRevision =
    sourceRevision !== undefined && watch.latest?.status?.lastAppliedRevision !== sourceRevision
      ? sourceRevision
      : undefined;
  const sent = performance.now();
  await kube.mergePatch(ref, { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: token } } });
  const object = await waitUntil(ref, watch, deadline, (current) => {
    const state = readiness(current, token);
    return state.state === "pending" && newRevision !== undefined
      ? (revisionReadiness(current, newRevision) ?? state)
      : state;
  });
  return stepOf(ref, object, sent);
}

/**
 * Waits for the Kustomization to apply the source's new revision, which kustomize-controller
 * does on its own. Another push may have moved the source on meanwhile: the revision the
 * source holds at each change is the one waited for.
 */
async function awaitRevision(
  ref: ObjectRef,
  watches: TargetWatches,
  fetched: string,
  deadline: number,
): Promise<ReconcileStep> {
  const started = performance.now();
  const object = await waitUntil(
    ref,
    watches.kustomization,
    deadline,
    (current) =>
      revisionReadiness(current, watches.source.latest?.status?.artifact?.revision ?? fetched) ?? {
        state: "pending",
        reason: "waiting for the Kustomization to apply the new revision",
      },
  );
  return stepOf(ref, object, started);
}

/** Waits on `watch` until `judge` decides; Flux's failure and the deadline become KsailErrors. */
async function waitUntil(
  ref: ObjectRef,
  watch: ObjectWatch<FluxObject>,
  deadline: number,
  judge: (object: FluxObject | undefined) => Readiness,
): Promise<FluxObject> {
  const hint = describeHint(ref);
  try {
    return await watch.until<FluxObject>(
      (object) => {
        const state = object ? judge(object) : readiness(undefined);
        if (state.state === "pending") return undefined;
        if (state.state === "failed") {
          throw new KsailError(
            "failed",
            `${describeRef(ref)} is not ready (${state.reason}): ${state.message}`,
            { hint },
          );
        }
        return object;
      },
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        describeTimeout: () => `timed out waiting for ${describeRef(ref)} to reconcile`,
      },
    );
  } catch (error) {
    if (error instanceof KsailError && error.kind === "timeout") {
      // Say what Flux says right now (the watch has it): usually the reason it is stuck.
      const ready = watch.latest?.status?.conditions?.find((c) => c.type === "Ready");
      throw new KsailError(
        "timeout",
        `${error.message}${ready?.message ? `; last status: ${ready.message}` : ""}`,
        { hint: `${hint}; raise --timeout if the controller is just slow.` },
      );
    }
    throw error;
  }
}

function stepOf(ref: ObjectRef, object: FluxObject, since: number): ReconcileStep {
  const status = object.status ?? {};
  return {
    kind: ref.kind as ReconcileStep["kind"],
    name: ref.name,
    namespace: ref.namespace as string,
    revision: ref.kind === "OCIRepository" ? status.artifact?.revision : status.lastAppliedRevision,
    message: condition(object, "Ready")?.message ?? "",
    ms: performance.now() - since,
  };
}
