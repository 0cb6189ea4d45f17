/** Requests to a registry's token service (the Bearer realm): retried, bounded, classified. */
import { KsailError } from "../errors.js";
import { describeNetworkCode } from "./errors.js";
import { BodyTooLargeError, DEFAULT_MAX_RESPONSE_BYTES, NetworkError } from "./http.js";
import type { HttpTransport } from "./http.js";
import {
  computeBackoff,
  isRetryableStatus,
  isTransientNetworkCode,
  parseRetryAfter,
  sleep,
} from "./retry.js";
import type { SessionSettings } from "./session.js";

/** Token service requests: own retries, errors classified against the realm's host. */
export async function tokenRequest(
  transport: HttpTransport,
  settings: Pick<SessionSettings, "policy" | "requestTimeoutMs" | "connectTimeoutMs">,
  registry: string,
  req: { method: "GET" | "POST"; url: URL; headers: Record<string, string>; body?: Uint8Array },
): Promise<{ status: number; body: Buffer }> {
  const deadline = Date.now() + settings.policy.totalTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await transport.send({
        method: req.method,
        url: req.url,
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        timeoutMs: settings.requestTimeoutMs,
        connectTimeoutMs: settings.connectTimeoutMs,
        maxBodyBytes: DEFAULT_MAX_RESPONSE_BYTES,
      });
      if (!isRetryableStatus(res.status) || attempt >= settings.policy.maxAttempts) return res;
      const delayMs =
        parseRetryAfter(res.headers["retry-after"]) ?? computeBackoff(attempt, settings.policy);
      if (Date.now() + delayMs > deadline) return res;
      await sleep(delayMs);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        throw new KsailError(
          "registry",
          `the token service ${req.url.host} of registry ${registry} sent ${error.message}`,
          { code: "SIZE_EXCEEDED" },
        );
      }
      if (!(error instanceof NetworkError)) throw error;
      const delayMs = computeBackoff(attempt, settings.policy);
      if (
        !isTransientNetworkCode(error.code) ||
        attempt >= settings.policy.maxAttempts ||
        Date.now() + delayMs > deadline
      ) {
        throw new KsailError(
          "unreachable",
          `cannot reach the token service ${req.url.host} of registry ${registry} (${describeNetworkCode(error.code)} after ${attempt} attempt${attempt === 1 ? "" : "s"})`,
          { code: error.code, hint: `Check that ${req.url.host} is up and reachable.` },
        );
      }
      await sleep(delayMs);
    }
  }
}
