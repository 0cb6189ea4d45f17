/**
 * One object kept up to date by a watch: read once, then every change the API server pushes;
 * when the watch ends (the server's timeout, "resource version too old") it is read again and
 * watched anew. Waits (`until`) are decided on the latest state and on each later one, so
 * several waits in a row — a reconcile's, or every cycle of `workload watch` — need no new read.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { KsailError } from "../errors.js";

/** A running watch request; aborting it ends it without calling its end handler with an error. */
export interface WatchRequest {
  abort(): void;
}

/** How an ObjectWatch reads and watches its object (KubeClient.observe provides both). */
export interface ObjectFeed<T> {
  /** The object, or undefined when it does not exist. */
  read(): Promise<T | undefined>;
  /** Events from `resourceVersion` on; `onEnd` once when the request ends (null: closed). */
  watch(
    resourceVersion: string | undefined,
    onEvent: (type: string, object: T) => void,
    onEnd: (error: unknown) => void,
  ): WatchRequest;
}

export interface UntilOptions {
  timeoutMs: number;
  describeTimeout: () => string;
}

interface Waiter {
  check(): void;
  fail(error: unknown): void;
}

/** After a watch ended with an error, wait this long before reading and watching again. */
const RESTART_AFTER_ERROR_MS = 200;

export class ObjectWatch<T extends KubernetesObject> {
  private current: T | undefined;
  /** Why the watch is over (a read that failed, a request without answer, close()). */
  private failure: unknown;
  private request: WatchRequest | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<Waiter>();

  private constructor(
    private readonly feed: ObjectFeed<T>,
    private readonly what: string,
  ) {}

  /** Reads the object and starts watching it; rejects when the first read fails. */
  static async open<T extends KubernetesObject>(
    feed: ObjectFeed<T>,
    what: string,
  ): Promise<ObjectWatch<T>> {
    const watch = new ObjectWatch(feed, what);
    await watch.start();
    return watch;
  }

  /** The object as last seen (undefined: it does not exist). */
  get latest(): T | undefined {
    return this.current;
  }

  /** False once the watch is over: closed, or failed (see `until`). */
  get live(): boolean {
    return this.failure === undefined;
  }

  private async start(): Promise<void> {
    const object = await this.feed.read();
    if (!this.live) return;
    this.update(object);
    if (!this.live) return;
    this.request = this.feed.watch(
      object?.metadata?.resourceVersion,
      (type, event) => {
        // BOOKMARK carries only a resource version; ERROR a Status (the stream ends after it).
        if (type === "BOOKMARK" || type === "ERROR") return;
        this.update(type === "DELETED" ? undefined : event);
      },
      (error) => {
        this.request = undefined;
        if (!this.live) return;
        // A request that never got an answer ends the watch: that is the server's state.
        if (error instanceof KsailError && error.kind === "timeout") return this.fail(error);
        this.restartTimer = setTimeout(
          () => {
            this.restartTimer = undefined;
            this.start().catch((e: unknown) => this.fail(e));
          },
          error ? RESTART_AFTER_ERROR_MS : 0,
        );
      },
    );
  }

  private update(object: T | undefined): void {
    this.current = object;
    for (const waiter of [...this.waiters]) waiter.check();
  }

  private fail(error: unknown): void {
    if (!this.live) return;
    this.failure = error;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.request?.abort();
    this.request = undefined;
    for (const waiter of [...this.waiters]) waiter.fail(error);
  }

  /**
   * Resolves with the first value `done` returns for the latest state or a later one; rejects
   * when `done` throws, after `timeoutMs` (a timeout KsailError), or when the watch fails.
   */
  until<R>(done: (object: T | undefined) => R | undefined, options: UntilOptions): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!this.live) {
        reject(this.failure);
        return;
      }
      const finish = (error: unknown, value?: R) => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        if (error !== undefined) reject(error);
        else resolve(value as R);
      };
      const waiter: Waiter = {
        check: () => {
          try {
            const value = done(this.current);
            if (value !== undefined) finish(undefined, value);
          } catch (error) {
            finish(error);
          }
        },
        fail: (error) => finish(error),
      };
      const timer = setTimeout(
        () => finish(new KsailError("timeout", options.describeTimeout())),
        Math.max(0, options.timeoutMs),
      );
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /** Ends the watch; waits still running fail. */
  close(): void {
    this.fail(new KsailError("failed", `stopped watching ${this.what}`));
  }
}
