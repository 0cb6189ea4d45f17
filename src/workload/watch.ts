/**
 * `ksail workload watch`: the inner loop. Saves in the source directory are gathered (see
 * watch-changes.ts), then one cycle runs: validate → push the next patch version → make Flux
 * fetch and apply it (reconcileWorkload) → optionally prune old versions. One long-lived
 * process, so the registry and API connections, the validation memo and the discovery caches
 * stay warm between cycles.
 *
 * Rules: never two cycles (or pushes) at once — changes during a cycle go into the next one;
 * an invalid save pushes nothing and the loop goes on; Flux's failure is reported and the loop
 * goes on; an unreachable registry or API server is reported once and the cycle retried with
 * backoff until it answers; on abort the running push is finished (or, if it hangs, abandoned —
 * the push writes its manifest last, so no tag ever points at missing blobs), a running
 * reconcile wait is abandoned, and the loop returns.
 */
import { listSourceFiles } from "../artifact/source-files.js";
import { KsailError, isKsailError } from "../errors.js";
import {
  reconcileWorkload,
  type ReconcileResult,
  type ReconcileTarget,
} from "../flux/reconcile.js";
import type { KubeClient } from "../k8s/client.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import type { ValidationCache } from "../validate/cache.js";
import type { Progress } from "../progress.js";
import { pruneWorkload } from "./prune.js";
import { pushWorkload, type PushResult } from "./push.js";
import { signArtifact } from "./sign.js";
import type { SignatureFormat } from "./verify.js";
import type { SigningKey } from "../sign/keys.js";
import {
  EDITOR_TEMP_PATTERNS,
  relevantChanges,
  watchChanges,
  type ChangeBatch,
} from "./watch-changes.js";

export const DEFAULT_DEBOUNCE_MS = 75;

/** What the loop talks to (the service convention: deps, input, then the reporter). */
export interface WatchDeps {
  client: RegistryClient;
  /** Needed when `reconcile` is asked for. */
  kube?: KubeClient;
  /** Validation memo; kept in memory while watching, saved when the loop ends. */
  validationCache?: ValidationCache;
  /** Per-repository lock around choosing and tagging a version (see push-session). */
  exclusive?: <T>(repository: string, run: () => Promise<T>) => Promise<T>;
}

export interface WatchInput {
  repository: RepositoryRef;
  sourceDir: string;
  /** Extra ignore patterns (as `workload push --ignore`); editor temp files are added. */
  ignore?: string[];
  debounceMs?: number;
  /** Make Flux fetch and apply each pushed version; without it the loop only pushes. */
  reconcile?: ReconcileTarget & { timeoutMs: number };
  /** After a cycle that pushed a new version, delete all but the newest N versions. */
  pruneKeep?: number;
  /** Sign every pushed version (an unchanged one too, if unsigned) before Flux fetches it. */
  signingKey?: SigningKey;
  /** The signing key's format (default: the signer's, "bundle"). */
  signatureFormat?: SignatureFormat | undefined;
  /** Ends the loop (Ctrl-C). */
  signal: AbortSignal;
  /** How long an abort waits for a running push before abandoning it. Default 5 s. */
  abortGraceMs?: number;
  /** Retry delays while the registry or API server is unreachable. */
  backoff?: { initialMs: number; maxMs: number };
}

export type CycleOutcome =
  | "applied" // pushed (or already pushed) and applied by Flux
  | "pushed" // pushed; no reconcile asked for
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
  outcome: CycleOutcome;
  version?: string;
  digest?: string;
  /** Validation problems, as file:line:column: message. */
  problems?: string[];
  /** Flux's message, or the error, for the failed outcomes. */
  message?: string;
  hint?: string;
  /** Milliseconds: validate, push (registry: list, upload, tag), fetch and apply (Flux), from save. */
  timings: {
    validateMs?: number;
    pushMs?: number;
    fetchMs?: number;
    applyMs?: number;
    /** First file event of the burst → tag written. */
    savedToPushedMs?: number;
    /** First file event of the burst (or the cycle's start) → end of the cycle. */
    totalMs: number;
  };
  /** Versions deleted by --prune-keep after this cycle. */
  pruned?: string[];
  /** The signature tag of the pushed version, with a signing key (legacy format). */
  signatureTag?: string;
  /** Where the pushed version's signature is: the .sig tag or the bundle's referrer digest. */
  signature?: string;
  signatureFormat?: SignatureFormat;
}

export interface WatchReporter {
  /** One finished cycle. */
  cycle(report: CycleReport): void;
  /** Status lines: watching started, outage began / ended, stopping. */
  notice(line: string): void;
  warn(line: string): void;
}

export interface WatchSummary {
  cycles: number;
  pushed: number;
  lastVersion?: string;
  /** The loop ended on abort while a cycle ran, and that cycle was cut short. */
  abandoned: boolean;
}

const ABANDONED = Symbol("abandoned");

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

/** The memo in memory only while watching: no cache file rewritten on every save. */
function memoryCache(cache: ValidationCache): ValidationCache & { flush(): Promise<void> } {
  return {
    scope: (root) => cache.scope(root),
    get: (digest) => cache.get(digest),
    set: (digest, objects) => cache.set(digest, objects),
    save: async () => {},
    flush: () => cache.save(),
  };
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

export async function watchWorkload(
  deps: WatchDeps,
  options: WatchInput,
  reporter: WatchReporter,
): Promise<WatchSummary> {
  const { client } = deps;
  const { signal, sourceDir } = options;
  if (options.reconcile && !deps.kube) {
    throw new KsailError("usage", "watch: reconciling needs a cluster connection (deps.kube)");
  }
  const ignore = [...(options.ignore ?? []), ...EDITOR_TEMP_PATTERNS];
  const backoff = options.backoff ?? { initialMs: 500, maxMs: 10_000 };
  const cache = deps.validationCache ? memoryCache(deps.validationCache) : undefined;
  const name = formatRepository(options.repository);
  const summary: WatchSummary = { cycles: 0, pushed: 0, abandoned: false };

  let watcherError: Error | undefined;
  const changes = watchChanges(sourceDir, {
    debounceMs: options.debounceMs ?? DEFAULT_DEBOUNCE_MS,
    onError: (error) => (watcherError = error),
  });
  const aborted = new Promise<typeof ABANDONED>((resolve) => {
    if (signal.aborted) resolve(ABANDONED);
    signal.addEventListener("abort", () => resolve(ABANDONED), { once: true });
  });
  signal.addEventListener("abort", () => changes.close(), { once: true });

  /** The selection the last cycle saw, to tell artifact files from ignored ones. */
  let selected: Set<string>;
  /** Digest Flux last applied (as far as this loop knows). */
  let applied: string | undefined;
  let outage: { what: string; since: number; delayMs: number } | undefined;
  /** Changes of a cycle that failed for an outage, carried into the retry. */
  let carried: string[] = [];

  const list = async () =>
    new Set((await listSourceFiles(sourceDir, { ignore })).files.map((f) => f.path));

  /** Waits for the push to finish, but not longer than the grace period after an abort. */
  const untilAbortGrace = <T>(work: Promise<T>): Promise<T | typeof ABANDONED> =>
    Promise.race([
      work,
      aborted.then(
        () =>
          new Promise<typeof ABANDONED>((resolve) =>
            setTimeout(() => resolve(ABANDONED), options.abortGraceMs ?? 5000).unref(),
          ),
      ),
    ]);

  const runCycle = async (
    trigger: CycleReport["trigger"],
    changed: string[],
    startedAt: number,
  ): Promise<CycleReport> => {
    const clock = new StepClock();
    const report: CycleReport = {
      cycle: ++summary.cycles,
      trigger,
      changed,
      outcome: "failed",
      timings: { totalMs: 0 },
    };
    const finish = (outcome: CycleOutcome, extra: Partial<CycleReport> = {}): CycleReport => {
      Object.assign(report, extra, { outcome });
      report.timings.totalMs = performance.now() - startedAt;
      const validate = clock.ms("Validate manifests");
      if (validate !== undefined) report.timings.validateMs = validate;
      const listed = clock.find("List versions");
      const tagged = clock.find("Tag version");
      if (listed) report.timings.pushMs = (tagged ?? listed).end - listed.start;
      if (tagged) report.timings.savedToPushedMs = tagged.end - startedAt;
      return report;
    };
    const failure = (error: unknown, during: "push" | "reconcile"): CycleReport => {
      if (isKsailError(error) && error.kind === "validation" && during === "push") {
        return finish("invalid", { problems: error.details, message: error.message });
      }
      const message = error instanceof Error ? error.message : String(error);
      const hint = isKsailError(error) ? error.hint : undefined;
      if (isOutage(error, during))
        return finish("unreachable", { message, ...(hint ? { hint } : {}) });
      if (during === "reconcile" && isKsailError(error) && error.kind === "failed") {
        return finish("flux-failed", { message, ...(hint ? { hint } : {}) });
      }
      return finish("failed", { message, ...(hint ? { hint } : {}) });
    };

    let pushed: PushResult | typeof ABANDONED;
    try {
      pushed = await untilAbortGrace(
        pushWorkload(
          {
            client,
            ...(cache ? { validationCache: cache } : {}),
            ...(deps.exclusive ? { exclusive: deps.exclusive } : {}),
          },
          { repository: options.repository, sourceDir, ignore },
          clock,
        ),
      );
    } catch (error) {
      return failure(error, "push");
    }
    if (pushed === ABANDONED) return finish("abandoned");
    for (const line of clock.warnings) reporter.warn(line);
    const result = pushed;
    report.version = result.version;
    report.digest = result.digest;
    summary.lastVersion = result.version;
    if (!result.unchanged) summary.pushed++;
    if (options.signingKey) {
      try {
        const signed = await signArtifact(
          { client },
          {
            repository: options.repository,
            digest: result.digest,
            key: options.signingKey,
            ...(options.signatureFormat ? { format: options.signatureFormat } : {}),
          },
          clock,
        );
        report.signature = signed.signature;
        report.signatureFormat = signed.format;
        if (signed.format === "legacy") report.signatureTag = signed.signature;
      } catch (error) {
        return failure(error, "push");
      }
    }
    if (result.unchanged && (applied === result.digest || !options.reconcile)) {
      return finish("unchanged");
    }
    if (signal.aborted) return finish("abandoned");

    if (options.reconcile) {
      const { timeoutMs, ...target } = options.reconcile;
      const kube = deps.kube as KubeClient;
      let reconciled: ReconcileResult | typeof ABANDONED;
      try {
        reconciled = await Promise.race([
          reconcileWorkload({ kube }, { ...target, timeoutMs }, clock),
          aborted,
        ]);
      } catch (error) {
        return failure(error, "reconcile");
      }
      if (reconciled === ABANDONED) return finish("abandoned");
      const [fetch, apply] = reconciled.steps;
      if (fetch) report.timings.fetchMs = fetch.ms;
      if (apply) report.timings.applyMs = apply.ms;
      // Flux may have fetched a newer version than ours (another push): say what it applied.
      applied = apply?.revision?.endsWith(`@${result.digest}`) ? result.digest : undefined;
      if (!applied) {
        reporter.warn(
          `Flux applied ${apply?.revision ?? "nothing"}, not ${result.version}@${result.digest} (another push meanwhile?)`,
        );
      }
      finish("applied");
    } else {
      finish("pushed");
    }

    if (options.pruneKeep !== undefined && !result.unchanged && !signal.aborted) {
      try {
        const pruned = await pruneWorkload(
          { client },
          { repository: options.repository, keep: options.pruneKeep },
          clock,
        );
        if (pruned.deleted.length > 0) report.pruned = pruned.deleted.map((v) => v.version);
      } catch (error) {
        reporter.warn(`pruning old versions of ${name} failed: ${(error as Error).message}`);
      }
    }
    return report;
  };

  /** Runs one cycle and keeps the loop's state (outage, carried changes) in order. */
  const cycle = async (
    trigger: CycleReport["trigger"],
    changed: string[],
    startedAt: number,
  ): Promise<void> => {
    const report = await runCycle(trigger, changed, startedAt);
    if (report.outcome === "abandoned") {
      summary.abandoned = true;
      reporter.cycle(report);
      return;
    }
    if (report.outcome === "unreachable") {
      carried = changed;
      if (!outage) {
        outage = { what: report.message ?? "unreachable", since: Date.now(), delayMs: 0 };
        reporter.cycle(report);
        reporter.notice(`Retrying with backoff until it answers; edits keep being collected.`);
      }
      outage.delayMs = Math.min(
        backoff.maxMs,
        outage.delayMs === 0 ? backoff.initialMs : outage.delayMs * 2,
      );
      return;
    }
    if (outage) {
      reporter.notice(
        `Reachable again after ${((Date.now() - outage.since) / 1000).toFixed(1)} s.`,
      );
      outage = undefined;
    }
    carried = [];
    reporter.cycle(report);
  };

  const retryDelay = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  try {
    reporter.notice(
      `Watching ${sourceDir} → ${name}${options.reconcile ? ` → Flux ${options.reconcile.namespace}/${options.reconcile.name}` : " (push only)"}; Ctrl-C to stop.`,
    );
    // First cycle: bring the registry (and cluster) up to the directory as it is now.
    selected = await list();
    await cycle("start", [], performance.now());

    while (!signal.aborted) {
      let batch: ChangeBatch | undefined;
      if (outage) {
        await retryDelay(outage.delayMs);
        if (signal.aborted) break;
        // Edits made meanwhile join the retry.
        batch = changes.pending ? await changes.next() : undefined;
        if (signal.aborted) break;
        const after = await list();
        const changed = batch ? relevantChanges(batch, selected, after) : [];
        selected = after;
        await cycle(
          "retry",
          [...new Set([...carried, ...changed])].sort(),
          batch?.firstAt ?? performance.now(),
        );
        continue;
      }
      batch = await changes.next();
      if (!batch) break;
      let after: Set<string>;
      try {
        after = await list();
      } catch (error) {
        reporter.warn(`cannot read ${sourceDir}: ${(error as Error).message}`);
        continue;
      }
      const changed = relevantChanges(batch, selected, after);
      selected = after;
      if (changed.length === 0) continue; // only ignored files changed
      await cycle("change", changed, batch.firstAt);
    }
    if (watcherError && !signal.aborted) {
      throw new KsailError("failed", `watching ${sourceDir} failed: ${watcherError.message}`, {
        hint: "Is the directory still there? Start `ksail workload watch` again.",
        cause: watcherError,
      });
    }
    return summary;
  } finally {
    changes.close();
    await cache?.flush();
  }
}
