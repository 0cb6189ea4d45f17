/**
 * Is this a registry at all? GET /v2/ is the distribution API's root: a registry answers 200
 * (usually with Docker-Distribution-API-Version) or 401 with an auth challenge. A plain web
 * server answers 404 or an HTML page, and must not pass for "a registry with no versions".
 */
import { KsailError } from "../errors.js";
import type { ErrorContext } from "./errors.js";
import { inRepo } from "./errors.js";
import { header } from "./http.js";
import type { HttpResponse } from "./http.js";
import type { RegistrySession } from "./session.js";

/** Checks that `registry` serves the distribution API ("registry/2.0"). */
export async function ping(session: RegistrySession, registry: string): Promise<void> {
  const ctx = { registry, action: "check the registry API (GET /v2/)" };
  const res = await getApiRoot(session, registry, ctx);
  if (isServerTrouble(res.status)) throw await session.fail(res, ctx);
  if (!looksLikeRegistry(res)) throw notARegistry(res, ctx);
  if (res.status !== 200) throw await session.fail(res, ctx);
  const version = header(res.headers, "docker-distribution-api-version");
  if (version !== undefined && !speaksRegistryApi(version)) {
    throw new KsailError(
      "registry",
      `${registry} speaks registry API "${version}", ksail needs "registry/2.0"`,
      { code: "UNSUPPORTED" },
    );
  }
  session.confirmed.add(registry);
}

/**
 * Before a 404 is taken to mean "nothing there": throws NOT_A_REGISTRY unless GET /v2/ answers
 * like a registry. Asked once per registry and client.
 */
export async function confirmRegistry(
  session: RegistrySession,
  registry: string,
  ctx: ErrorContext,
): Promise<void> {
  if (session.confirmed.has(registry)) return;
  const res = await getApiRoot(session, registry, ctx);
  if (isServerTrouble(res.status)) throw await session.fail(res, ctx);
  if (!looksLikeRegistry(res)) throw notARegistry(res, ctx);
  session.confirmed.add(registry);
}

/**
 * Any answer of the registry host itself that names the distribution API
 * (Docker-Distribution-API-Version: registry/2.0, which distribution and most registries send on
 * every response) says as much as GET /v2/ would: later 404s need no API check of their own.
 */
export function noteRegistryAnswer(
  session: RegistrySession,
  registry: string,
  res: HttpResponse,
): void {
  if (session.confirmed.has(registry) || res.url.host !== registry) return;
  if (speaksRegistryApi(header(res.headers, "docker-distribution-api-version"))) {
    session.confirmed.add(registry);
  }
}

function speaksRegistryApi(version: string | undefined): boolean {
  return (
    version !== undefined &&
    version
      .split(/[\s,]+/)
      .map((v) => v.toLowerCase())
      .includes("registry/2.0")
  );
}

/** 5xx and 429 say the server is in trouble, not what it is. */
function isServerTrouble(status: number): boolean {
  return status >= 500 || status === 429;
}

function getApiRoot(session: RegistrySession, registry: string, ctx: ErrorContext) {
  return session.call({
    registry,
    method: "GET",
    target: "/v2/",
    scopes: [],
    ctx,
    maxBodyBytes: 64 * 1024,
    limitReason: "the API root of a registry (GET /v2/) answers a few bytes",
  });
}

function looksLikeRegistry(res: HttpResponse): boolean {
  if (header(res.headers, "docker-distribution-api-version") !== undefined) return true;
  if (res.status === 401) return header(res.headers, "www-authenticate") !== undefined;
  if (res.status !== 200) return false;
  // Registries that leave the version header out still answer JSON ("{}").
  const type = header(res.headers, "content-type")?.toLowerCase() ?? "";
  if (type.includes("html")) return false;
  try {
    JSON.parse(res.body.toString("utf8") || "{}");
    return true;
  } catch {
    return false;
  }
}

function notARegistry(res: HttpResponse, ctx: ErrorContext): KsailError {
  const type = header(res.headers, "content-type")?.split(";")[0]?.trim();
  const server = header(res.headers, "server");
  const what = [type, server ? `Server: ${server}` : undefined].filter(Boolean).join(", ");
  return new KsailError(
    "registry",
    `${ctx.registry} is not an OCI registry: GET /v2/ answered HTTP ${res.status}${what ? ` (${what})` : ""} while trying to ${ctx.action}${inRepo(ctx)}`,
    {
      code: "NOT_A_REGISTRY",
      hint: `Check the registry address: ${ctx.registry} serves something else (a web server?). A registry answers GET /v2/ with 200 or 401.`,
    },
  );
}
