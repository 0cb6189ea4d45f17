/** Registry-wide reads: the API check (GET /v2/) and the repository catalog. */
import { KsailError } from "../errors.js";
import { header } from "./http.js";
import { paginate } from "./pagination.js";
import type { RegistrySession } from "./session.js";

/** Checks that `registry` serves the distribution API ("registry/2.0"). */
export async function ping(session: RegistrySession, registry: string): Promise<void> {
  const ctx = { registry, action: "check the registry API (GET /v2/)" };
  const res = await session.call({ registry, method: "GET", target: "/v2/", scopes: [], ctx });
  if (res.status !== 200) {
    if (res.status === 404) {
      throw new KsailError(
        "registry",
        `${registry} does not serve the OCI distribution API (GET /v2/ answered 404)`,
        { hint: `Check that ${registry} is a container registry and not some other web server.` },
      );
    }
    throw await session.fail(res, ctx);
  }
  const version = header(res.headers, "docker-distribution-api-version");
  if (
    version !== undefined &&
    !version
      .split(/[\s,]+/)
      .map((v) => v.toLowerCase())
      .includes("registry/2.0")
  ) {
    throw new KsailError(
      "registry",
      `${registry} speaks registry API "${version}", ksail needs "registry/2.0"`,
      { code: "UNSUPPORTED" },
    );
  }
}

/** Every repository of the registry (GET /v2/_catalog, paged). */
export async function catalog(
  session: RegistrySession,
  registry: string,
  options: { pageSize?: number } = {},
): Promise<string[]> {
  const ctx = { registry, action: "list repositories (catalog)" };
  const n = options.pageSize ?? 1000;
  const names: string[] = [];
  const found = await paginate(
    session,
    registry,
    `/v2/_catalog?n=${n}`,
    ["registry:catalog:*"],
    ctx,
    (body) => {
      const list = (body as { repositories?: unknown }).repositories;
      if (Array.isArray(list)) for (const r of list) if (typeof r === "string") names.push(r);
    },
  );
  if (!found) {
    throw new KsailError("not-found", `${registry} does not offer a catalog (/v2/_catalog)`, {
      code: "UNSUPPORTED",
    });
  }
  return [...new Set(names)];
}
