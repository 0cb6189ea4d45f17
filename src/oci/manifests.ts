/** Manifests: push (digest checked both ways), fetch, resolve (HEAD) and delete by digest. */
import type { IncomingHttpHeaders } from "node:http";
import { KsailError } from "../errors.js";
import { repositoryScope } from "./auth.js";
import { confirmRegistry } from "./api-check.js";
import { digestWithAlgorithmOf, isDigest, sha256Digest } from "./digest.js";
import { header } from "./http.js";
import { assertReference } from "./reference.js";
import type { RepositoryRef } from "./reference.js";
import { ctxOf, v2 } from "./session.js";
import type { RegistrySession } from "./session.js";

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

/** 4 MiB, containerd's limit: a larger "manifest" is refused unread. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
].join(", ");

export async function pushManifest(
  session: RegistrySession,
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
  const res = await session.call({
    registry: repo.registry,
    method: "PUT",
    target: `${v2(repo)}/manifests/${reference}`,
    headers: { "content-type": mediaType },
    body: manifest,
    scopes: [repositoryScope(repo.repository, ["pull", "push"])],
    ctx,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202) {
    throw await session.fail(res, ctx);
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

export async function fetchManifest(
  session: RegistrySession,
  repo: RepositoryRef,
  reference: string,
): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
  assertReference(reference);
  const ctx = { ...ctxOf(repo), action: `fetch manifest ${reference}` };
  const res = await session.call({
    registry: repo.registry,
    method: "GET",
    target: `${v2(repo)}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(repo.repository, ["pull"])],
    ctx,
    maxBodyBytes: MAX_MANIFEST_BYTES,
    limitReason: "a manifest is at most 4 MiB (containerd's limit too)",
  });
  if (res.status !== 200) throw await session.fail(res, ctx);
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

export async function resolveManifest(
  session: RegistrySession,
  repo: RepositoryRef,
  reference: string,
): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
  assertReference(reference);
  const ctx = { ...ctxOf(repo), action: `resolve ${reference}` };
  const res = await session.call({
    registry: repo.registry,
    method: "HEAD",
    target: `${v2(repo)}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(repo.repository, ["pull"])],
    ctx,
  });
  if (res.status === 404) {
    await confirmRegistry(session, repo.registry, ctx);
    return undefined;
  }
  if (res.status !== 200) throw await session.fail(res, ctx);
  const digest = header(res.headers, "docker-content-digest");
  const mediaType = header(res.headers, "content-type")?.split(";")[0]?.trim();
  const length = Number(header(res.headers, "content-length"));
  if (digest && isDigest(digest) && mediaType && Number.isFinite(length)) {
    return { digest, mediaType, size: length };
  }
  // Some registries leave headers out of HEAD answers: fall back to GET.
  const full = await fetchManifest(session, repo, reference);
  return { digest: full.digest, mediaType: full.mediaType, size: full.bytes.byteLength };
}

/**
 * Deletes a manifest by digest. With `missingOk`, a manifest that is already gone (404
 * MANIFEST_UNKNOWN, e.g. deleted by a concurrent prune) counts as deleted; returns whether
 * this call deleted it.
 */
export async function deleteManifest(
  session: RegistrySession,
  repo: RepositoryRef,
  digest: string,
  options: { missingOk?: boolean } = {},
): Promise<boolean> {
  if (!isDigest(digest)) {
    throw new KsailError(
      "usage",
      `cannot delete "${digest}": registries delete manifests by digest ("sha256:..."), not by tag`,
      { hint: "Resolve the tag to its digest first." },
    );
  }
  const ctx = { ...ctxOf(repo), action: `delete manifest ${digest}` };
  const res = await session.call({
    registry: repo.registry,
    method: "DELETE",
    target: `${v2(repo)}/manifests/${digest}`,
    scopes: [repositoryScope(repo.repository, ["delete"])],
    ctx,
  });
  if (res.status === 202 || res.status === 200 || res.status === 204) return true;
  const error = await session.fail(res, ctx);
  if (options.missingOk && error.kind === "not-found") return false;
  throw error;
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

/**
 * Removes one tag, leaving the manifest (OCI distribution spec end-9, optional: distribution v3
 * does it, 2.x answers 400). Cheap where deleting a manifest by digest is not: that makes
 * distribution read every tag of the repository to find the ones to remove.
 */
export async function deleteTag(
  session: RegistrySession,
  repo: RepositoryRef,
  tag: string,
): Promise<void> {
  assertReference(tag);
  if (isDigest(tag)) {
    throw new KsailError("usage", `"${tag}" is a digest, not a tag: delete it with deleteManifest`);
  }
  const ctx = { ...ctxOf(repo), action: `delete tag ${tag}` };
  const res = await session.call({
    registry: repo.registry,
    method: "DELETE",
    target: `${v2(repo)}/manifests/${tag}`,
    scopes: [repositoryScope(repo.repository, ["delete"])],
    ctx,
  });
  if (res.status === 202 || res.status === 200 || res.status === 204) return;
  throw await session.fail(res, ctx);
}
