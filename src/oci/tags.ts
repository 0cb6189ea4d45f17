/** Tag listing (GET /v2/<name>/tags/list, paged). */
import { repositoryScope } from "./auth.js";
import { confirmRegistry } from "./api-check.js";
import { paginate } from "./pagination.js";
import type { RepositoryRef } from "./reference.js";
import { ctxOf, v2 } from "./session.js";
import type { RegistrySession } from "./session.js";

/** The repository's tags, deduplicated; [] when the repository does not exist. */
export async function listTags(
  session: RegistrySession,
  repo: RepositoryRef,
  options: { pageSize?: number } = {},
): Promise<string[]> {
  const ctx = { ...ctxOf(repo), action: "list tags" };
  const first = `${v2(repo)}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ""}`;
  const tags: string[] = [];
  const found = await paginate(
    session,
    repo.registry,
    first,
    [repositoryScope(repo.repository, ["pull"])],
    ctx,
    (body) => {
      const list = (body as { tags?: unknown }).tags;
      if (Array.isArray(list)) for (const t of list) if (typeof t === "string") tags.push(t);
      return tags.length;
    },
  );
  if (!found) await confirmRegistry(session, repo.registry, ctx);
  return found ? [...new Set(tags)] : [];
}
