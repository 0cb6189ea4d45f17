/**
 * OCI distribution client (https://github.com/opencontainers/distribution-spec), written for
 * what ksail needs: blob upload (HEAD, mount, monolithic or chunked with resume), manifests,
 * tags, catalog, delete; anonymous, Basic and Bearer auth; retries with backoff.
 *
 * This is the facade the rest of ksail uses. The work is done one operation per module:
 * blobs.ts, upload.ts, manifests.ts, tags.ts, catalog.ts, on top of session.ts (requests,
 * retries, scheme fallback, auth) and errors.ts (what a failure means to a person).
 */
import { DEFAULT_REQUEST_TIMEOUT_MS } from "../config/settings.js";
import { blobExists, fetchBlob } from "./blobs.js";
import { ping } from "./api-check.js";
import { catalog } from "./catalog.js";
import { dockerConfigCredentials } from "./credentials.js";
import type { CredentialProvider } from "./credentials.js";
import {
  deleteManifest,
  deleteTag,
  fetchManifest,
  pushManifest,
  resolveManifest,
} from "./manifests.js";
import type { RepositoryRef } from "./reference.js";
import { DEFAULT_RETRY_POLICY } from "./retry.js";
import type { RetryPolicy } from "./retry.js";
import { RegistrySession } from "./session.js";
import type { RegistryEvent } from "./session.js";
import { listTags } from "./tags.js";
import { pushBlob, type Blob } from "./upload.js";

export type { RetryPolicy } from "./retry.js";
export type { RegistryEvent } from "./session.js";
export { MEDIA_TYPES } from "./manifests.js";
export { parseLinkNext } from "./pagination.js";
export { DEFAULT_REQUEST_TIMEOUT_MS };

export interface RegistryClientOptions {
  /** Hosts ("host[:port]") that may be reached over plain HTTP or with unverified TLS. */
  insecureRegistries?: string[];
  credentials?: CredentialProvider;
  retry?: Partial<RetryPolicy>;
  /** Blobs up to this size go up as POST + one PUT; larger ones in PATCH chunks. */
  monolithicThreshold?: number;
  chunkSize?: number;
  /**
   * Inactivity allowed on a request (no bytes sent or received), not a limit on the whole
   * transfer. The CLI passes the resolved --request-timeout / KSAIL_REQUEST_TIMEOUT
   * (config/load.ts resolveRuntime); default 30 s.
   */
  requestTimeoutMs?: number;
  /** The directory of docker's config.json for the default credentials (resolved $DOCKER_CONFIG). */
  dockerConfig?: string;
  /** Time allowed to open a TCP connection. */
  connectTimeoutMs?: number;
  userAgent?: string;
  onEvent?: (event: RegistryEvent) => void;
}

/** 5 MiB: Flux artifacts are almost always smaller and go up in one PUT (one round trip less). */
export const DEFAULT_MONOLITHIC_THRESHOLD = 5 * 1024 * 1024;
/** 5 MiB: the S3 multipart minimum that S3-backed registries need; resumes lose at most this much. */
export const DEFAULT_CHUNK_SIZE = 5 * 1024 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

export class RegistryClient {
  private readonly session: RegistrySession;

  constructor(options: RegistryClientOptions = {}) {
    const policy = { ...DEFAULT_RETRY_POLICY, ...definedOnly(options.retry ?? {}) };
    if (policy.maxAttempts < 1) policy.maxAttempts = 1;
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.session = new RegistrySession({
      insecureRegistries: options.insecureRegistries ?? [],
      credentials:
        options.credentials ??
        dockerConfigCredentials(
          options.dockerConfig === undefined ? {} : { configDir: options.dockerConfig },
        ),
      policy,
      monolithicThreshold: options.monolithicThreshold ?? DEFAULT_MONOLITHIC_THRESHOLD,
      chunkSize: Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE),
      requestTimeoutMs,
      connectTimeoutMs: Math.min(
        options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        requestTimeoutMs,
      ),
      userAgent: options.userAgent ?? "ksail",
      onEvent: options.onEvent,
    });
  }

  /** Closes pooled keep-alive connections. The client must not be used afterwards. */
  close(): void {
    this.session.close();
  }

  ping(registry: string): Promise<void> {
    return ping(this.session, registry);
  }

  blobExists(repo: RepositoryRef, digest: string): Promise<boolean> {
    return blobExists(this.session, repo, digest);
  }

  /** Uploads a blob from memory (`data`) or from a file (`file`, read a chunk at a time). */
  pushBlob(
    repo: RepositoryRef,
    blob: Blob,
    options: { mountFrom?: string } = {},
  ): Promise<"exists" | "mounted" | "uploaded"> {
    return pushBlob(this.session, repo, blob, options);
  }

  /** Downloads and checks a blob; `size` (the descriptor's) is enforced while it streams. */
  fetchBlob(repo: RepositoryRef, digest: string, options: { size?: number } = {}): Promise<Buffer> {
    return fetchBlob(this.session, repo, digest, options);
  }

  pushManifest(
    repo: RepositoryRef,
    reference: string,
    manifest: Uint8Array,
    mediaType: string,
  ): Promise<string> {
    return pushManifest(this.session, repo, reference, manifest, mediaType);
  }

  fetchManifest(
    repo: RepositoryRef,
    reference: string,
  ): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    return fetchManifest(this.session, repo, reference);
  }

  resolve(
    repo: RepositoryRef,
    reference: string,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    return resolveManifest(this.session, repo, reference);
  }

  listTags(repo: RepositoryRef, options: { pageSize?: number } = {}): Promise<string[]> {
    return listTags(this.session, repo, options);
  }

  /**
   * Deletes a manifest by digest. `{ missingOk: true }`: one already gone (404) is success
   * (concurrent prunes). Resolves to true when this call deleted it, false when it was gone.
   */
  deleteManifest(
    repo: RepositoryRef,
    digest: string,
    options: { missingOk?: boolean } = {},
  ): Promise<boolean> {
    return deleteManifest(this.session, repo, digest, options);
  }

  /** Removes one tag, leaving its manifest, where the registry supports that (see deleteTag). */
  deleteTag(repo: RepositoryRef, tag: string): Promise<void> {
    return deleteTag(this.session, repo, tag);
  }

  /**
   * The digest `tag` points at now, from one HEAD (GET only if the registry leaves the
   * Docker-Content-Digest header out), never cached: for reading a tag back after writing it.
   * undefined when the tag does not exist.
   */
  async tagDigest(repo: RepositoryRef, tag: string): Promise<string | undefined> {
    return (await resolveManifest(this.session, repo, tag))?.digest;
  }

  catalog(registry: string, options: { pageSize?: number } = {}): Promise<string[]> {
    return catalog(this.session, registry, options);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
