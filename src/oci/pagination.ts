/** Paged JSON lists (tags, catalog): `Link: <...>; rel="next"` followed until the end. */
import { KsailError } from "../errors.js";
import { inRepo } from "./errors.js";
import type { ErrorContext } from "./errors.js";
import { header } from "./http.js";
import type { CallResult, RegistrySession } from "./session.js";

/** One page of a tag list or catalog: 8 MiB (about 300,000 short tags). */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** Names gathered over all pages, at most. */
export const MAX_LIST_ITEMS = 100_000;

/**
 * GETs `first` and follows `Link: <...>; rel="next"`. Returns false on 404 (nothing there).
 * `onPage` returns how many names it holds so far; past MAX_LIST_ITEMS the listing is refused.
 */
export async function paginate(
  session: RegistrySession,
  registry: string,
  first: string,
  scopes: string[],
  ctx: ErrorContext,
  onPage: (body: unknown) => number,
): Promise<boolean> {
  let target: string | URL = first;
  const seen = new Set<string>();
  for (let page = 0; page < 100_000; page++) {
    const res: CallResult = await session.call({
      registry,
      method: "GET",
      target,
      headers: { accept: "application/json" },
      scopes,
      ctx,
      maxBodyBytes: MAX_PAGE_BYTES,
      limitReason: "one page of a list is at most 8 MiB",
    });
    if (res.status === 404 && page === 0) return false;
    if (res.status !== 200) throw await session.fail(res, ctx);
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString("utf8"));
    } catch {
      throw new KsailError("registry", `${registry} answered ${ctx.action} with invalid JSON`);
    }
    const count = onPage(body ?? {});
    if (count > MAX_LIST_ITEMS) {
      throw new KsailError(
        "registry",
        `${registry} answered ${ctx.action}${inRepo(ctx)} with more than ${MAX_LIST_ITEMS} names; ksail stopped reading`,
        {
          code: "SIZE_EXCEEDED",
          hint: `A repository this large is unusual; check what ${registry} serves, or prune old versions.`,
        },
      );
    }
    const next = parseLinkNext(header(res.headers, "link"));
    if (!next) return true;
    const url = new URL(next, res.url);
    if (seen.has(url.href)) return true; // a registry looping its Link: stop
    seen.add(url.href);
    target = url;
  }
  return true;
}

/** Extracts the next page URL from a Link header (RFC 8288). */
export function parseLinkNext(value: string | undefined): string | undefined {
  if (!value) return undefined;
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}
