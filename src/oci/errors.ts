/**
 * What a failed registry exchange means to a person: HTTP answers and network failures become
 * KsailErrors with the documented kind (exit code), the registry's own error codes, a hint, and
 * no secret of the credential used.
 */
import { KsailError } from "../errors.js";
import type { ErrorKind } from "../errors.js";
import type { Credential } from "./credentials.js";
import type { BodyTooLargeError, HttpResponse, NetworkError } from "./http.js";
import { header } from "./http.js";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "../config/settings.js";
import { formatDuration } from "../util/duration.js";
import { splitHostPort } from "./reference.js";

export interface ErrorContext {
  registry: string;
  repository?: string;
  /** What we tried, as a verb phrase: "push blob sha256:…", "list tags". */
  action: string;
}

interface RegistryErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

export function inRepo(ctx: ErrorContext): string {
  return ctx.repository ? ` in repository ${ctx.repository}` : "";
}

/** Turns a non-success answer into a KsailError a person can act on. */
export function describeFailure(
  res: HttpResponse,
  ctx: ErrorContext,
  credential: Credential | undefined,
  attempts = 1,
): KsailError {
  const errors = parseErrorBody(res.body);
  const first = errors[0];
  const status = res.status;
  const where = `${ctx.registry}${ctx.repository ? `/${ctx.repository}` : ""}`;
  const said = first ? `: ${first.code}${first.message ? ` (${first.message})` : ""}` : "";
  const details = errors.map((e) => `${e.code}: ${e.message}${detailText(e.detail)}`);
  let kind: ErrorKind = "registry";
  let code = first?.code;
  let message: string;
  let hint: string | undefined;
  if (status === 401) {
    kind = "auth";
    code ??= "UNAUTHORIZED";
    message = credential
      ? `${ctx.registry} refused the credentials ksail sent to ${ctx.action}${inRepo(ctx)} (HTTP 401${said})`
      : `${ctx.registry} requires authentication to ${ctx.action}${inRepo(ctx)}, and no credentials were found for it (HTTP 401${said})`;
    hint = loginHint(ctx.registry, credential !== undefined);
  } else if (status === 403) {
    kind = "auth";
    code ??= "DENIED";
    message = `${ctx.registry} denied permission to ${ctx.action}${inRepo(ctx)} (HTTP 403${said})`;
    hint = `The credentials for ${ctx.registry} were accepted but do not allow this; use an account with access to ${where}, or log in with \`docker login ${ctx.registry}\`.`;
  } else if (status === 404) {
    kind = "not-found";
    code ??= "NOT_FOUND";
    message = `${where}: not found while trying to ${ctx.action} (HTTP 404${said})`;
    if (code === "NAME_UNKNOWN")
      hint = `The repository ${where} does not exist (yet); push to it first.`;
  } else if (status === 405 && readOnly(res)) {
    // distribution in maintenance mode (storage.maintenance.readonly) routes writes nowhere.
    code ??= "UNSUPPORTED";
    message = `${ctx.registry} is read-only right now and refused to ${ctx.action}${inRepo(ctx)} (HTTP 405; it allows only ${header(res.headers, "allow")})`;
    hint =
      "The registry is in maintenance mode — ksail's local registry is while `ksail workload prune` or `ksail registry gc` collects garbage, a few seconds. Run the command again when it is done.";
  } else if (status === 405 || code === "UNSUPPORTED") {
    code ??= "UNSUPPORTED";
    message = `${ctx.registry} does not support the request to ${ctx.action}${inRepo(ctx)} (HTTP ${status}${said})`;
    if (ctx.action.startsWith("delete")) {
      message = `${ctx.registry} refused to ${ctx.action}${inRepo(ctx)}: deletion is disabled on this registry (HTTP ${status}${said})`;
      hint =
        "Enable deletes on the registry: set REGISTRY_STORAGE_DELETE_ENABLED=true in its environment (or storage.delete.enabled: true in its config.yml) and restart it.";
    }
  } else if (status >= 500 || status === 429) {
    code ??= status === 429 ? "TOOMANYREQUESTS" : `HTTP_${status}`;
    message = `${ctx.registry} failed to ${ctx.action}${inRepo(ctx)}: HTTP ${status}${said}${attempts > 1 ? ` (after ${attempts} attempts)` : ""}`;
    hint = `The registry itself is in trouble (its logs say why); try again later.`;
    if (status === 507 || /disk|space|no space/i.test(res.body.toString("utf8").slice(0, 2000))) {
      hint = `The registry's storage may be full; free space on ${ctx.registry} (delete old versions and run its garbage collector).`;
    }
  } else {
    code ??= `HTTP_${status}`;
    message = `${ctx.registry} rejected the request to ${ctx.action}${inRepo(ctx)} (HTTP ${status}${said})`;
    hint = codeHint(code, where);
  }
  return new KsailError(kind, redact(message, credential), {
    code,
    ...(hint ? { hint: redact(hint, credential) } : {}),
    details: details.map((d) => redact(d, credential)),
  });
}

/** A 405 whose Allow header names only reads: the registry takes no writes at all right now. */
function readOnly(res: HttpResponse): boolean {
  const allow = header(res.headers, "allow");
  return allow !== undefined && /^\s*GET\s*,\s*HEAD\s*$/i.test(allow);
}

/** True when the body carries the distribution API's `{"errors": [...]}`. */
export function hasRegistryErrors(body: Buffer): boolean {
  return parseErrorBody(body).length > 0;
}

function parseErrorBody(body: Buffer): RegistryErrorBody[] {
  if (body.byteLength === 0 || body.byteLength > 1_000_000) return [];
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors
      .filter(
        (e): e is { code: string; message?: unknown; detail?: unknown } =>
          typeof (e as { code?: unknown })?.code === "string",
      )
      .map((e) => ({
        code: e.code,
        message: typeof e.message === "string" ? e.message : "",
        detail: e.detail,
      }));
  } catch {
    return [];
  }
}

function detailText(detail: unknown): string {
  if (detail === undefined || detail === null || detail === "") return "";
  const text = typeof detail === "string" ? detail : JSON.stringify(detail);
  return ` [${text.slice(0, 300)}]`;
}

function codeHint(code: string, where: string): string | undefined {
  switch (code) {
    case "MANIFEST_BLOB_UNKNOWN":
      return `The manifest references a blob that ${where} does not have; push every blob (config and layers) before the manifest.`;
    case "BLOB_UNKNOWN":
      return `A blob is missing in ${where}; push it first.`;
    case "MANIFEST_INVALID":
    case "MANIFEST_UNVERIFIED":
      return "The registry did not accept the manifest's content or media type.";
    case "DIGEST_INVALID":
      return "What arrived did not match its digest; the data was corrupted on the way. Try again.";
    case "NAME_INVALID":
      return "Repository names are lowercase letters, digits and separators (., _, __, -), with / between parts.";
    case "TAG_INVALID":
      return "Tags are up to 128 letters, digits, _, . and -, not starting with . or -.";
    default:
      return undefined;
  }
}

export function loginHint(registry: string, hadCredentials: boolean): string {
  return hadCredentials
    ? `Check the user name and password (or token) stored for ${registry}, then run \`docker login ${registry}\` again.`
    : `Log in with \`docker login ${registry}\` (ksail reads ~/.docker/config.json, $DOCKER_CONFIG and docker credential helpers).`;
}

export function describeNetworkCode(code: string): string {
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "EPIPE":
      return "connection closed while sending";
    case "ETIMEDOUT":
      return "timed out";
    case "ENOTFOUND":
      return "host name not found";
    case "EAI_AGAIN":
      return "DNS lookup failed";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "no route to host";
    default:
      return code;
  }
}

/** A failure below HTTP (refused, reset, DNS, TLS, timeout) after `attempts` tries. */
export function networkFailure(
  error: NetworkError,
  registry: string,
  ctx: ErrorContext,
  attempts: number,
  limits: { requestTimeoutMs: number } = { requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS },
): KsailError {
  const { host } = splitHostPort(registry);
  const address = registry;
  const tries = `${attempts} attempt${attempts === 1 ? "" : "s"}`;
  const what = describeNetworkCode(error.code);
  if (error.code === "ENOTFOUND") {
    return new KsailError(
      "unreachable",
      `cannot reach the registry at ${address}: host name "${host}" not found (DNS) while trying to ${ctx.action}${inRepo(ctx)} — is the registry address right?`,
      { code: error.code, hint: `Check the spelling of "${host}" and your DNS settings.` },
    );
  }
  if (error.code === "ENOTHTTP" && error.received) {
    return new KsailError(
      "registry",
      `${address} is not an OCI registry: it answered neither HTTP nor TLS while trying to ${ctx.action}${inRepo(ctx)}; it sent ${printable(error.received)}`,
      {
        code: "NOT_A_REGISTRY",
        hint: `Another program listens on ${address}; check the registry address and port.`,
      },
    );
  }
  if (
    error.code.startsWith("ERR_TLS") ||
    error.code.includes("CERT") ||
    error.code === "EPROTO" ||
    error.code.startsWith("ERR_SSL")
  ) {
    return new KsailError(
      "unreachable",
      `TLS connection to the registry at ${address} failed (${error.code}) while trying to ${ctx.action}${inRepo(ctx)}`,
      {
        code: error.code,
        hint: `If ${address} serves plain HTTP or a self-signed certificate, list it as an insecure registry.`,
      },
    );
  }
  if (error.code === "ETIMEDOUT" && error.phase === "response") {
    return new KsailError(
      "timeout",
      `the registry at ${address} stopped answering (${error.message}) while trying to ${ctx.action}${inRepo(ctx)}, after ${tries}`,
      {
        code: error.code,
        hint: `Check that the registry at ${address} is healthy, or allow it more time without data than ${formatDuration(limits.requestTimeoutMs)}: --request-timeout 2m or KSAIL_REQUEST_TIMEOUT=2m.`,
      },
    );
  }
  return new KsailError(
    "unreachable",
    `cannot reach the registry at ${address} (${what} after ${tries}) while trying to ${ctx.action}${inRepo(ctx)} — is the registry running?`,
    {
      code: error.code,
      hint: `Start the registry (for the local one: \`ksail up\`) or check that ${address} is the right address.`,
    },
  );
}

/** The first bytes a server sent, quoted, with anything unprintable as \xNN. */
export function printable(bytes: Buffer, max = 48): string {
  let out = "";
  for (const b of bytes.subarray(0, max)) {
    if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `"${out}"${bytes.length > max ? "…" : ""} (first ${Math.min(bytes.length, max)} bytes)`;
}

/** The registry sent (or announced) more than a request allows; nothing more was read. */
export function bodyTooLarge(
  error: BodyTooLargeError,
  registry: string,
  ctx: ErrorContext,
  limitReason: string | undefined,
): KsailError {
  const limit = formatBytes(error.limit);
  const sent =
    error.declared === undefined
      ? `more than ${limit}`
      : `${formatBytes(error.declared)} (announced), more than ${limit}`;
  return new KsailError(
    "registry",
    `${registry} answered the request to ${ctx.action}${inRepo(ctx)} with ${sent}; ksail stopped reading${limitReason ? `: ${limitReason}` : ""}`,
    {
      code: "SIZE_EXCEEDED",
      hint: `The registry at ${registry} is broken or hostile; check what it serves before trusting it.`,
    },
  );
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 / 1024 / 1024).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Removes any secret of `credential` from text the registry or we produced. */
export function redact(text: string, credential: Credential | undefined): string {
  if (!credential) return text;
  let out = text;
  for (const secret of [credential.password, credential.identityToken, credential.registryToken]) {
    if (secret && secret.length >= 3) out = out.split(secret).join("***");
  }
  if (credential.username !== undefined && credential.password !== undefined) {
    const basic = Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
    out = out.split(basic).join("***");
  }
  return out;
}
