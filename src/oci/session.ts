/**
 * One client's conversation with registries: scheme choice (and plain-HTTP fallback for
 * loopback/insecure hosts), auth challenges and bearer tokens, GET redirects, and retries of
 * transient failures with backoff. Operations (blobs, manifests, tags, ...) send through `call`.
 */
import { KsailError } from "../errors.js";
import {
  TokenCache,
  TokenError,
  basicAuthorization,
  fetchBearerToken,
  parseWwwAuthenticate,
  pickChallenge,
} from "./auth.js";
import type { Challenge } from "./auth.js";
import { tokenRequest } from "./token-request.js";
import type { Credential, CredentialProvider } from "./credentials.js";
import { confirmRegistry, noteRegistryAnswer } from "./api-check.js";
import {
  bodyTooLarge,
  describeFailure,
  hasRegistryErrors,
  inRepo,
  loginHint,
  networkFailure,
  redact,
} from "./errors.js";
import type { ErrorContext } from "./errors.js";
import {
  BodyTooLargeError,
  DEFAULT_MAX_RESPONSE_BYTES,
  HttpTransport,
  NetworkError,
  header,
} from "./http.js";
import type { HttpResponse } from "./http.js";
import { isLoopbackRegistry, splitHostPort } from "./reference.js";
import {
  computeBackoff,
  isRetryableStatus,
  isTransientNetworkCode,
  parseRetryAfter,
  sleep,
} from "./retry.js";
import type { RetryPolicy } from "./retry.js";

export type RegistryEvent =
  | { type: "retry"; attempt: number; delayMs: number; reason: string; url: string }
  | { type: "blob"; digest: string; size: number; result: "exists" | "mounted" | "uploaded" };

export interface SessionSettings {
  insecureRegistries: string[];
  credentials: CredentialProvider;
  policy: RetryPolicy;
  monolithicThreshold: number;
  chunkSize: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  userAgent: string;
  onEvent: ((event: RegistryEvent) => void) | undefined;
}

interface RegistryState {
  scheme: "http:" | "https:";
  /** Set once a response came back over `scheme`; no more fallback after that. */
  schemeSettled: boolean;
  /** The auth challenge learnt from the last 401, sent proactively from then on. */
  challenge?: Challenge;
  credential?: Promise<Credential | undefined>;
}

export interface Call {
  registry: string;
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** A path ("/v2/...") on the registry, or an absolute URL from a Location header. */
  target: string | URL;
  headers?: Record<string, string>;
  body?: Uint8Array;
  scopes: string[];
  ctx: ErrorContext;
  /** Retry connection errors / 429 / 5xx by re-sending. Off for PATCH (resumed instead). */
  retry?: boolean;
  /** Largest response body accepted (default DEFAULT_MAX_RESPONSE_BYTES). */
  maxBodyBytes?: number;
  /** What the limit protects, for the error: "a manifest is at most 4 MiB (like containerd)". */
  limitReason?: string;
}

/** A stalled answer (no bytes for the request timeout) is sent this many times at most. */
const STALL_ATTEMPTS = 2;

export interface CallResult extends HttpResponse {
  attempts: number;
  /** Network error codes of the attempts before this answer (re-sent after them). */
  brokenAttempts: string[];
}

export class RegistrySession {
  private readonly transport = new HttpTransport();
  private readonly states = new Map<string, RegistryState>();
  private readonly tokens = new TokenCache();
  private readonly insecure: Set<string>;
  /** Registries whose GET /v2/ answered like a registry (see confirmRegistry). */
  readonly confirmed = new Set<string>();

  constructor(readonly settings: SessionSettings) {
    this.insecure = new Set(settings.insecureRegistries.map((r) => r.toLowerCase()));
  }

  get policy(): RetryPolicy {
    return this.settings.policy;
  }

  close(): void {
    this.transport.close();
  }

  emit(event: RegistryEvent): void {
    try {
      this.settings.onEvent?.(event);
    } catch {
      // A listener's failure must not break the transfer.
    }
  }

  /**
   * The KsailError for a non-success answer, with the credential's secrets redacted. A bare
   * 404 (no registry error body) first checks that the server is a registry at all.
   */
  async fail(res: CallResult | HttpResponse, ctx: ErrorContext): Promise<KsailError> {
    if (res.status === 404 && !hasRegistryErrors(res.body)) {
      await confirmRegistry(this, ctx.registry, ctx);
    }
    let credential: Credential | undefined;
    try {
      credential = await this.credentialFor(ctx.registry);
    } catch {
      credential = undefined;
    }
    return describeFailure(res, ctx, credential, "attempts" in res ? res.attempts : 1);
  }

  /** The URL a target resolves to; for retry events and status reads. */
  endpointUrl(registry: string, target: string | URL): URL {
    const s = this.state(registry);
    if (target instanceof URL) {
      const url = new URL(target);
      // Never downgrade to plain HTTP for a host that must use TLS.
      if (url.protocol === "http:" && url.host === registry && !this.mayUsePlainHttp(registry)) {
        url.protocol = "https:";
      }
      return url;
    }
    return new URL(`${s.scheme}//${registry}${target}`);
  }

  /** One request with retries; returns the final response (any status) or throws KsailError. */
  async call(call: Call): Promise<CallResult> {
    let deadline = Date.now() + this.policy.totalTimeoutMs;
    const retry = call.retry !== false;
    let stalls = 0;
    const broken: string[] = [];
    for (let attempt = 1; ; attempt++) {
      let outcome: CallResult | NetworkError;
      const started = Date.now();
      try {
        outcome = { ...(await this.exchange(call)), attempts: attempt, brokenAttempts: broken };
        noteRegistryAnswer(this, call.registry, outcome);
      } catch (error) {
        if (error instanceof BodyTooLargeError)
          throw bodyTooLarge(error, call.registry, call.ctx, call.limitReason);
        if (!(error instanceof NetworkError)) throw error;
        outcome = error;
      }
      const transient =
        outcome instanceof NetworkError
          ? isTransientNetworkCode(outcome.code)
          : isRetryableStatus(outcome.status);
      if (isStall(outcome)) {
        // The retry budget is for backoff, not for the time spent waiting on a silent
        // registry: a stalled attempt gets one fresh try on a new connection.
        stalls++;
        deadline += Date.now() - started;
        if (stalls >= STALL_ATTEMPTS) return this.settle(outcome, call, attempt);
      }
      if (!transient || !retry || attempt >= this.policy.maxAttempts) {
        return this.settle(outcome, call, attempt);
      }
      const retryAfter =
        outcome instanceof NetworkError
          ? undefined
          : parseRetryAfter(outcome.headers["retry-after"]);
      const delayMs = retryAfter ?? computeBackoff(attempt, this.policy);
      if (Date.now() + delayMs > deadline) return this.settle(outcome, call, attempt, retryAfter);
      this.emit({
        type: "retry",
        attempt: attempt + 1,
        delayMs,
        reason: outcome instanceof NetworkError ? outcome.code : `HTTP ${outcome.status}`,
        url: stripQuery(this.endpointUrl(call.registry, call.target)),
      });
      if (outcome instanceof NetworkError) broken.push(outcome.code);
      await sleep(delayMs);
    }
  }

  private state(registry: string): RegistryState {
    let s = this.states.get(registry);
    if (!s) {
      const plainFirst = isLoopbackRegistry(registry);
      s = { scheme: plainFirst ? "http:" : "https:", schemeSettled: false };
      this.states.set(registry, s);
    }
    return s;
  }

  private mayUsePlainHttp(registry: string): boolean {
    return (
      isLoopbackRegistry(registry) ||
      this.insecure.has(registry.toLowerCase()) ||
      this.insecure.has(splitHostPort(registry).host.toLowerCase())
    );
  }

  private credentialFor(registry: string): Promise<Credential | undefined> {
    const s = this.state(registry);
    if (!s.credential) {
      s.credential = this.settings.credentials(registry);
      // A failing helper must be retried next time, not cached.
      s.credential.catch(() => {
        s.credential = undefined;
      });
    }
    return s.credential;
  }

  private settle(
    outcome: CallResult | NetworkError,
    call: Call,
    attempts: number,
    retryAfterMs?: number,
  ): CallResult {
    if (!(outcome instanceof NetworkError)) {
      if (retryAfterMs !== undefined && outcome.status === 429) {
        throw new KsailError(
          "registry",
          `${call.registry} is rate-limiting requests (HTTP 429) and asked to wait ${Math.ceil(retryAfterMs / 1000)} s, longer than the retry budget, while trying to ${call.ctx.action}${inRepo(call.ctx)}`,
          {
            code: "TOOMANYREQUESTS",
            hint: "Wait and try again, or raise the retry totalTimeoutMs.",
          },
        );
      }
      return outcome;
    }
    throw networkFailure(outcome, call.registry, call.ctx, attempts, {
      requestTimeoutMs: this.settings.requestTimeoutMs,
    });
  }

  /** Sends with auth: attaches what we know, answers one 401 challenge, follows GET redirects. */
  private async exchange(call: Call): Promise<HttpResponse> {
    let url = this.endpointUrl(call.registry, call.target);
    let authorization = await this.authorization(call, false);
    let res = await this.sendTo(call, url, authorization);
    if (res.status === 401) {
      const challenge = pickChallenge(parseWwwAuthenticate(res.headers["www-authenticate"]));
      if (challenge) {
        const s = this.state(call.registry);
        const sameChallenge =
          s.challenge?.scheme === challenge.scheme &&
          s.challenge.params.realm === challenge.params.realm;
        s.challenge = challenge;
        // Re-authorize unless we just sent a fresh basic header for the same challenge.
        if (!(sameChallenge && challenge.scheme === "basic" && authorization)) {
          authorization = await this.authorization(call, true);
          if (authorization) res = await this.sendTo(call, url, authorization);
        }
      }
    }
    for (let hops = 0; hops < 5 && isRedirect(res.status); hops++) {
      if (call.method !== "GET" && call.method !== "HEAD") break;
      const location = header(res.headers, "location");
      if (!location) break;
      const next = new URL(location, url);
      if (next.protocol === "http:" && url.protocol === "https:") break; // no TLS downgrade
      // Credentials stay with the registry: storage backends (S3 and friends) get none.
      if (next.host !== url.host) authorization = undefined;
      url = next;
      res = await this.sendTo(call, url, authorization);
    }
    return res;
  }

  private async sendTo(
    call: Call,
    url: URL,
    authorization: string | undefined,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      "user-agent": this.settings.userAgent,
      ...(call.headers ?? {}),
    };
    if (authorization && url.host === call.registry) headers.authorization = authorization;
    const s = this.state(call.registry);
    const send = (u: URL) =>
      this.transport.send({
        method: call.method,
        url: u,
        headers,
        ...(call.body !== undefined ? { body: call.body } : {}),
        timeoutMs: this.settings.requestTimeoutMs,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        maxBodyBytes: call.maxBodyBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        // Like docker: hosts allowed plain HTTP (loopback, insecure list) may also use
        // self-signed TLS; every other host gets full certificate verification.
        insecureTls: this.mayUsePlainHttp(call.registry),
      });
    const fallbackAllowed =
      !s.schemeSettled && url.host === call.registry && this.mayUsePlainHttp(call.registry);
    try {
      const res = await send(url);
      if (
        fallbackAllowed &&
        res.status === 400 &&
        /HTTP request to an HTTPS server/i.test(res.body.toString("utf8"))
      ) {
        return await this.switchScheme(s, url, send);
      }
      if (url.host === call.registry && url.protocol === s.scheme) s.schemeSettled = true;
      return res;
    } catch (error) {
      if (fallbackAllowed && error instanceof NetworkError && isProtocolMismatch(error)) {
        try {
          return await this.switchScheme(s, url, send);
        } catch (second) {
          // Neither HTTP nor TLS: keep what the server sent, to show it.
          const received = error.received ?? (second as NetworkError).received;
          if (second instanceof NetworkError && isProtocolMismatch(second) && received) {
            throw new NetworkError("ENOTHTTP", second.message, "response", second, received);
          }
          throw second;
        }
      }
      throw error;
    }
  }

  private async switchScheme(
    s: RegistryState,
    url: URL,
    send: (u: URL) => Promise<HttpResponse>,
  ): Promise<HttpResponse> {
    s.scheme = s.scheme === "http:" ? "https:" : "http:";
    const other = new URL(url);
    other.protocol = s.scheme;
    const res = await send(other);
    s.schemeSettled = true;
    return res;
  }

  /** The Authorization header for this call, from the learnt challenge; undefined = anonymous. */
  private async authorization(call: Call, refresh: boolean): Promise<string | undefined> {
    const s = this.state(call.registry);
    const challenge = s.challenge;
    if (!challenge) return undefined;
    const credential = await this.credentialFor(call.registry);
    if (challenge.scheme === "basic") {
      if (credential?.username !== undefined && credential.password !== undefined) {
        return basicAuthorization(credential.username, credential.password);
      }
      return undefined;
    }
    if (challenge.scheme !== "bearer") return undefined;
    if (credential?.registryToken) return `Bearer ${credential.registryToken}`;
    const key = TokenCache.key(call.registry, challenge, call.scopes);
    if (!refresh) {
      const cached = this.tokens.get(key);
      if (cached) return `Bearer ${cached}`;
    } else {
      this.tokens.delete(key);
    }
    try {
      const token = await fetchBearerToken(
        (req) => tokenRequest(this.transport, this.settings, call.registry, req),
        challenge,
        call.scopes,
        credential,
        { userAgent: this.settings.userAgent },
      );
      this.tokens.set(key, token);
      return `Bearer ${token.token}`;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      const refused = error.status === 401 || error.status === 403;
      throw new KsailError(
        "auth",
        redact(
          refused
            ? credential
              ? `${call.registry} refused the stored credentials (token service said HTTP ${error.status}) while trying to ${call.ctx.action}${inRepo(call.ctx)}`
              : `${call.registry} needs credentials to ${call.ctx.action}${inRepo(call.ctx)}, and none were found for it`
            : `${call.registry}: could not get an access token to ${call.ctx.action}${inRepo(call.ctx)}: ${error.message}`,
          credential,
        ),
        {
          code: error.code ?? (refused ? "UNAUTHORIZED" : "TOKEN_ERROR"),
          hint: loginHint(call.registry, credential !== undefined),
        },
      );
    }
  }
}

export function stripQuery(url: URL | string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

function isStall(outcome: CallResult | NetworkError): boolean {
  return (
    outcome instanceof NetworkError && outcome.code === "ETIMEDOUT" && outcome.phase === "response"
  );
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function isProtocolMismatch(error: NetworkError): boolean {
  return (
    error.code === "EPROTO" ||
    error.code.startsWith("ERR_SSL_") ||
    error.code.startsWith("HPE_") ||
    /wrong version number|packet length too long/i.test(error.message)
  );
}

/** "/v2/<repository>": the API root of one repository. */
export function v2(repo: { repository: string }): string {
  return `/v2/${repo.repository}`;
}

export function ctxOf(repo: { registry: string; repository: string }): {
  registry: string;
  repository: string;
} {
  return { registry: repo.registry, repository: repo.repository };
}
