/**
 * WWW-Authenticate parsing (RFC 9110 §11.6.1) and the Docker/OCI bearer-token flow
 * (https://distribution.github.io/distribution/spec/auth/token/ and .../oauth/).
 */
import type { Credential } from "./credentials.js";

export interface Challenge {
  /** Lowercased auth scheme: "basic", "bearer", ... */
  scheme: string;
  /** Lowercased parameter names → values (quotes and escapes removed). */
  params: Record<string, string>;
  /** token68 form (e.g. `Negotiate abc==`), when used instead of parameters. */
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_RE = /^[A-Za-z0-9\-._~+/]+=*/;
const PARAM_START_RE =
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*(?:"|[!#$%&'*+\-.^_`|~0-9A-Za-z]|,|$)/;

/** Parses one or more challenges from a WWW-Authenticate value (or several header lines). */
export function parseWwwAuthenticate(value: string | string[] | undefined): Challenge[] {
  if (value === undefined) return [];
  const input = Array.isArray(value) ? value.join(", ") : value;
  const challenges: Challenge[] = [];
  let i = 0;
  const n = input.length;
  const skipWs = () => {
    while (i < n && (input[i] === " " || input[i] === "\t")) i++;
  };
  const skipWsAndCommas = () => {
    while (i < n && (input[i] === " " || input[i] === "\t" || input[i] === ",")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(input[i]!)) i++;
    return input.slice(start, i);
  };
  const readQuoted = (): string => {
    // assumes input[i] === '"'
    i++;
    let out = "";
    while (i < n && input[i] !== '"') {
      if (input[i] === "\\" && i + 1 < n) i++;
      out += input[i];
      i++;
    }
    i++; // closing quote (or end)
    return out;
  };

  while (i < n) {
    skipWsAndCommas();
    if (i >= n) break;
    const scheme = readToken();
    if (scheme === "") {
      i++; // junk character: skip it rather than loop forever
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    skipWs();
    // token68 (only directly after the scheme, and only when this is not `name=value`)
    const rest = input.slice(i);
    const t68 = TOKEN68_RE.exec(rest);
    if (t68 && !PARAM_START_RE.test(rest) && /^[ \t]*(,|$)/.test(rest.slice(t68[0].length))) {
      challenge.token68 = t68[0];
      i += t68[0].length;
      continue;
    }
    // auth-params
    for (;;) {
      skipWs();
      if (i >= n) break;
      const save = i;
      const name = readToken();
      skipWs();
      if (name === "" || input[i] !== "=") {
        i = save; // the start of the next challenge
        break;
      }
      i++; // '='
      skipWs();
      const val = input[i] === '"' ? readQuoted() : readToken();
      challenge.params[name.toLowerCase()] = val;
      skipWs();
      if (input[i] === ",") {
        i++;
        continue;
      }
      if (i < n) {
        // garbage after a value: skip to the next comma
        while (i < n && input[i] !== ",") i++;
      }
    }
  }
  return challenges;
}

/** Picks the challenge we can answer: Bearer preferred over Basic. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return (
    challenges.find((c) => c.scheme === "bearer" && c.params.realm) ??
    challenges.find((c) => c.scheme === "basic")
  );
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

/** The repository scope string of the token spec, e.g. "repository:team/app:pull,push". */
export function repositoryScope(repository: string, actions: string[]): string {
  return `repository:${repository}:${actions.join(",")}`;
}

export interface TokenHttpRequest {
  method: "GET" | "POST";
  url: URL;
  headers: Record<string, string>;
  body?: Uint8Array;
}
export interface TokenHttpResponse {
  status: number;
  body: Buffer;
}
export type TokenHttp = (req: TokenHttpRequest) => Promise<TokenHttpResponse>;

export interface BearerToken {
  token: string;
  /** ms since epoch after which the token must not be used. */
  expiresAt: number;
}

export class TokenError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = "TokenError";
    this.status = status;
    this.code = code;
  }
}

/** Minimum lifetime the spec lets a client assume when expires_in is missing. */
const DEFAULT_EXPIRES_IN_S = 60;
/** Stop using a token a little before it expires, so it does not lapse in flight. */
const EXPIRY_MARGIN_MS = 5000;

/**
 * Gets a bearer token from the challenge's realm. Identity (refresh) tokens use the OAuth2
 * POST form (grant_type=refresh_token); user name + password use GET with Basic auth;
 * no credential means an anonymous GET. Accepts `token` or `access_token`.
 */
export async function fetchBearerToken(
  send: TokenHttp,
  challenge: Challenge,
  scopes: string[],
  credential: Credential | undefined,
  options: { userAgent: string; now?: () => number },
): Promise<BearerToken> {
  const realm = challenge.params.realm;
  if (!realm) throw new TokenError(0, "the registry's Bearer challenge has no realm");
  const url = new URL(realm);
  const service = challenge.params.service;
  const allScopes =
    scopes.length > 0 ? scopes : challenge.params.scope ? [challenge.params.scope] : [];
  const headers: Record<string, string> = {
    "user-agent": options.userAgent,
    accept: "application/json",
  };
  let response: TokenHttpResponse;
  if (credential?.identityToken) {
    const form = new URLSearchParams();
    form.set("grant_type", "refresh_token");
    form.set("refresh_token", credential.identityToken);
    form.set("client_id", "ksail");
    if (service) form.set("service", service);
    if (allScopes.length > 0) form.set("scope", allScopes.join(" "));
    headers["content-type"] = "application/x-www-form-urlencoded";
    response = await send({
      method: "POST",
      url,
      headers,
      body: Buffer.from(form.toString(), "utf8"),
    });
  } else {
    if (service) url.searchParams.set("service", service);
    for (const scope of allScopes) url.searchParams.append("scope", scope);
    if (credential?.username !== undefined && credential.password !== undefined) {
      headers.authorization = basicAuthorization(credential.username, credential.password);
    }
    response = await send({ method: "GET", url, headers });
  }
  let parsed: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(response.body.toString("utf8"));
    parsed = value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    parsed = {};
  }
  if (response.status < 200 || response.status >= 300) {
    // Never echo the body: some token services repeat the request in it.
    const errors = parsed.errors as { code?: string }[] | undefined;
    const code =
      (Array.isArray(errors) && typeof errors[0]?.code === "string" ? errors[0].code : undefined) ??
      (typeof parsed.error === "string" ? parsed.error : undefined);
    throw new TokenError(
      response.status,
      `the token service ${url.origin}${url.pathname} answered HTTP ${response.status}${code ? ` (${code})` : ""}`,
      code,
    );
  }
  const token =
    (typeof parsed.token === "string" && parsed.token) ||
    (typeof parsed.access_token === "string" && parsed.access_token) ||
    "";
  if (!token) {
    throw new TokenError(
      response.status,
      `the token service ${url.origin}${url.pathname} returned no token`,
    );
  }
  const expiresIn =
    typeof parsed.expires_in === "number" && parsed.expires_in > 0
      ? parsed.expires_in
      : DEFAULT_EXPIRES_IN_S;
  const now = options.now?.() ?? Date.now();
  const issuedAt = typeof parsed.issued_at === "string" ? Date.parse(parsed.issued_at) : NaN;
  // Trust issued_at only when our clock roughly agrees; otherwise count from now.
  const base = !Number.isNaN(issuedAt) && Math.abs(issuedAt - now) < 60_000 ? issuedAt : now;
  const lifetimeMs = expiresIn * 1000;
  return {
    token,
    expiresAt: base + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2),
  };
}

/** Bearer tokens per registry + realm + service + scope set, until they expire. */
export class TokenCache {
  private readonly entries = new Map<string, BearerToken>();
  constructor(private readonly now: () => number = Date.now) {}

  static key(registry: string, challenge: Challenge, scopes: string[]): string {
    return [
      registry,
      challenge.params.realm ?? "",
      challenge.params.service ?? "",
      [...scopes].sort().join(" "),
    ].join("|");
  }

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.token;
  }

  set(key: string, token: BearerToken): void {
    this.entries.set(key, token);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
