/**
 * Blob upload: existence check, cross-repository mount, monolithic POST + PUT for small blobs,
 * PATCH chunks for large ones with resume from the registry's Range after a failure, and a
 * fresh session when the registry lost the upload. The returned digest is checked. A blob comes
 * from memory or from a file; a file is read one chunk (or one monolithic body) at a time.
 */
import { open, stat } from "node:fs/promises";
import { KsailError } from "../errors.js";
import { repositoryScope } from "./auth.js";
import { blobExists } from "./blobs.js";
import { assertDigest, digestWithAlgorithmOf } from "./digest.js";
import type { ErrorContext } from "./errors.js";
import { header } from "./http.js";
import type { HttpResponse } from "./http.js";
import type { RepositoryRef } from "./reference.js";
import { computeBackoff, isRetryableStatus, sleep } from "./retry.js";
import { ctxOf, stripQuery, v2 } from "./session.js";
import type { CallResult, RegistrySession } from "./session.js";

/** A blob in memory (`data`) or in a file (`file`, read chunk by chunk while uploading). */
export type Blob =
  | { digest: string; size: number; data: Uint8Array }
  | { digest: string; size: number; file: string };

/**
 * The bytes [start, end) of a blob. A file's bytes go into `scratch` when given (it must hold
 * them): one buffer for every chunk of an upload, instead of a new one per chunk that the
 * collector frees only much later.
 */
async function readRange(
  blob: Blob,
  start: number,
  end: number,
  scratch?: Buffer,
): Promise<Uint8Array> {
  if ("data" in blob) return blob.data.subarray(start, end);
  const handle = await open(blob.file, "r");
  try {
    const buffer = scratch?.subarray(0, end - start) ?? Buffer.allocUnsafe(end - start);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(
        buffer,
        filled,
        buffer.length - filled,
        start + filled,
      );
      if (bytesRead === 0) {
        throw new KsailError(
          "failed",
          `${blob.file} ended at byte ${start + filled}, before the ${blob.size} bytes of blob ${blob.digest}`,
        );
      }
      filled += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Checks a blob's declared size (and, in memory, its digest) before anything is sent. */
async function checkBlob(blob: Blob): Promise<void> {
  if (!("data" in blob)) {
    // The registry checks the digest when the upload completes; a file is not read twice.
    const actual = (await stat(blob.file)).size;
    if (actual !== blob.size) {
      throw new KsailError(
        "usage",
        `blob ${blob.digest} is declared as ${blob.size} bytes but ${blob.file} has ${actual} bytes`,
      );
    }
    return;
  }
  if (blob.data.byteLength !== blob.size) {
    throw new KsailError(
      "usage",
      `blob ${blob.digest} is declared as ${blob.size} bytes but ${blob.data.byteLength} bytes were given`,
    );
  }
  if (digestWithAlgorithmOf(blob.digest, blob.data) !== blob.digest) {
    throw new KsailError("usage", `the data given for blob ${blob.digest} has another digest`);
  }
}

export async function pushBlob(
  session: RegistrySession,
  repo: RepositoryRef,
  blob: Blob,
  options: { mountFrom?: string } = {},
): Promise<"exists" | "mounted" | "uploaded"> {
  assertDigest(blob.digest);
  await checkBlob(blob);
  const done = (result: "exists" | "mounted" | "uploaded") => {
    session.emit({ type: "blob", digest: blob.digest, size: blob.size, result });
    return result;
  };
  if (await blobExists(session, repo, blob.digest)) return done("exists");

  const mountFrom = mountSource(repo, options.mountFrom);
  // Rounds restart the whole upload when the registry lost the session (404 on the upload
  // URL) or a resume is impossible; connection failures are handled (and bounded) inside.
  const maxRounds = Math.max(2, Math.min(session.policy.maxAttempts, 4));
  // Connection failures seen on the way: a session the registry dropped after them is the
  // network's fault (exit 4), not a missing upload (exit 6).
  const breaks: string[] = [];
  for (let round = 1; ; round++) {
    try {
      const mount = round === 1 ? mountFrom : undefined;
      return done(await uploadBlob(session, repo, blob, mount, breaks));
    } catch (error) {
      if (!(error instanceof KsailError) || !isUploadSessionError(error)) throw error;
      if (round >= maxRounds) {
        if (breaks.length === 0) throw error;
        throw new KsailError(
          "unreachable",
          `cannot upload blob ${blob.digest} to ${repo.registry}/${repo.repository}: the connection broke ${breaks.length} time${breaks.length === 1 ? "" : "s"} mid-transfer (${[...new Set(breaks)].join(", ")}) and the registry dropped the upload each time (${error.code ?? "upload session lost"}); gave up after ${round} fresh uploads`,
          {
            code: breaks[breaks.length - 1],
            hint: `Check the network path to ${repo.registry} (a proxy or firewall cutting long requests?) and try again.`,
          },
        );
      }
      // A previous PUT may have landed before the connection broke.
      if (await blobExists(session, repo, blob.digest)) return done("uploaded");
      const delayMs = computeBackoff(round, session.policy);
      session.emit({
        type: "retry",
        attempt: round + 1,
        delayMs,
        reason: `upload restarted: ${error.code ?? error.message}`,
        url: `${v2(repo)}/blobs/uploads/`,
      });
      await sleep(delayMs);
    }
  }
}

async function uploadBlob(
  session: RegistrySession,
  repo: RepositoryRef,
  blob: Blob,
  mountFrom: string | undefined,
  breaks: string[],
): Promise<"mounted" | "uploaded"> {
  const scopes = [repositoryScope(repo.repository, ["pull", "push"])];
  if (mountFrom) scopes.push(repositoryScope(mountFrom, ["pull"]));
  const ctx = { ...ctxOf(repo), action: `upload blob ${blob.digest}` };
  const query = mountFrom
    ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mountFrom)}`
    : "";
  const start = await session.call({
    registry: repo.registry,
    method: "POST",
    target: `${v2(repo)}/blobs/uploads/${query}`,
    scopes,
    ctx,
  });
  if (mountFrom && start.status === 201) {
    checkReturnedDigest(start, blob.digest, ctx);
    return "mounted";
  }
  if (start.status !== 202) throw await failUpload(session, start, ctx, breaks);
  let location = uploadLocation(start, ctx);
  const minChunk = Number(header(start.headers, "oci-chunk-min-length") ?? 0);
  const chunkSize = Math.max(session.settings.chunkSize, Number.isFinite(minChunk) ? minChunk : 0);

  if (blob.size <= session.settings.monolithicThreshold) {
    const body = await readRange(blob, 0, blob.size);
    return finishUpload(session, repo, location, blob, body, ctx, breaks);
  }

  const policy = session.policy;
  // Each chunk is read after the previous request has finished with the buffer.
  const scratch = "file" in blob ? Buffer.allocUnsafe(Math.min(chunkSize, blob.size)) : undefined;
  let offset = 0;
  let failuresWithoutProgress = 0;
  while (offset < blob.size) {
    const end = Math.min(offset + chunkSize, blob.size);
    const chunk = await readRange(blob, offset, end, scratch);
    let problem: string;
    try {
      const res = await session.call({
        registry: repo.registry,
        method: "PATCH",
        target: location,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${end - 1}`,
        },
        body: chunk,
        scopes,
        ctx,
        retry: false,
      });
      if (res.status === 202 || res.status === 204) {
        location = uploadLocation(res, ctx);
        const range = parseRange(header(res.headers, "range"));
        offset = range !== undefined ? range : end;
        failuresWithoutProgress = 0;
        continue;
      }
      if (!isRetryableStatus(res.status) && res.status !== 416) {
        throw await failUpload(session, res, ctx, breaks);
      }
      problem = `HTTP ${res.status}`;
    } catch (error) {
      if (!(error instanceof KsailError) || !isConnectionKind(error)) throw error;
      problem = error.code ?? error.message;
      breaks.push(error.code ?? error.kind);
    }
    // The chunk may or may not have landed: ask the registry how far it got, then go on.
    failuresWithoutProgress++;
    if (failuresWithoutProgress >= policy.maxAttempts) {
      throw new KsailError(
        "unreachable",
        `${repo.registry}: uploading blob ${blob.digest} to ${repo.repository} kept failing at byte ${offset} (${problem})`,
        {
          ...(breaks.length > 0 ? { code: breaks[breaks.length - 1] } : {}),
          hint: `Check the network path to ${repo.registry} and try again.`,
        },
      );
    }
    const delayMs = computeBackoff(failuresWithoutProgress, policy);
    session.emit({
      type: "retry",
      attempt: failuresWithoutProgress + 1,
      delayMs,
      reason: `chunk upload failed (${problem}); resuming`,
      url: stripQuery(location),
    });
    await sleep(delayMs);
    const status = await session.call({
      registry: repo.registry,
      method: "GET",
      target: location,
      scopes,
      ctx: { ...ctx, action: `read the upload status of blob ${blob.digest}` },
    });
    if (status.status !== 204 && status.status !== 200)
      throw await failUpload(session, status, ctx, breaks);
    location = uploadLocation(status, ctx, location);
    const range = parseRange(header(status.headers, "range"));
    // "0-0" is ambiguous in distribution (0 or 1 byte); a wrong guess gets 416 and another status read.
    offset = range ?? 0;
  }
  return finishUpload(session, repo, location, blob, undefined, ctx, breaks);
}

async function finishUpload(
  session: RegistrySession,
  repo: RepositoryRef,
  location: URL,
  blob: { digest: string },
  body: Uint8Array | undefined,
  ctx: ErrorContext,
  breaks: string[],
): Promise<"uploaded"> {
  const url = new URL(location);
  url.searchParams.set("digest", blob.digest);
  const headers: Record<string, string> = { "content-type": "application/octet-stream" };
  const res = await session.call({
    registry: repo.registry,
    method: "PUT",
    target: url,
    headers,
    ...(body !== undefined ? { body } : {}),
    scopes: [repositoryScope(repo.repository, ["pull", "push"])],
    ctx,
  });
  if (res.status !== 201 && res.status !== 204 && res.status !== 200) {
    throw await failUpload(session, res, ctx, breaks);
  }
  checkReturnedDigest(res, blob.digest, ctx);
  return "uploaded";
}

/** The error for a failed upload answer; connection breaks re-sent past are remembered. */
function failUpload(
  session: RegistrySession,
  res: CallResult,
  ctx: ErrorContext,
  breaks: string[],
): Promise<KsailError> {
  breaks.push(...res.brokenAttempts);
  return session.fail(res, ctx);
}

function checkReturnedDigest(res: HttpResponse, digest: string, ctx: ErrorContext): void {
  const returned = header(res.headers, "docker-content-digest");
  if (returned && returned !== digest) {
    throw new KsailError(
      "registry",
      `${ctx.registry} stored blob ${digest} of ${ctx.repository ?? "?"} under another digest (${returned})`,
      { code: "DIGEST_INVALID" },
    );
  }
}

function uploadLocation(res: HttpResponse, ctx: ErrorContext, fallback?: URL): URL {
  const value = header(res.headers, "location");
  if (!value) {
    if (fallback) return fallback;
    throw new KsailError(
      "registry",
      `${ctx.registry} did not say where to upload (no Location header) while trying to ${ctx.action}`,
    );
  }
  return new URL(value, res.url);
}

function mountSource(repo: RepositoryRef, mountFrom: string | undefined): string | undefined {
  if (!mountFrom) return undefined;
  let source = mountFrom.replace(/^oci:\/\//, "");
  if (source.startsWith(`${repo.registry}/`)) source = source.slice(repo.registry.length + 1);
  else if (source.includes("/")) {
    const firstPart = source.slice(0, source.indexOf("/"));
    // "otherhost:5000/x" or "ghcr.io/x": another registry, no mount possible.
    if (firstPart.includes(".") || firstPart.includes(":") || firstPart === "localhost") {
      return undefined;
    }
  }
  return source === repo.repository || source === "" ? undefined : source;
}

/** Parses "0-1234" (distribution omits the "bytes=" unit) into the next offset (1235). */
function parseRange(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(value.trim());
  if (!m) return undefined;
  const end = Number(m[2]);
  return end === 0 && Number(m[1]) === 0 ? 0 : end + 1;
}

function isUploadSessionError(error: KsailError): boolean {
  return (
    error.code === "BLOB_UPLOAD_UNKNOWN" ||
    error.code === "BLOB_UPLOAD_INVALID" ||
    error.code === "RANGE_INVALID" ||
    error.code === "HTTP_416" ||
    (error.kind === "not-found" && /upload/i.test(error.message))
  );
}

function isConnectionKind(error: KsailError): boolean {
  return error.kind === "unreachable" || error.kind === "timeout";
}
