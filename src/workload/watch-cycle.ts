/**
 * One cycle of `ksail workload watch`, as named steps: publish the directory as the next version
 * (push, then sign — publishVersion), make Flux fetch and apply it, prune old versions. Each step either hands the cycle on
 * or ends it with its outcome; the report carries what was done and how long each step took.
 * The only state kept between cycles is what Flux last applied (so an unchanged save after an
 * applied one needs no reconcile) and the summary's counts.
 */
import { isKsailError, KsailError } from "../errors.js";
import { reconcileWorkload, TargetWatches, type ReconcileTarget } from "../flux/reconcile.js";
import type { KubeClient } from "../k8s/client.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import type { Progress } from "../progress.js";
import type { SecretsPolicy } from "../validate/secrets.js";
import type { SigningKey } from "../sign/keys.js";
import type { ValidationCache } from "../validate/cache.js";
import type { ImageBuildSteps } from "../images/build.js";
import type { ImageRebuilder } from "../images/rebuild.js";
import { pinsOf, type ImagePin } from "../images/pin.js";
import { pinOf } from "../flux/pin.js";
import type { BuiltIdentities } from "../validate/build.js";
import { appliedMismatch, checkApplied } from "./applied.js";
import { pinnedWarning } from "./pin-tag.js";
import { pruneWorkload } from "./prune.js";
import { publishVersion, type Published } from "./publish.js";
import type { PushResult } from "./push.js";
import type { SignatureFormat } from "./verify.js";

export type CycleOutcome =
  | "applied" // pushed (or already pushed) and applied by Flux
  | "pushed" // pushed; no reconcile asked for
  | "pinned" // pushed, not applied: the cluster is pinned to an older version (rollback)
  | "unchanged" // the packaged content equals the newest version, which is applied already
  | "invalid" // validation failed; nothing pushed
  | "flux-failed" // pushed, but Flux reported a failure
  | "unreachable" // registry or API server down; retried with backoff
  | "failed" // any other error; the next save tries again
  | "abandoned"; // cut short by Ctrl-C

export interface CycleReport {
  cycle: number;
  trigger: "start" | "change" | "retry";
  /** Files of the artifact that changed (relative to the source directory). */
  changed: string[];
  /** Images (spec.images) this cycle built because their context changed. */
  built?: string[];
  /** Where the build stage's time went, per image checked this cycle (ms per step). */
  buildSteps?: Record<string, ImageBuildSteps>;
  outcome: CycleOutcome;
  version?: string;
  digest?: string;
  /** Validation problems, as file:line:column: message (file relative to where ksail runs). */
  problems?: string[];
  /** Flux's message, or the error, for the failed outcomes. */
  message?: string;
  hint?: string;
  /** Milliseconds: validate, push (registry: list, upload, tag), fetch and apply (Flux), from save. */
  timings: {
    /** Hashing, checking and building the images whose context changed. */
    buildMs?: number;
    validateMs?: number;
    pushMs?: number;
    fetchMs?: number;
    applyMs?: number;
    /** Comparing the Kustomization's inventory with the version's objects. */
    checkMs?: number;
    /** First file event of the burst → tag written. */
    savedToPushedMs?: number;
    /** First file event of the burst (or the cycle's start) → end of the cycle. */
    totalMs: number;
  };
  /** Versions deleted by --prune-keep after this cycle. */
  pruned?: string[];
  /** The version the cluster is pinned to (outcome "pinned"). */
  pinnedTo?: string;
  /** The proof of what is applied: the inventory holds this many objects of the version. */
  inventory?: { expected: number; skipped?: string };
  /** The signature tag of the pushed version, with a signing key (legacy format). */
  signatureTag?: string;
  /** Where the pushed version's signature is: the .sig tag or the bundle's referrer digest. */
  signature?: string;
  signatureFormat?: SignatureFormat;
  /** The signatures of the images the version pins, by spec.images name (same format). */
  imageSignatures?: Record<string, string>;
}

/** What a cycle talks to and what it is asked to do (fixed for the whole watch). */
export interface CycleContext {
  client: RegistryClient;
  kube?: KubeClient;
  validationCache?: ValidationCache;
  exclusive?: <T>(repository: string, run: () => Promise<T>) => Promise<T>;
  repository: RepositoryRef;
  sourceDir: string;
  /** How messages name sourceDir (push's displayDir). */
  displayDir?: string;
  /** Ignore patterns, editor temp files included. */
  ignore: string[];
  reconcile?: ReconcileTarget & { timeoutMs: number };
  pruneKeep?: number;
  signingKey?: SigningKey;
  /** spec.images: built before each push where their context changed, pinned in the version. */
  images?: ImageRebuilder;
  secrets?: SecretsPolicy;
  /** The signing key's format (default: the signer's, "bundle"). */
  signatureFormat?: SignatureFormat;
  signal: AbortSignal;
  abortGraceMs: number;
  warn(line: string): void;
}

export const ABANDONED = Symbol("abandoned");

/**
 * `work`'s outcome, or ABANDONED `graceMs` after `signal` aborts, whichever comes first. The
 * abort listener (and the grace timer) go away with the outcome: racing against one long-lived
 * promise instead would leave a reaction on it per cycle, kept for the whole watch.
 */
export function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal,
  graceMs = 0,
): Promise<T | typeof ABANDONED> {
  return new Promise<T | typeof ABANDONED>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => resolve(ABANDONED), graceMs);
      timer.unref();
    };
    const settle = () => {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

/** Runs steps without printing, remembering when each started and ended. */
class StepClock implements Progress {
  readonly steps: { label: string; start: number; end: number }[] = [];
  readonly warnings: string[] = [];

  async step<T>(label: string, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.steps.push({ label, start, end: performance.now() });
    }
  }
  info(): void {}
  warn(line: string): void {
    this.warnings.push(line);
  }
  find(prefix: string) {
    return this.steps.find((s) => s.label.startsWith(prefix));
  }
  ms(prefix: string): number | undefined {
    const step = this.find(prefix);
    return step ? step.end - step.start : undefined;
  }
}

/**
 * An outage is retried with backoff: the registry or API server cannot be reached, or a registry
 * request timed out. A reconcile that times out is Flux's answer (reported, like a failure).
 */
function isOutage(error: unknown, during: "push" | "reconcile"): error is KsailError {
  return (
    isKsailError(error) &&
    (error.kind === "unreachable" || (error.kind === "timeout" && during === "push"))
  );
}

/** One cycle in the making: its report, its clock, and how it ends. */
class Cycle {
  readonly clock = new StepClock();
  readonly report: CycleReport;

  constructor(
    number: number,
    trigger: CycleReport["trigger"],
    changed: string[],
    private readonly startedAt: number,
  ) {
    this.report = { cycle: number, trigger, changed, outcome: "failed", timings: { totalMs: 0 } };
  }

  end(outcome: CycleOutcome, extra: Partial<CycleReport> = {}): CycleReport {
    const { report, clock } = this;
    Object.assign(report, extra, { outcome });
    report.timings.totalMs = performance.now() - this.startedAt;
    const validate = clock.ms("Validate manifests");
    if (validate !== undefined) report.timings.validateMs = validate;
    const listed = clock.find("List versions");
    const tagged = clock.find("Tag version");
    if (listed) report.timings.pushMs = (tagged ?? listed).end - listed.start;
    if (tagged) report.timings.savedToPushedMs = tagged.end - this.startedAt;
    return report;
  }

  /** Ends the cycle for an error of `during`, with the outcome the error means. */
  fail(error: unknown, during: "push" | "reconcile"): CycleReport {
    if (isKsailError(error) && error.kind === "validation" && during === "push") {
      return this.end("invalid", { problems: error.details, message: error.message });
    }
    const message = error instanceof Error ? error.message : String(error);
    const hint = isKsailError(error) && error.hint ? { hint: error.hint } : {};
    if (isOutage(error, during)) return this.end("unreachable", { message, ...hint });
    if (during === "reconcile" && isKsailError(error) && error.kind === "failed") {
      return this.end("flux-failed", { message, ...hint });
    }
    return this.end("failed", { message, ...hint });
  }
}

/** Runs cycles one after the other; remembers what Flux applied and counts the pushes. */
export class CycleRunner {
  /** Digest Flux last applied (as far as this loop knows). */
  private applied: string | undefined;
  /**
   * The OCIRepository and Kustomization, watched from the first reconcile on: no cycle reads
   * them again or opens new watches. Made again after a cycle whose reconcile failed.
   */
  private watches: TargetWatches | undefined;
  cycles = 0;
  pushed = 0;
  lastVersion: string | undefined;

  constructor(private readonly ctx: CycleContext) {}

  async run(
    trigger: CycleReport["trigger"],
    changed: string[],
    startedAt: number,
    /** Changed paths in image contexts (absolute). */
    imagePaths: string[] = [],
  ): Promise<CycleReport> {
    const cycle = new Cycle(++this.cycles, trigger, changed, startedAt);
    const pins = await this.build(cycle, trigger, imagePaths);
    if (pins !== undefined && !Array.isArray(pins)) return pins;
    // Validation's identities of the version, for the inventory check after Flux applied it.
    const identities: BuiltIdentities = {};
    const pushed = await this.publish(cycle, identities, pins);
    if ("outcome" in pushed) return pushed;
    if (pushed.unchanged && (this.applied === pushed.digest || !this.ctx.reconcile)) {
      return cycle.end("unchanged");
    }
    if (this.ctx.signal.aborted) return cycle.end("abandoned");
    const reconciled = await this.reconcile(cycle, pushed, identities);
    if (reconciled.outcome !== "applied" && reconciled.outcome !== "pushed") return reconciled;
    if (!pushed.unchanged) await this.prune(cycle);
    return cycle.report;
  }

  /**
   * Builds the images whose context changed (all of them on the first cycle; again those a
   * failed cycle left unbuilt); a manifest-only save builds nothing. The pins of every image.
   */
  private async build(
    cycle: Cycle,
    trigger: CycleReport["trigger"],
    imagePaths: string[],
  ): Promise<ImagePin[] | CycleReport | undefined> {
    const { ctx } = this;
    if (!ctx.images) return undefined;
    const started = performance.now();
    try {
      const result = await ctx.images.build(
        trigger === "start" ? "all" : imagePaths,
        { signal: ctx.signal, streamOutput: false },
        cycle.clock,
      );
      if (result.checked.length > 0) {
        cycle.report.timings.buildMs = performance.now() - started;
        const built = result.images.filter((i) => i.built && result.checked.includes(i.name));
        if (built.length > 0) cycle.report.built = built.map((i) => i.name);
        cycle.report.buildSteps = Object.fromEntries(
          result.images
            .filter((i) => result.checked.includes(i.name))
            .map((i) => [i.name, roundSteps(i.steps)]),
        );
      }
      return pinsOf(result.images);
    } catch (error) {
      if (ctx.signal.aborted) return cycle.end("abandoned");
      return cycle.fail(error, "push");
    }
  }

  /**
   * Validate, push and (with a key) sign — publishVersion, as `workload push` does. A push cut
   * short by Ctrl-C is waited for up to the grace period.
   */
  private async publish(
    cycle: Cycle,
    identities: BuiltIdentities,
    pins?: ImagePin[],
  ): Promise<PushResult | CycleReport> {
    const { ctx } = this;
    const work = publishVersion(
      {
        client: ctx.client,
        ...(ctx.validationCache ? { validationCache: ctx.validationCache } : {}),
        ...(ctx.exclusive ? { exclusive: ctx.exclusive } : {}),
      },
      {
        repository: ctx.repository,
        sourceDir: ctx.sourceDir,
        ...(ctx.displayDir === undefined ? {} : { displayDir: ctx.displayDir }),
        ignore: ctx.ignore,
        identities,
        ...(pins && pins.length > 0 ? { images: pins } : {}),
        ...(ctx.signingKey ? { signingKey: ctx.signingKey } : {}),
        ...(ctx.secrets ? { secrets: ctx.secrets } : {}),
        ...(ctx.signatureFormat ? { signatureFormat: ctx.signatureFormat } : {}),
      },
      cycle.clock,
    );
    let result: Published | typeof ABANDONED;
    try {
      result = await unlessAborted(work, ctx.signal, ctx.abortGraceMs);
    } catch (error) {
      return cycle.fail(error, "push");
    }
    if (result === ABANDONED) return cycle.end("abandoned");
    for (const line of cycle.clock.warnings) ctx.warn(line);
    const { pushed, signature, imageSignatures } = result;
    cycle.report.version = pushed.version;
    cycle.report.digest = pushed.digest;
    if (signature) {
      cycle.report.signature = signature.signature;
      cycle.report.signatureFormat = signature.format;
      if (signature.format === "legacy") cycle.report.signatureTag = signature.signature;
    }
    if (imageSignatures) {
      cycle.report.imageSignatures = Object.fromEntries(
        imageSignatures.map((s) => [s.name, s.signature]),
      );
    }
    this.lastVersion = pushed.version;
    if (!pushed.unchanged) this.pushed++;
    return pushed;
  }

  /**
   * Makes Flux fetch and apply the version (without --no-reconcile); Ctrl-C stops the wait.
   * A cluster pinned by `workload rollback` is not asked to (Flux would apply the pinned
   * version, not this one): the cycle ends "pinned" with the warning. After Flux applied the
   * version, its inventory must hold the version's objects.
   */
  private async reconcile(
    cycle: Cycle,
    pushed: PushResult,
    identities: BuiltIdentities,
  ): Promise<CycleReport> {
    const { ctx } = this;
    if (!ctx.reconcile) return cycle.end("pushed");
    const { timeoutMs, ...target } = ctx.reconcile;
    const kube = ctx.kube as KubeClient;
    let reconciled;
    try {
      const watches = await unlessAborted(this.watchTarget(kube, target, timeoutMs), ctx.signal);
      if (watches === ABANDONED) return cycle.end("abandoned");
      // The watch has the OCIRepository as it is now: no read to learn about a rollback's pin.
      const pin = pinOf(watches.source.latest as Parameters<typeof pinOf>[0]);
      if (pin) {
        const pinnedTo = pin.version ?? pin.digest;
        ctx.warn(pinnedWarning(pinnedTo, pushed.version));
        this.applied = undefined;
        return cycle.end("pinned", { pinnedTo });
      }
      reconciled = await unlessAborted(
        reconcileWorkload({ kube, watches }, { ...target, timeoutMs }, cycle.clock),
        ctx.signal,
      );
    } catch (error) {
      // Whatever went wrong, the next cycle starts from fresh reads.
      this.close();
      return cycle.fail(error, "reconcile");
    }
    if (reconciled === ABANDONED) return cycle.end("abandoned");
    const [fetch, apply] = reconciled.steps;
    if (fetch) cycle.report.timings.fetchMs = fetch.ms;
    if (apply) cycle.report.timings.applyMs = apply.ms;
    // Flux may have fetched a newer version than ours (another push): say what it applied.
    this.applied = apply?.revision?.endsWith(`@${pushed.digest}`) ? pushed.digest : undefined;
    if (!this.applied) {
      ctx.warn(
        `Flux applied ${apply?.revision ?? "nothing"}, not ${pushed.version}@${pushed.digest} (another push meanwhile?)`,
      );
      return cycle.end("applied");
    }
    return this.prove(cycle, pushed, identities);
  }

  /**
   * The proof of what is applied (applied.ts): one GET of the Kustomization, compared with the
   * identities validation computed for this version (the registry is read only when validation
   * could not tell them, e.g. for generators). A mismatch fails the cycle, naming the objects.
   */
  private async prove(
    cycle: Cycle,
    pushed: PushResult,
    identities: BuiltIdentities,
  ): Promise<CycleReport> {
    const { ctx } = this;
    const { timeoutMs: _timeout, ...target } = ctx.reconcile!;
    const started = performance.now();
    let check;
    try {
      check = await checkApplied(
        { kube: ctx.kube as KubeClient, client: ctx.client },
        {
          target,
          repository: ctx.repository,
          ...(identities.objects
            ? { objects: { digest: pushed.digest, objects: identities.objects } }
            : {}),
        },
      );
    } catch (error) {
      return cycle.fail(error, "reconcile");
    } finally {
      cycle.report.timings.checkMs = performance.now() - started;
    }
    const mismatch = appliedMismatch(check);
    if (mismatch) {
      this.applied = undefined; // the next save reconciles again
      return cycle.end("failed", {
        message: mismatch.message,
        ...(mismatch.hint ? { hint: mismatch.hint } : {}),
      });
    }
    if (check.skipped) ctx.warn(`inventory not checked: ${check.skipped}`);
    return cycle.end("applied", {
      inventory: { expected: check.expected, ...(check.skipped ? { skipped: check.skipped } : {}) },
    });
  }

  /** The watches of the Flux objects, opened on first use (or after a failed cycle). */
  private async watchTarget(
    kube: KubeClient,
    target: ReconcileTarget,
    timeoutMs: number,
  ): Promise<TargetWatches> {
    if (this.watches?.live) return this.watches;
    this.close();
    // Bounded like the reconcile itself: an API server that never answers ends the cycle.
    const previous = kube.setDeadline(Date.now() + timeoutMs);
    let watches;
    try {
      watches = await TargetWatches.open(kube, target);
    } finally {
      kube.setDeadline(previous);
    }
    // Ctrl-C meanwhile: the loop has closed what it had; a watch left open would keep it alive.
    if (this.ctx.signal.aborted) {
      watches.close();
      throw new KsailError("failed", "stopped");
    }
    this.watches = watches;
    return watches;
  }

  /** Stops watching the Flux objects (the loop is over, or they are to be read afresh). */
  close(): void {
    this.watches?.close();
    this.watches = undefined;
  }

  /** With --prune-keep, deletes all but the newest versions; a failure is only a warning. */
  private async prune(cycle: Cycle): Promise<void> {
    const { ctx } = this;
    if (ctx.pruneKeep === undefined || ctx.signal.aborted) return;
    try {
      const pruned = await pruneWorkload(
        { client: ctx.client },
        { repository: ctx.repository, keep: ctx.pruneKeep },
        cycle.clock,
      );
      if (pruned.deleted.length > 0) cycle.report.pruned = pruned.deleted.map((v) => v.version);
    } catch (error) {
      ctx.warn(
        `pruning old versions of ${formatRepository(ctx.repository)} failed: ${(error as Error).message}`,
      );
    }
  }
}

/** Build step timings to a tenth of a millisecond, as the cycle's other timings print. */
function roundSteps(steps: ImageBuildSteps): ImageBuildSteps {
  return Object.fromEntries(
    Object.entries(steps).map(([step, ms]) => [step, Math.round((ms as number) * 10) / 10]),
  );
}
