/**
 * Saves in the images' build contexts, for `workload watch`: one watcher per context (the
 * same watcher as the source directory's, watch-changes.ts), their batches handed out as
 * absolute paths. Which of them matter (.dockerignore, .git) is ImageRebuilder.affected's call.
 */
import { join, resolve } from "node:path";
import { watchChanges, type ChangeQueue, type ChangeQueueOptions } from "./watch-changes.js";

export interface ContextBatch {
  /** Absolute paths the events named (a context directory itself when an event named none). */
  paths: string[];
  /** performance.now() of the first event of the burst. */
  firstAt: number;
}

export class ContextChanges {
  private waiting = new Map<number, Promise<{ index: number; batch: ContextBatch | undefined }>>();
  private open: boolean[];

  private constructor(
    private readonly roots: string[],
    private readonly queues: ChangeQueue[],
  ) {
    this.open = queues.map(() => true);
  }

  /** Watches each context directory. */
  static async start(contexts: string[], options: ChangeQueueOptions): Promise<ContextChanges> {
    const roots = [...new Set(contexts.map((c) => resolve(c)))];
    const queues: ChangeQueue[] = [];
    try {
      for (const root of roots) queues.push(await watchChanges(root, options));
    } catch (error) {
      await Promise.all(queues.map((q) => q.close()));
      throw error;
    }
    return new ContextChanges(roots, queues);
  }

  get pending(): boolean {
    return this.queues.some((q, i) => this.open[i] && q.pending);
  }

  /** The next batch from any context; undefined once every watcher is closed. */
  async next(): Promise<ContextBatch | undefined> {
    for (;;) {
      this.queues.forEach((queue, index) => {
        if (this.open[index] && !this.waiting.has(index)) {
          this.waiting.set(
            index,
            queue.next().then((batch) => ({
              index,
              batch: batch && {
                paths: [...batch.paths].map((p) =>
                  p === "" ? this.roots[index]! : join(this.roots[index]!, p),
                ),
                firstAt: batch.firstAt,
              },
            })),
          );
        }
      });
      if (this.waiting.size === 0) return undefined;
      const { index, batch } = await Promise.race(this.waiting.values());
      this.waiting.delete(index);
      if (batch) return batch;
      this.open[index] = false;
    }
  }

  async close(): Promise<void> {
    this.open = this.open.map(() => false);
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
