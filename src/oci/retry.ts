/** Retry timing: backoff with jitter, Retry-After parsing and what counts as transient. */

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** Upper bound of one backoff delay (before jitter). */
  maxDelayMs: number;
  /** No new attempt starts (and no delay is slept) past this long after the first attempt. */
  totalTimeoutMs: number;
}

/**
 * Defaults: a stopped registry (connection refused) fails after ~0.4-0.8 s of backoff in total,
 * far inside SC-005's 5 s, while four retries ride out intermittent resets and short 5xx spells.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 2000,
  totalTimeoutMs: 4000,
};

/**
 * "Equal jitter" exponential backoff: for retry number `attempt` (1 = the delay after the first
 * failure) the cap is min(maxDelay, base * 2^(attempt-1)) and the delay is uniform in
 * [cap/2, cap]. Half the cap keeps a floor (no hot loop), the random half spreads clients apart.
 */
export function computeBackoff(
  attempt: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  random: () => number = Math.random,
): number {
  const exp = Math.min(Math.max(attempt, 1) - 1, 30);
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exp);
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * Parses Retry-After: delta-seconds or an HTTP-date. Returns milliseconds (>= 0), or undefined
 * when the header is absent or malformed.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date starts with the day name; "1.5", "-3", "10s" are not valid either way.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Node error codes of connection-level failures worth another attempt. */
const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "UND_ERR_SOCKET",
]);

export function isTransientNetworkCode(code: string | undefined): boolean {
  return code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
}

/** 429 and 5xx except those that will not change on their own (501, 505). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
