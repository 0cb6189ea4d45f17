/** The repository catalog (GET /v2/_catalog, paged). */
import { KsailError } from "../errors.js";
import { confirmRegistry } from "./api-check.js";
import { paginate } from "./pagination.js";
import type { RegistrySession } from "./session.js";

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
      return names.length;
    },
  );
  if (!found) {
    await confirmRegistry(session, registry, ctx);
    throw new KsailError("not-found", `${registry} does not offer a catalog (/v2/_catalog)`, {
      code: "UNSUPPORTED",
    });
  }
  return [...new Set(names)];
}
