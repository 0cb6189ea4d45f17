/**
 * OCI distribution client (https://github.com/opencontainers/distribution-spec), written for
 * what ksail needs: blob upload (HEAD, mount, monolithic or chunked with resume), manifests,
 * tags, catalog, delete; anonymous, Basic and Bearer auth; retries with backoff.
 */
import type { IncomingHttpHeaders } from "node:http";
import { KsailError } from "../errors.js";
import type { ErrorKind } from "../errors.js";
import {
  TokenCache,
  TokenError,
  basicAuthorization,
  fetchBearerToken,
  parseWwwAuthenticate,
  pickChallenge,
  repositoryScope,
} from "./auth.js";
import type { Challenge } from "./auth.js";
import { dockerConfigCredentials } from "./credentials.js";
import type { Credential, CredentialProvider } from "./credentials.js";
import { assertDigest, digestWithAlgorithmOf, isDigest, sha256Digest } from "./digest.js";
import { HttpTransport, NetworkError, header } from "./http.js";
import type { HttpResponse } from "./http.js";
import { assertReference, isLoopbackRegistry, splitHostPort } from "./reference.js";
import type { RepositoryRef } from "./reference.js";
import {
  DEFAULT_RETRY_POLICY,
  computeBackoff,
  isRetryableStatus,
  isTransientNetworkCode,
  parseRetryAfter,
  sleep,
} from "./retry.js";
import type { RetryPolicy } from "./retry.js";

export type { RetryPolicy } from "./retry.js";

export type RegistryEvent =
  | { type: "retry"; attempt: number; delayMs: number; reason: string; url: string }
  | { type: "blob"; digest: string; size: number; result: "exists" | "mounted" | "uploaded" };

export interface RegistryClientOptions {
  /** Hosts ("host[:port]") that may be reached over plain HTTP or with unverified TLS. */
  insecureRegistries?: string[];
  credentials?: CredentialProvider;
  retry?: Partial<RetryPolicy>;
  /** Blobs up to this size go up as POST + one PUT; larger ones in PATCH chunks. */
  monolithicThreshold?: number;
  chunkSize?: number;
  /** Socket idle time allowed while waiting for or reading a response. */
  requestTimeoutMs?: number;
  /** Time allowed to open a TCP connection. */
  connectTimeoutMs?: number;
  userAgent?: string;
  onEvent?: (event: RegistryEvent) => void;
}

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
].join(", ");

/** 5 MiB: Flux artifacts are almost always smaller and go up in one PUT (one round trip less). */
export const DEFAULT_MONOLITHIC_THRESHOLD = 5 * 1024 * 1024;
/** 5 MiB: the S3 multipart minimum that S3-backed registries need; resumes lose at most this much. */
export const DEFAULT_CHUNK_SIZE = 5 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

interface RegistryState {
  scheme: "http:" | "https:";
  /** Set once a response came back over `scheme`; no more fallback after that. */
  schemeSettled: boolean;
  /** The auth challenge learnt from the last 401, sent proactively from then on. */
  challenge?: Challenge;
  credential?: Promise<Credential | undefined>;
}

interface ErrorContext {
  registry: string;
  repository?: string;
  /** What we tried, as a verb phrase: "push blob sha256:…", "list tags". */
  action: string;
}

interface Call {
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
}

interface CallResult extends HttpResponse {
  attempts: number;
}

interface RegistryErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

export class RegistryClient {
  private readonly transport = new HttpTransport();
  private readonly states = new Map<string, RegistryState>();
  private readonly tokens = new TokenCache();
  private readonly insecure: Set<string>;
  private readonly credentials: CredentialProvider;
  private readonly policy: RetryPolicy;
  private readonly monolithicThreshold: number;
  private readonly chunkSize: number;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly userAgent: string;
  private readonly onEvent: ((event: RegistryEvent) => void) | undefined;

  constructor(options: RegistryClientOptions = {}) {
    this.insecure = new Set((options.insecureRegistries ?? []).map((r) => r.toLowerCase()));
    this.credentials = options.credentials ?? dockerConfigCredentials();
    this.policy = { ...DEFAULT_RETRY_POLICY, ...definedOnly(options.retry ?? {}) };
    if (this.policy.maxAttempts < 1) this.policy.maxAttempts = 1;
    this.monolithicThreshold = options.monolithicThreshold ?? DEFAULT_MONOLITHIC_THRESHOLD;
    this.chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.connectTimeoutMs = Math.min(
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      this.requestTimeoutMs,
    );
    this.userAgent = options.userAgent ?? "ksail";
    this.onEvent = options.onEvent;
  }

  /** Closes pooled keep-alive connections. The client must not be used afterwards. */
  close(): void {
    this.transport.close();
  }

  // ---------------------------------------------------------------- public operations

  async ping(registry: string): Promise<void> {
    const ctx = { registry, action: "check the registry API (GET /v2/)" };
    const res = await this.call({ registry, method: "GET", target: "/v2/", scopes: [], ctx });
    if (res.status !== 200) {
      if (res.status === 404) {
        throw new KsailError(
          "registry",
          `${registry} does not serve the OCI distribution API (GET /v2/ answered 404)`,
          { hint: `Check that ${registry} is a container registry and not some other web server.` },
        );
      }
      throw await this.fail(res, ctx);
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

  async blobExists(repo: RepositoryRef, digest: string): Promise<boolean> {
    assertDigest(digest);
    const ctx = { ...ctxOf(repo), action: `check blob ${digest}` };
    const res = await this.call({
      registry: repo.registry,
      method: "HEAD",
      target: `${v2(repo)}/blobs/${digest}`,
      scopes: [repositoryScope(repo.repository, ["pull"])],
      ctx,
    });
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.fail(res, ctx);
  }

  async pushBlob(
    repo: RepositoryRef,
    blob: { digest: string; size: number; data: Uint8Array },
    options: { mountFrom?: string } = {},
  ): Promise<"exists" | "mounted" | "uploaded"> {
    assertDigest(blob.digest);
    if (blob.data.byteLength !== blob.size) {
      throw new KsailError(
        "usage",
        `blob ${blob.digest} is declared as ${blob.size} bytes but ${blob.data.byteLength} bytes were given`,
      );
    }
    if (digestWithAlgorithmOf(blob.digest, blob.data) !== blob.digest) {
      throw new KsailError("usage", `the data given for blob ${blob.digest} has another digest`);
    }
    const done = (result: "exists" | "mounted" | "uploaded") => {
      this.emit({ type: "blob", digest: blob.digest, size: blob.size, result });
      return result;
    };
    if (await this.blobExists(repo, blob.digest)) return done("exists");

    const mountFrom = mountSource(repo, options.mountFrom);
    // Rounds restart the whole upload when the registry lost the session (404 on the upload
    // URL) or a resume is impossible; connection failures are handled (and bounded) inside.
    const maxRounds = Math.max(2, Math.min(this.policy.maxAttempts, 4));
    for (let round = 1; ; round++) {
      try {
        const result = await this.uploadBlob(repo, blob, round === 1 ? mountFrom : undefined);
        return done(result);
      } catch (error) {
        if (!(error instanceof KsailError) || !isUploadSessionError(error) || round >= maxRounds) {
          throw error;
        }
        // A previous PUT may have landed before the connection broke.
        if (await this.blobExists(repo, blob.digest)) return done("uploaded");
        const delayMs = computeBackoff(round, this.policy);
        this.emit({
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

  async fetchBlob(repo: RepositoryRef, digest: string): Promise<Buffer> {
    assertDigest(digest);
    const ctx = { ...ctxOf(repo), action: `download blob ${digest}` };
    const res = await this.call({
      registry: repo.registry,
      method: "GET",
      target: `${v2(repo)}/blobs/${digest}`,
      scopes: [repositoryScope(repo.repository, ["pull"])],
      ctx,
    });
    if (res.status !== 200) throw await this.fail(res, ctx);
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

  async pushManifest(
    repo: RepositoryRef,
    reference: string,
    manifest: Uint8Array,
    mediaType: string,
  ): Promise<string> {
    assertReference(reference);
    const digest = sha256Digest(manifest);
    if (isDigest(reference) && digestWithAlgorithmOf(reference, manifest) !== reference) {
      throw new KsailError(
        "usage",
        `cannot push the manifest under ${reference}: its content has digest ${digest}`,
      );
    }
    const ctx = { ...ctxOf(repo), action: `push manifest ${reference}` };
    const res = await this.call({
      registry: repo.registry,
      method: "PUT",
      target: `${v2(repo)}/manifests/${reference}`,
      headers: { "content-type": mediaType },
      body: manifest,
      scopes: [repositoryScope(repo.repository, ["pull", "push"])],
      ctx,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) {
      throw await this.fail(res, ctx);
    }
    const returned = header(res.headers, "docker-content-digest");
    if (returned && isDigest(returned) && returned.startsWith("sha256:") && returned !== digest) {
      throw new KsailError(
        "registry",
        `${repo.registry} stored manifest ${reference} of ${repo.repository} as ${returned}, but its content is ${digest}`,
        { code: "DIGEST_INVALID" },
      );
    }
    return digest;
  }

  async fetchManifest(
    repo: RepositoryRef,
    reference: string,
  ): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    assertReference(reference);
    const ctx = { ...ctxOf(repo), action: `fetch manifest ${reference}` };
    const res = await this.call({
      registry: repo.registry,
      method: "GET",
      target: `${v2(repo)}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [repositoryScope(repo.repository, ["pull"])],
      ctx,
    });
    if (res.status !== 200) throw await this.fail(res, ctx);
    const bytes = res.body;
    const computed = sha256Digest(bytes);
    if (isDigest(reference)) {
      const actual = digestWithAlgorithmOf(reference, bytes);
      if (actual !== reference) {
        throw new KsailError(
          "registry",
          `${repo.registry} answered manifest ${reference} of ${repo.repository} with content of digest ${actual}`,
          { code: "DIGEST_INVALID" },
        );
      }
    }
    const returned = header(res.headers, "docker-content-digest");
    if (returned && returned.startsWith("sha256:") && returned !== computed) {
      throw new KsailError(
        "registry",
        `${repo.registry} sent manifest ${reference} of ${repo.repository} whose content (${computed}) does not match its Docker-Content-Digest ${returned}`,
        { code: "DIGEST_INVALID" },
      );
    }
    const digest = isDigest(reference) ? reference : computed;
    return { bytes, mediaType: manifestMediaType(res.headers, bytes), digest };
  }

  async resolve(
    repo: RepositoryRef,
    reference: string,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    assertReference(reference);
    const ctx = { ...ctxOf(repo), action: `resolve ${reference}` };
    const res = await this.call({
      registry: repo.registry,
      method: "HEAD",
      target: `${v2(repo)}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [repositoryScope(repo.repository, ["pull"])],
      ctx,
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.fail(res, ctx);
    const digest = header(res.headers, "docker-content-digest");
    const mediaType = header(res.headers, "content-type")?.split(";")[0]?.trim();
    const length = Number(header(res.headers, "content-length"));
    if (digest && isDigest(digest) && mediaType && Number.isFinite(length)) {
      return { digest, mediaType, size: length };
    }
    // Some registries leave headers out of HEAD answers: fall back to GET.
    const full = await this.fetchManifest(repo, reference);
    return { digest: full.digest, mediaType: full.mediaType, size: full.bytes.byteLength };
  }

  async listTags(repo: RepositoryRef, options: { pageSize?: number } = {}): Promise<string[]> {
    const ctx = { ...ctxOf(repo), action: "list tags" };
    const first = `${v2(repo)}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ""}`;
    const tags: string[] = [];
    const found = await this.paginate(
      repo.registry,
      first,
      [repositoryScope(repo.repository, ["pull"])],
      ctx,
      (body) => {
        const list = (body as { tags?: unknown }).tags;
        if (Array.isArray(list)) for (const t of list) if (typeof t === "string") tags.push(t);
      },
    );
    return found ? [...new Set(tags)] : [];
  }

  async deleteManifest(repo: RepositoryRef, digest: string): Promise<void> {
    if (!isDigest(digest)) {
      throw new KsailError(
        "usage",
        `cannot delete "${digest}": registries delete manifests by digest ("sha256:..."), not by tag`,
        { hint: "Resolve the tag to its digest first." },
      );
    }
    const ctx = { ...ctxOf(repo), action: `delete manifest ${digest}` };
    const res = await this.call({
      registry: repo.registry,
      method: "DELETE",
      target: `${v2(repo)}/manifests/${digest}`,
      scopes: [repositoryScope(repo.repository, ["delete"])],
      ctx,
    });
    if (res.status === 202 || res.status === 200 || res.status === 204) return;
    throw await this.fail(res, ctx);
  }

  async catalog(registry: string, options: { pageSize?: number } = {}): Promise<string[]> {
    const ctx = { registry, action: "list repositories (catalog)" };
    const n = options.pageSize ?? 1000;
    const names: string[] = [];
    const found = await this.paginate(
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

  // ---------------------------------------------------------------- uploads

  private async uploadBlob(
    repo: RepositoryRef,
    blob: { digest: string; size: number; data: Uint8Array },
    mountFrom: string | undefined,
  ): Promise<"mounted" | "uploaded"> {
    const scopes = [repositoryScope(repo.repository, ["pull", "push"])];
    if (mountFrom) scopes.push(repositoryScope(mountFrom, ["pull"]));
    const ctx = { ...ctxOf(repo), action: `upload blob ${blob.digest}` };
    const query = mountFrom
      ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mountFrom)}`
      : "";
    const start = await this.call({
      registry: repo.registry,
      method: "POST",
      target: `${v2(repo)}/blobs/uploads/${query}`,
      scopes,
      ctx,
    });
    if (mountFrom && start.status === 201) {
      this.checkReturnedDigest(start, blob.digest, ctx);
      return "mounted";
    }
    if (start.status !== 202) throw await this.fail(start, ctx);
    let location = this.location(start, ctx);
    const minChunk = Number(header(start.headers, "oci-chunk-min-length") ?? 0);
    const chunkSize = Math.max(this.chunkSize, Number.isFinite(minChunk) ? minChunk : 0);

    if (blob.size <= this.monolithicThreshold) {
      return this.finishUpload(repo, location, blob, blob.data, ctx);
    }

    let offset = 0;
    let failuresWithoutProgress = 0;
    while (offset < blob.size) {
      const end = Math.min(offset + chunkSize, blob.size);
      const chunk = blob.data.subarray(offset, end);
      let problem: string;
      try {
        const res = await this.call({
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
          location = this.location(res, ctx);
          const range = parseRange(header(res.headers, "range"));
          offset = range !== undefined ? range : end;
          failuresWithoutProgress = 0;
          continue;
        }
        if (!isRetryableStatus(res.status) && res.status !== 416) throw await this.fail(res, ctx);
        problem = `HTTP ${res.status}`;
      } catch (error) {
        if (!(error instanceof KsailError) || !isConnectionKind(error)) throw error;
        problem = error.code ?? error.message;
      }
      // The chunk may or may not have landed: ask the registry how far it got, then go on.
      failuresWithoutProgress++;
      if (failuresWithoutProgress >= this.policy.maxAttempts) {
        throw new KsailError(
          "unreachable",
          `${repo.registry}: uploading blob ${blob.digest} to ${repo.repository} kept failing at byte ${offset} (${problem})`,
          { hint: `Check the network path to ${repo.registry} and try again.` },
        );
      }
      const delayMs = computeBackoff(failuresWithoutProgress, this.policy);
      this.emit({
        type: "retry",
        attempt: failuresWithoutProgress + 1,
        delayMs,
        reason: `chunk upload failed (${problem}); resuming`,
        url: stripQuery(location),
      });
      await sleep(delayMs);
      const status = await this.call({
        registry: repo.registry,
        method: "GET",
        target: location,
        scopes,
        ctx: { ...ctx, action: `read the upload status of blob ${blob.digest}` },
      });
      if (status.status !== 204 && status.status !== 200) throw await this.fail(status, ctx);
      location = this.location(status, ctx, location);
      const range = parseRange(header(status.headers, "range"));
      // "0-0" is ambiguous in distribution (0 or 1 byte); a wrong guess gets 416 and another status read.
      offset = range ?? 0;
    }
    return this.finishUpload(repo, location, blob, undefined, ctx);
  }

  private async finishUpload(
    repo: RepositoryRef,
    location: URL,
    blob: { digest: string },
    body: Uint8Array | undefined,
    ctx: ErrorContext,
  ): Promise<"uploaded"> {
    const url = new URL(location);
    url.searchParams.set("digest", blob.digest);
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    const res = await this.call({
      registry: repo.registry,
      method: "PUT",
      target: url,
      headers,
      ...(body !== undefined ? { body } : {}),
      scopes: [repositoryScope(repo.repository, ["pull", "push"])],
      ctx,
    });
    if (res.status !== 201 && res.status !== 204 && res.status !== 200) {
      throw await this.fail(res, ctx);
    }
    this.checkReturnedDigest(res, blob.digest, ctx);
    return "uploaded";
  }

  private checkReturnedDigest(res: HttpResponse, digest: string, ctx: ErrorContext): void {
    const returned = header(res.headers, "docker-content-digest");
    if (returned && returned !== digest) {
      throw new KsailError(
        "registry",
        `${ctx.registry} stored blob ${digest} of ${ctx.repository ?? "?"} under another digest (${returned})`,
        { code: "DIGEST_INVALID" },
      );
    }
  }

  private location(res: HttpResponse, ctx: ErrorContext, fallback?: URL): URL {
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

  // ---------------------------------------------------------------- pagination

  /** GETs `first` and follows `Link: <...>; rel="next"`. Returns false on 404 (nothing there). */
  private async paginate(
    registry: string,
    first: string,
    scopes: string[],
    ctx: ErrorContext,
    onPage: (body: unknown) => void,
  ): Promise<boolean> {
    let target: string | URL = first;
    const seen = new Set<string>();
    for (let page = 0; page < 100_000; page++) {
      const res: CallResult = await this.call({
        registry,
        method: "GET",
        target,
        headers: { accept: "application/json" },
        scopes,
        ctx,
      });
      if (res.status === 404 && page === 0) return false;
      if (res.status !== 200) throw await this.fail(res, ctx);
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString("utf8"));
      } catch {
        throw new KsailError("registry", `${registry} answered ${ctx.action} with invalid JSON`);
      }
      onPage(body ?? {});
      const next = parseLinkNext(header(res.headers, "link"));
      if (!next) return true;
      const url = new URL(next, res.url);
      if (seen.has(url.href)) return true; // a registry looping its Link: stop
      seen.add(url.href);
      target = url;
    }
    return true;
  }

  // ---------------------------------------------------------------- HTTP with auth and retries

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
      s.credential = this.credentials(registry);
      // A failing helper must be retried next time, not cached.
      s.credential.catch(() => {
        s.credential = undefined;
      });
    }
    return s.credential;
  }

  private emit(event: RegistryEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // A listener's failure must not break the transfer.
    }
  }

  private endpointUrl(registry: string, target: string | URL): URL {
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
  private async call(call: Call): Promise<CallResult> {
    const deadline = Date.now() + this.policy.totalTimeoutMs;
    const retry = call.retry !== false;
    for (let attempt = 1; ; attempt++) {
      let outcome: CallResult | NetworkError;
      try {
        outcome = { ...(await this.exchange(call)), attempts: attempt };
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        outcome = error;
      }
      const transient =
        outcome instanceof NetworkError
          ? isTransientNetworkCode(outcome.code)
          : isRetryableStatus(outcome.status);
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
      await sleep(delayMs);
    }
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
    throw networkFailure(outcome, call, attempts);
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
      "user-agent": this.userAgent,
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
        timeoutMs: this.requestTimeoutMs,
        connectTimeoutMs: this.connectTimeoutMs,
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
        return this.switchScheme(s, url, send);
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
        (req) => this.tokenRequest(call, req),
        challenge,
        call.scopes,
        credential,
        { userAgent: this.userAgent },
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

  /** Token service requests: own retries, errors classified against the realm's host. */
  private async tokenRequest(
    call: Call,
    req: { method: "GET" | "POST"; url: URL; headers: Record<string, string>; body?: Uint8Array },
  ): Promise<{ status: number; body: Buffer }> {
    const deadline = Date.now() + this.policy.totalTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.transport.send({
          method: req.method,
          url: req.url,
          headers: req.headers,
          ...(req.body !== undefined ? { body: req.body } : {}),
          timeoutMs: this.requestTimeoutMs,
          connectTimeoutMs: this.connectTimeoutMs,
        });
        if (!isRetryableStatus(res.status) || attempt >= this.policy.maxAttempts) return res;
        const delayMs =
          parseRetryAfter(res.headers["retry-after"]) ?? computeBackoff(attempt, this.policy);
        if (Date.now() + delayMs > deadline) return res;
        await sleep(delayMs);
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        const delayMs = computeBackoff(attempt, this.policy);
        if (
          !isTransientNetworkCode(error.code) ||
          attempt >= this.policy.maxAttempts ||
          Date.now() + delayMs > deadline
        ) {
          throw new KsailError(
            "unreachable",
            `cannot reach the token service ${req.url.host} of registry ${call.registry} (${describeNetworkCode(error.code)} after ${attempt} attempt${attempt === 1 ? "" : "s"})`,
            { code: error.code, hint: `Check that ${req.url.host} is up and reachable.` },
          );
        }
        await sleep(delayMs);
      }
    }
  }

  /** Turns a non-success answer into a KsailError a person can act on. */
  private async fail(res: CallResult | HttpResponse, ctx: ErrorContext): Promise<KsailError> {
    const errors = parseErrorBody(res.body);
    const first = errors[0];
    const status = res.status;
    let credential: Credential | undefined;
    try {
      credential = await this.credentialFor(ctx.registry);
    } catch {
      credential = undefined;
    }
    const attempts = "attempts" in res ? res.attempts : 1;
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
}

// ------------------------------------------------------------------ helpers

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function v2(repo: RepositoryRef): string {
  return `/v2/${repo.repository}`;
}

function ctxOf(repo: RepositoryRef): { registry: string; repository: string } {
  return { registry: repo.registry, repository: repo.repository };
}

function inRepo(ctx: ErrorContext): string {
  return ctx.repository ? ` in repository ${ctx.repository}` : "";
}

function stripQuery(url: URL | string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
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

/** Extracts the next page URL from a Link header (RFC 8288). */
export function parseLinkNext(value: string | undefined): string | undefined {
  if (!value) return undefined;
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

function manifestMediaType(headers: IncomingHttpHeaders, bytes: Buffer): string {
  const fromHeader = header(headers, "content-type")?.split(";")[0]?.trim();
  if (fromHeader && fromHeader !== "application/json" && fromHeader !== "text/plain") {
    return fromHeader;
  }
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown };
    if (typeof parsed.mediaType === "string") return parsed.mediaType;
  } catch {
    // fall through
  }
  return fromHeader ?? MEDIA_TYPES.ociManifest;
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

function loginHint(registry: string, hadCredentials: boolean): string {
  return hadCredentials
    ? `Check the user name and password (or token) stored for ${registry}, then run \`docker login ${registry}\` again.`
    : `Log in with \`docker login ${registry}\` (ksail reads ~/.docker/config.json, $DOCKER_CONFIG and docker credential helpers).`;
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

function isProtocolMismatch(error: NetworkError): boolean {
  return (
    error.code === "EPROTO" ||
    error.code.startsWith("ERR_SSL_") ||
    error.code.startsWith("HPE_") ||
    /wrong version number|packet length too long/i.test(error.message)
  );
}

function describeNetworkCode(code: string): string {
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

function networkFailure(error: NetworkError, call: Call, attempts: number): KsailError {
  const { host } = splitHostPort(call.registry);
  const address = call.registry;
  const tries = `${attempts} attempt${attempts === 1 ? "" : "s"}`;
  const what = describeNetworkCode(error.code);
  if (error.code === "ENOTFOUND") {
    return new KsailError(
      "unreachable",
      `cannot reach the registry at ${address}: host name "${host}" not found (DNS) while trying to ${call.ctx.action}${inRepo(call.ctx)} — is the registry address right?`,
      { code: error.code, hint: `Check the spelling of "${host}" and your DNS settings.` },
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
      `TLS connection to the registry at ${address} failed (${error.code}) while trying to ${call.ctx.action}${inRepo(call.ctx)}`,
      {
        code: error.code,
        hint: `If ${address} serves plain HTTP or a self-signed certificate, list it as an insecure registry.`,
      },
    );
  }
  if (error.code === "ETIMEDOUT" && error.phase === "response") {
    return new KsailError(
      "timeout",
      `the registry at ${address} stopped answering (${error.message}) while trying to ${call.ctx.action}${inRepo(call.ctx)}, after ${tries}`,
      {
        code: error.code,
        hint: `Check that the registry at ${address} is healthy, or raise the request timeout.`,
      },
    );
  }
  return new KsailError(
    "unreachable",
    `cannot reach the registry at ${address} (${what} after ${tries}) while trying to ${call.ctx.action}${inRepo(call.ctx)} — is the registry running?`,
    {
      code: error.code,
      hint: `Start the registry (for the local one: \`ksail up\`) or check that ${address} is the right address.`,
    },
  );
}

/** Removes any secret of `credential` from text the registry or we produced. */
function redact(text: string, credential: Credential | undefined): string {
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
