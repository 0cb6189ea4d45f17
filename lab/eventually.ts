/**
 * Test-side polling (ksail itself watches): calls `check` until it returns true and resolves with
 * the time that took, or rejects after `timeoutMs` with `diagnose()`'s account of the system.
 */
export interface EventuallyOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Treat a throwing `check` as "not yet" (e.g. an API server that is restarting). */
  retryErrors?: boolean;
  /** What to append to the timeout error: logs, events, object states. */
  diagnose?: () => Promise<string> | string;
}

export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  options: EventuallyOptions,
): Promise<number> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now() - started;
      last = undefined;
    } catch (error) {
      if (!options.retryErrors) throw error;
      last = error;
    }
    if (Date.now() - started > options.timeoutMs) {
      const cause = last ? ` (last error: ${(last as Error).message})` : "";
      const diagnosis = options.diagnose ? `\n${await options.diagnose()}` : "";
      throw new Error(
        `${what} did not happen within ${options.timeoutMs / 1000} s${cause}${diagnosis}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
