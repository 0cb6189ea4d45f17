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
import type { ReconcileTarget } from "../flux/reconcile.js";
import type { KubeClient } from "../k8s/client.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import type { SecretsPolicy } from "../validate/secrets.js";
import type { SigningKey } from "../sign/keys.js";
import type { SignatureFormat } from "./verify.js";
import type { ValidationCache } from "../validate/cache.js";
import type { FastObject } from "../validate/fast-objects.js";
import type { ImageRebuilder } from "../images/rebuild.js";
import { ContextChanges, type ContextBatch } from "./watch-contexts.js";
import { CycleRunner, type CycleReport } from "./watch-cycle.js";
import {
  EDITOR_TEMP_PATTERNS,
  relevantChanges,
  SeenFiles,
  watchChanges,
  type ChangeBatch,
  type ChangeQueue,
} from "./watch-changes.js";

export type { CycleOutcome, CycleReport } from "./watch-cycle.js";

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
  /**
   * How messages name the source directory (relative to where ksail runs, e.g. "k8s"), so that
   * validation positions read `k8s/cm.yaml:6:12` as push prints them. Default: sourceDir.
   */
  displayDir?: string;
  /** Extra ignore patterns (as `workload push --ignore`); editor temp files are added. */
  ignore?: string[];
  debounceMs?: number;
  /** Make Flux fetch and apply each pushed version; without it the loop only pushes. */
  reconcile?: ReconcileTarget & { timeoutMs: number };
  /** After a cycle that pushed a new version, delete all but the newest N versions. */
  pruneKeep?: number;
  /** Sign every pushed version (an unchanged one too, if unsigned) before Flux fetches it. */
  signingKey?: SigningKey;
  /**
   * spec.images: their contexts are watched too; a cycle builds the images whose context
   * changed and pins every image's digest in the version (see images/rebuild.ts).
   */
  images?: ImageRebuilder;
  /** The secrets guard's policy, as `workload push` takes it (validate/secrets.ts). */
  secrets?: SecretsPolicy;
  /** The signing key's format (default: the signer's, "bundle"). */
  signatureFormat?: SignatureFormat | undefined;
  /** Ends the loop (Ctrl-C). */
  signal: AbortSignal;
  /** How long an abort waits for a running push before abandoning it. Default 5 s. */
  abortGraceMs?: number;
  /** Retry delays while the registry or API server is unreachable. */
  backoff?: { initialMs: number; maxMs: number };
}

export interface WatchReporter {
  /** One finished cycle. */
  cycle(report: CycleReport): void;
  /** Status lines: watching started, outage began / ended, directory gone / back, stopping. */
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

/**
 * Where the loop is: waiting for saves, or retrying through an outage (with the changes of the
 * cycles that failed for it, carried into the retry).
 */
type LoopState =
  { kind: "watching" } | { kind: "outage"; since: number; delayMs: number; carried: string[] };

/** The work for the next cycle, or undefined when there is none (only ignored files changed). */
interface Work {
  trigger: CycleReport["trigger"];
  changed: string[];
  /** performance.now() of the save (the first event of the burst), or of the retry. */
  startedAt: number;
  /** Changed paths in image contexts (absolute). */
  imagePaths?: string[];
}

/**
 * The validation memo while watching: in memory only (no cache file rewritten on every save),
 * and holding the entries of the last two validations — the tree as it is and as it was one
 * save before — not one entry per content ever saved: a session edits the same files hundreds
 * of times, and the older contents will not come back. `flush` hands them to the cache file.
 */
export function watchMemo(cache: ValidationCache): ValidationCache & { flush(): Promise<void> } {
  let current = new Map<string, FastObject[]>();
  let previous = new Map<string, FastObject[]>();
  return {
    scope: (root) => cache.scope(root),
    get: (digest) => {
      const found = current.get(digest) ?? previous.get(digest) ?? cache.get(digest);
      if (found !== undefined) current.set(digest, found);
      return found;
    },
    set: (digest, objects) => {
      current.set(digest, objects);
    },
    // Called once per validation (push.ts): the validation just done becomes "one save before".
    save: async () => {
      previous = current;
      current = new Map();
    },
    flush: async () => {
      for (const [digest, objects] of [...previous, ...current]) cache.set(digest, objects);
      await cache.save();
    },
  };
}

/** The error of a read whose file is gone (removed or renamed since it was listed). */
const isVanished = (message: string | undefined) => /^ENOENT: /.test(message ?? "");

/** A delay that an abort ends early. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The file side of the loop: which files the artifact takes, and which of them a batch changed. */
class Selection {
  private selected = new Set<string>();
  private readonly seen: SeenFiles;

  constructor(
    private readonly sourceDir: string,
    private readonly ignore: string[],
  ) {
    this.seen = new SeenFiles(sourceDir);
  }

  private async list(): Promise<Set<string>> {
    const { files } = await listSourceFiles(this.sourceDir, { ignore: this.ignore });
    return new Set(files.map((f) => f.path));
  }

  async start(): Promise<void> {
    this.selected = await this.list();
  }

  /**
   * The artifact's files the batch changed: none when only ignored files changed, or only the
   * rest of a save the last cycle took already (see SeenFiles). Remembers what it hands out.
   */
  async changedBy(paths: Set<string>): Promise<string[]> {
    const after = await this.list();
    const relevant = relevantChanges({ paths, firstAt: 0 }, this.selected, after);
    this.selected = after;
    if (relevant.length === 0) return [];
    if ((await this.seen.differing(relevant)).length === 0) return [];
    await this.seen.take(relevant);
    return relevant;
  }
}

/** The loop: waits for work, runs a cycle, and keeps its state (watching / outage) in order. */
class WatchLoop {
  private state: LoopState = { kind: "watching" };
  /** The queues' next() calls in flight (each queue takes one at a time). */
  private sourceNext: Promise<ChangeBatch | undefined> | undefined;
  private contextNext: Promise<ContextBatch | undefined> | undefined;

  constructor(
    private readonly changes: ChangeQueue,
    private readonly selection: Selection,
    private readonly cycles: CycleRunner,
    private readonly reporter: WatchReporter,
    private readonly signal: AbortSignal,
    private readonly backoff: { initialMs: number; maxMs: number },
    private readonly sourceDir: string,
    private contexts?: { changes: ContextChanges; images: ImageRebuilder },
  ) {}

  /** The source directory's next batch (taking over a call already in flight). */
  private nextSource(): Promise<ChangeBatch | undefined> {
    const next = this.sourceNext ?? this.changes.next();
    this.sourceNext = undefined;
    return next;
  }

  /** Runs until the signal aborts or the watcher ends; true if a cycle was cut short. */
  async run(): Promise<boolean> {
    // First cycle: bring the registry (and cluster) up to the directory as it is now.
    await this.selection.start();
    if (await this.settle(await this.cycles.run("start", [], performance.now()))) return true;
    while (!this.signal.aborted) {
      const work = this.state.kind === "outage" ? await this.retry() : await this.save();
      if (work === "end") break;
      if (!work) continue;
      const report = await this.cycles.run(
        work.trigger,
        work.changed,
        work.startedAt,
        work.imagePaths,
      );
      if (await this.settle(report)) return true;
    }
    return false;
  }

  /** Waits for the next save that changes the artifact. */
  private async save(): Promise<Work | "end" | undefined> {
    if (this.contexts) {
      // Whichever comes first: a save in the source directory or in an image's context.
      this.sourceNext ??= this.changes.next();
      this.contextNext ??= this.contexts.changes.next();
      const first = await Promise.race([
        this.sourceNext.then(() => "source" as const),
        this.contextNext.then(() => "context" as const),
      ]);
      if (first === "context") {
        const batch = await this.contextNext;
        this.contextNext = undefined;
        if (!batch) {
          this.contexts = undefined; // the context watchers ended; the source goes on
          return undefined;
        }
        try {
          if ((await this.contexts.images.stale(batch.paths)).length === 0) return undefined;
        } catch (error) {
          // The build reports it (e.g. a context or Dockerfile that went away).
          this.reporter.warn(`cannot read an image context: ${(error as Error).message}`);
        }
        return {
          trigger: "change",
          changed: [],
          startedAt: batch.firstAt,
          imagePaths: batch.paths,
        };
      }
    }
    const batch = await this.nextSource();
    if (!batch) return "end";
    try {
      const changed = await this.selection.changedBy(batch.paths);
      return changed.length === 0
        ? undefined
        : { trigger: "change", changed, startedAt: batch.firstAt };
    } catch (error) {
      this.reporter.warn(`cannot read ${this.sourceDir}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** During an outage: waits out the backoff, then retries with the edits made meanwhile. */
  private async retry(): Promise<Work | "end"> {
    const outage = this.state as Extract<LoopState, { kind: "outage" }>;
    await delay(outage.delayMs, this.signal);
    if (this.signal.aborted) return "end";
    const batch = this.changes.pending ? await this.nextSource() : undefined;
    if (this.signal.aborted) return "end";
    const changed = batch ? await this.selection.changedBy(batch.paths) : [];
    return {
      trigger: "retry",
      changed: [...new Set([...outage.carried, ...changed])].sort(),
      startedAt: batch?.firstAt ?? performance.now(),
    };
  }

  /** Reports a finished cycle and moves the state on; true if the cycle was abandoned. */
  private async settle(report: CycleReport): Promise<boolean> {
    // A file went away while the push read it (a tool's temp file renamed over its target): the
    // save is not over, and its events are waiting — the next cycle takes the directory as it is.
    if (report.outcome === "failed" && this.changes.pending && isVanished(report.message)) {
      return false;
    }
    if (report.outcome === "abandoned") {
      this.reporter.cycle(report);
      return true;
    }
    if (report.outcome === "unreachable") {
      const previous = this.state.kind === "outage" ? this.state : undefined;
      if (!previous) {
        this.reporter.cycle(report);
        this.reporter.notice(`Retrying with backoff until it answers; edits keep being collected.`);
      }
      const delayMs = previous
        ? Math.min(this.backoff.maxMs, previous.delayMs * 2)
        : this.backoff.initialMs;
      this.state = {
        kind: "outage",
        since: previous?.since ?? Date.now(),
        delayMs,
        carried: report.changed,
      };
      return false;
    }
    if (this.state.kind === "outage") {
      const seconds = (Date.now() - this.state.since) / 1000;
      this.reporter.notice(`Reachable again after ${seconds.toFixed(1)} s.`);
    }
    this.state = { kind: "watching" };
    this.reporter.cycle(report);
    return false;
  }
}

export async function watchWorkload(
  deps: WatchDeps,
  options: WatchInput,
  reporter: WatchReporter,
): Promise<WatchSummary> {
  const { signal, sourceDir } = options;
  if (options.reconcile && !deps.kube) {
    throw new KsailError("usage", "watch: reconciling needs a cluster connection (deps.kube)");
  }
  const ignore = [...(options.ignore ?? []), ...EDITOR_TEMP_PATTERNS];
  const cache = deps.validationCache ? watchMemo(deps.validationCache) : undefined;
  const name = formatRepository(options.repository);

  let watcherError: Error | undefined;
  const changes = await watchChanges(sourceDir, {
    debounceMs: options.debounceMs ?? DEFAULT_DEBOUNCE_MS,
    onError: (error) => (watcherError = error),
    onNotice: (line) => reporter.notice(line),
  });
  const contextChanges = options.images
    ? await ContextChanges.start(options.images.contexts, {
        debounceMs: options.debounceMs ?? DEFAULT_DEBOUNCE_MS,
        onError: (error) => reporter.warn(`watching an image context failed: ${error.message}`),
        onNotice: (line) => reporter.notice(line),
      })
    : undefined;
  signal.addEventListener("abort", () => void changes.close(), { once: true });
  signal.addEventListener("abort", () => void contextChanges?.close(), { once: true });
  const cycles = new CycleRunner({
    ...deps,
    ...(cache ? { validationCache: cache } : {}),
    repository: options.repository,
    sourceDir,
    ...(options.displayDir === undefined ? {} : { displayDir: options.displayDir }),
    ignore,
    ...(options.reconcile ? { reconcile: options.reconcile } : {}),
    ...(options.pruneKeep === undefined ? {} : { pruneKeep: options.pruneKeep }),
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    ...(options.images ? { images: options.images } : {}),
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.signatureFormat ? { signatureFormat: options.signatureFormat } : {}),
    signal,
    abortGraceMs: options.abortGraceMs ?? 5000,
    warn: (line) => reporter.warn(line),
  });
  const loop = new WatchLoop(
    changes,
    new Selection(sourceDir, ignore),
    cycles,
    reporter,
    signal,
    options.backoff ?? { initialMs: 500, maxMs: 10_000 },
    sourceDir,
    contextChanges && options.images
      ? { changes: contextChanges, images: options.images }
      : undefined,
  );

  try {
    reporter.notice(
      `Watching ${options.displayDir ?? sourceDir} → ${name}${options.reconcile ? ` → Flux ${options.reconcile.namespace}/${options.reconcile.name}` : " (push only)"}; Ctrl-C to stop.`,
    );
    const abandoned = await loop.run();
    if (isKsailError(watcherError) && !signal.aborted) throw watcherError;
    if (watcherError && !signal.aborted) {
      throw new KsailError("failed", `watching ${sourceDir} failed: ${watcherError.message}`, {
        cause: watcherError,
      });
    }
    return {
      cycles: cycles.cycles,
      pushed: cycles.pushed,
      ...(cycles.lastVersion ? { lastVersion: cycles.lastVersion } : {}),
      abandoned,
    };
  } finally {
    cycles.close();
    await changes.close();
    await contextChanges?.close();
    await cache?.flush();
  }
}
