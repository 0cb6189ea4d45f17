/**
 * OCI 1.1 referrers (distribution spec "Listing Referrers" and "Referrers Tag Schema"):
 * `GET /v2/<name>/referrers/<digest>` answers an OCI image index of the manifests whose `subject`
 * is that digest. A registry without the API (404, 400 or 406, or an answer that is not an
 * index — Debian's distribution 2.8, distribution v3) is read through the fallback: the index
 * the pushing client keeps under the tag `sha256-<hex>`. Writing follows go-containerregistry
 * (what cosign uses): push the referrer by digest, then update the fallback index only when the
 * registry has no referrers API.
 */
import { KsailError } from "../errors.js";
import { repositoryScope } from "./auth.js";
import { sha256Digest } from "./digest.js";
import { header } from "./http.js";
import { MAX_MANIFEST_BYTES, MEDIA_TYPES, pushManifest } from "./manifests.js";
import { parseLinkNext } from "./pagination.js";
import type { RepositoryRef } from "./reference.js";
import { ctxOf, v2 } from "./session.js";
import type { CallResult, RegistrySession } from "./session.js";

/**
 * Referrers of one digest read at most: a signed artifact has a handful (signatures, an SBOM,
 * attestations); a list longer than this is refused (exit 9) rather than walked.
 */
export const MAX_REFERRERS = 1000;

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Referrers {
  descriptors: ReferrerDescriptor[];
  /** "api": the registry's referrers API; "tag": the `sha256-<hex>` fallback index. */
  via: "api" | "tag";
}

/** `sha256:<hex>` → `sha256-<hex>`, the referrers tag schema's tag. */
export function referrersTag(digest: string): string {
  const match = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (match === null) {
    throw new KsailError("usage", `"${digest}" is not a digest; referrers are listed for digests`);
  }
  return `${match[1]}-${match[2]}`;
}

/** The digest a referrers-schema tag stands for, or undefined for any other tag. */
export function digestOfReferrersTag(tag: string): string | undefined {
  const match = /^sha256-([a-f0-9]{64})$/.exec(tag);
  return match === null ? undefined : `sha256:${match[1]}`;
}

/**
 * Asks the referrers API. Returns the answer, or undefined when the registry has no referrers
 * API (so the caller falls back to the tag schema).
 */
async function referrersApi(
  session: RegistrySession,
  repo: RepositoryRef,
  digest: string,
): Promise<ReferrerDescriptor[] | undefined> {
  const ctx = { ...ctxOf(repo), action: `list referrers of ${digest}` };
  const descriptors: ReferrerDescriptor[] = [];
  let target: string | URL = `${v2(repo)}/referrers/${digest}`;
  const seen = new Set<string>();
  for (;;) {
    const res: CallResult = await session.call({
      registry: repo.registry,
      method: "GET",
      target,
      headers: { accept: MEDIA_TYPES.ociIndex },
      scopes: [repositoryScope(repo.repository, ["pull"])],
      ctx,
      maxBodyBytes: MAX_MANIFEST_BYTES,
      limitReason: "a referrers list is an index, at most 4 MiB",
    });
    const type = header(res.headers, "content-type")?.split(";")[0]?.trim();
    if (descriptors.length === 0 && seen.size === 0) {
      if (res.status === 404 || res.status === 400 || res.status === 406 || res.status === 405) {
        return undefined;
      }
      if (res.status === 200 && type !== MEDIA_TYPES.ociIndex) return undefined;
    }
    if (res.status !== 200) throw await session.fail(res, ctx);
    descriptors.push(...parseIndex(res.body, repo, `the referrers of ${digest}`));
    checkCount(descriptors.length, repo, digest);
    const next = parseLinkNext(header(res.headers, "link"));
    if (!next) return descriptors;
    const url = new URL(next, res.url);
    if (seen.has(url.href)) return descriptors;
    seen.add(url.href);
    target = url;
  }
}

/** The fallback index under `sha256-<hex>`, or [] when there is none. */
async function referrersByTag(
  session: RegistrySession,
  repo: RepositoryRef,
  digest: string,
): Promise<{ descriptors: ReferrerDescriptor[]; index: unknown }> {
  const tag = referrersTag(digest);
  const ctx = { ...ctxOf(repo), action: `fetch referrers index ${tag}` };
  const res = await session.call({
    registry: repo.registry,
    method: "GET",
    target: `${v2(repo)}/manifests/${tag}`,
    headers: { accept: MEDIA_TYPES.ociIndex },
    scopes: [repositoryScope(repo.repository, ["pull"])],
    ctx,
    maxBodyBytes: MAX_MANIFEST_BYTES,
    limitReason: "a referrers index is a manifest, at most 4 MiB",
  });
  if (res.status === 404) return { descriptors: [], index: undefined };
  if (res.status !== 200) throw await session.fail(res, ctx);
  const descriptors = parseIndex(res.body, repo, `the referrers tag ${tag}`);
  checkCount(descriptors.length, repo, digest);
  return { descriptors, index: JSON.parse(res.body.toString("utf8")) as unknown };
}

/** The manifests that refer to `digest`, from the referrers API or else the tag schema. */
export async function listReferrers(
  session: RegistrySession,
  repo: RepositoryRef,
  digest: string,
): Promise<Referrers> {
  const fromApi = await referrersApi(session, repo, digest);
  if (fromApi !== undefined) return { descriptors: fromApi, via: "api" };
  return { descriptors: (await referrersByTag(session, repo, digest)).descriptors, via: "tag" };
}

/**
 * Pushes `manifest` (whose `subject` is `subjectDigest`) by its digest, and where the registry
 * has no referrers API adds it to the `sha256-<hex>` fallback index (kept sorted by digest, as
 * go-containerregistry does). Returns the referrer's digest and how it can be found.
 */
export async function pushReferrer(
  session: RegistrySession,
  repo: RepositoryRef,
  subjectDigest: string,
  manifest: Buffer,
  descriptor: { artifactType: string },
): Promise<{ digest: string; via: "api" | "tag" }> {
  const digest = sha256Digest(manifest);
  await pushManifest(session, repo, digest, manifest, MEDIA_TYPES.ociManifest);
  if ((await referrersApi(session, repo, subjectDigest)) !== undefined) {
    return { digest, via: "api" };
  }
  const { descriptors, index } = await referrersByTag(session, repo, subjectDigest);
  if (descriptors.some((d) => d.digest === digest)) return { digest, via: "tag" };
  const add: ReferrerDescriptor = {
    mediaType: MEDIA_TYPES.ociManifest,
    digest,
    size: manifest.length,
    artifactType: descriptor.artifactType,
  };
  const existing = (index as { manifests?: unknown[] } | undefined)?.manifests ?? [];
  const manifests = [...existing, add].sort((a, b) => {
    const da = String((a as { digest?: unknown }).digest);
    const db = String((b as { digest?: unknown }).digest);
    return da < db ? -1 : da > db ? 1 : 0;
  });
  const updated = Buffer.from(
    JSON.stringify({
      ...(index && typeof index === "object" ? index : {}),
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests,
    }),
    "utf8",
  );
  await pushManifest(session, repo, referrersTag(subjectDigest), updated, MEDIA_TYPES.ociIndex);
  return { digest, via: "tag" };
}

function checkCount(count: number, repo: RepositoryRef, digest: string): void {
  if (count > MAX_REFERRERS) {
    throw new KsailError(
      "registry",
      `${repo.registry} lists more than ${MAX_REFERRERS} referrers of ${digest} in ${repo.repository}; ksail stopped reading`,
      {
        code: "SIZE_EXCEEDED",
        hint: "An artifact has a handful of signatures and attestations; check what pushed the others, and delete them.",
      },
    );
  }
}

function parseIndex(body: Buffer, repo: RepositoryRef, what: string): ReferrerDescriptor[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new KsailError("registry", `${repo.registry} answered ${what} with invalid JSON`);
  }
  const manifests = (value as { manifests?: unknown } | null)?.manifests;
  if (manifests === undefined || manifests === null) return [];
  if (!Array.isArray(manifests)) {
    throw new KsailError(
      "registry",
      `${repo.registry} answered ${what} with an index whose manifests is not a list`,
    );
  }
  if (manifests.length > MAX_REFERRERS) return manifests as ReferrerDescriptor[]; // checkCount refuses it
  const out: ReferrerDescriptor[] = [];
  for (const entry of manifests as unknown[]) {
    const d = entry as Partial<ReferrerDescriptor> | null;
    if (
      d === null ||
      typeof d !== "object" ||
      typeof d.mediaType !== "string" ||
      typeof d.digest !== "string" ||
      typeof d.size !== "number"
    ) {
      continue; // not a descriptor: nothing ksail could fetch
    }
    out.push({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      ...(typeof d.artifactType === "string" ? { artifactType: d.artifactType } : {}),
      ...(d.annotations && typeof d.annotations === "object" ? { annotations: d.annotations } : {}),
    });
  }
  return out;
}
