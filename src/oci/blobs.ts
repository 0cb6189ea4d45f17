/** Blob reads: existence (HEAD) and download (GET) checked against the digest. */
import { KsailError } from "../errors.js";
import { repositoryScope } from "./auth.js";
import { assertDigest, digestWithAlgorithmOf } from "./digest.js";
import type { RepositoryRef } from "./reference.js";
import { ctxOf, v2 } from "./session.js";
import type { RegistrySession } from "./session.js";

export async function blobExists(
  session: RegistrySession,
  repo: RepositoryRef,
  digest: string,
): Promise<boolean> {
  assertDigest(digest);
  const ctx = { ...ctxOf(repo), action: `check blob ${digest}` };
  const res = await session.call({
    registry: repo.registry,
    method: "HEAD",
    target: `${v2(repo)}/blobs/${digest}`,
    scopes: [repositoryScope(repo.repository, ["pull"])],
    ctx,
  });
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await session.fail(res, ctx);
}

/** Without a declared size, a blob download stops past 512 MiB. */
export const DEFAULT_MAX_BLOB_BYTES = 512 * 1024 * 1024;

/**
 * Downloads a blob and checks its digest. `size` (the descriptor's) is enforced while the
 * body streams in: a registry sending more is cut off, and less fails the digest check.
 */
export async function fetchBlob(
  session: RegistrySession,
  repo: RepositoryRef,
  digest: string,
  options: { size?: number } = {},
): Promise<Buffer> {
  assertDigest(digest);
  const ctx = { ...ctxOf(repo), action: `download blob ${digest}` };
  const res = await session.call({
    registry: repo.registry,
    method: "GET",
    target: `${v2(repo)}/blobs/${digest}`,
    scopes: [repositoryScope(repo.repository, ["pull"])],
    ctx,
    maxBodyBytes: options.size ?? DEFAULT_MAX_BLOB_BYTES,
    limitReason:
      options.size !== undefined
        ? `the manifest declares blob ${digest} as ${options.size} bytes`
        : `a blob of unknown size is read up to ${DEFAULT_MAX_BLOB_BYTES / 1024 / 1024} MiB`,
  });
  if (res.status !== 200) throw await session.fail(res, ctx);
  const actual = digestWithAlgorithmOf(digest, res.body);
  if (actual !== digest) {
    throw new KsailError(
      "registry",
      `${repo.registry} sent blob ${digest} of ${repo.repository} with the wrong content (its digest is ${actual})`,
      {
        code: "DIGEST_INVALID",
        hint: "The registry's storage may be corrupt; push the blob again.",
      },
    );
  }
  return res.body;
}
