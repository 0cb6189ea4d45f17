/** Versions of a workload artifact: semver tags, their order, the next one, their metadata. */
// Single functions, not the package index: a push needs neither ranges nor their parser.
import compare from "semver/functions/compare.js";
import inc from "semver/functions/inc.js";
import valid from "semver/functions/valid.js";
import {
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_SOURCE,
} from "../artifact/media-types.js";
import { parseFluxManifest } from "../artifact/manifest.js";
import { KsailError } from "../errors.js";
import { ANNOTATION_IMAGES, parseImagesAnnotation } from "../images/pin.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { mapLimit } from "../util/map-limit.js";
import { isUntagMarker } from "./untag.js";

export const LATEST_TAG = "latest";
export type Bump = "patch" | "minor" | "major";
export const BUMPS: readonly Bump[] = ["patch", "minor", "major"];

export interface VersionInfo {
  version: string;
  digest: string;
  /** org.opencontainers.image.created, when the artifact carries one. */
  created?: string;
  /** Bytes stored for this version: config + layer. */
  size: number;
  source?: string;
  revision?: string;
  /** True when `latest` points at this version's digest. */
  latest: boolean;
  /** The images the version pins (spec.images): name → image@digest. */
  images?: Record<string, string>;
}

/**
 * The version a tag spells, or undefined when it is no semantic version. A version has two
 * spellings as a tag, `1.2.3` and `v1.2.3`: Flux's `ref.semver` reads both as 1.2.3 (it strips
 * one leading "v", then parses strictly), and so does ksail. ksail writes only the first.
 */
export function versionOf(tag: string): string | undefined {
  const version = valid(tag);
  return version !== null && (tag === version || tag === `v${version}`) ? version : undefined;
}

/**
 * Tags that are semantic versions, lowest first. Of two spellings of one version the plain one
 * comes last, so `.at(-1)` — the highest version, which `latest` follows — prefers `1.2.3` over
 * `v1.2.3`.
 */
export function semverTags(tags: readonly string[]): string[] {
  return tags
    .filter((tag) => versionOf(tag) !== undefined)
    .sort((a, b) => compare(a, b) || Number(b.startsWith("v")) - Number(a.startsWith("v")));
}

/** Every tag in `tags` that spells `version` (`1.2.3`, `v1.2.3`), the plain spelling first. */
export function tagsOfVersion(tags: readonly string[], version: string): string[] {
  return semverTags(tags)
    .filter((tag) => versionOf(tag) === version)
    .reverse();
}

/** The highest semver tag bumped; 0.0.0 is the base of an empty repository. */
export function nextVersion(tags: readonly string[], bump: Bump): string {
  const highest = semverTags(tags).at(-1) ?? "0.0.0";
  const next = inc(highest, bump);
  if (next === null) throw new KsailError("usage", `cannot bump "${highest}" by ${bump}`);
  return next;
}

/**
 * The version `--version` names, in the one spelling ksail tags: `v1.2.3` is version 1.2.3
 * (as Flux reads the tag `v1.2.3`), so it is tagged `1.2.3`. Build metadata (`+…`) cannot be
 * part of an OCI tag and is refused.
 */
export function assertVersion(version: string): string {
  const parsed = versionOf(version);
  if (parsed === undefined) {
    throw new KsailError("usage", `"${version}" is not a semantic version`, {
      hint: version.includes("+")
        ? "OCI tags cannot hold build metadata (+…): leave it out, or use a pre-release such as 1.3.0-rc.1."
        : "Use MAJOR.MINOR.PATCH, e.g. --version 1.2.3 (pre-releases such as 1.3.0-rc.1 work too).",
    });
  }
  return parsed;
}

/** Every semver version in the repository with its metadata, lowest first (SC-008: 50+ versions). */
export async function listVersions(
  deps: { client: RegistryClient },
  input: { repository: RepositoryRef; concurrency?: number },
): Promise<VersionInfo[]> {
  const details = await listVersionDetails(deps, input);
  return details.map(({ blobs: _blobs, ...info }) => info);
}

/** A blob a manifest names, with the size the manifest gives it. */
export interface BlobRef {
  digest: string;
  size: number;
}

/** A version with the blobs its manifest names (config and layer). */
export interface VersionDetail extends VersionInfo {
  blobs: BlobRef[];
}

/**
 * listVersions, plus each version's blobs (what prune needs to count freed space). A tag left on
 * an untag marker (a prune stopped half-way, see untag.ts) is no version: its marker's digest
 * goes into `markers` when given.
 */
export async function listVersionDetails(
  deps: { client: RegistryClient },
  input: { repository: RepositoryRef; concurrency?: number; markers?: Set<string> },
): Promise<VersionDetail[]> {
  const { client } = deps;
  const { repository } = input;
  const tags = await client.listTags(repository);
  const versions = semverTags(tags);
  const latest = tags.includes(LATEST_TAG)
    ? await client.resolve(repository, LATEST_TAG)
    : undefined;
  const found = await mapLimit(versions, input.concurrency ?? 8, async (version) => {
    // A tag deleted between the listing and this read (a concurrent prune) is no version.
    const fetched = await client.fetchManifest(repository, version).catch((error: unknown) => {
      if (error instanceof KsailError && error.kind === "not-found") return undefined;
      throw error;
    });
    if (!fetched) return undefined;
    const { bytes, digest } = fetched;
    if (isUntagMarker(bytes)) {
      input.markers?.add(digest);
      return undefined;
    }
    const manifest = parseFluxManifest(bytes);
    const config = JSON.parse(bytes.toString("utf8")) as { config?: { size?: number } };
    const configSize = config.config?.size ?? 0;
    const info: VersionDetail = {
      version,
      digest,
      size: configSize + manifest.layer.size,
      latest: latest?.digest === digest,
      blobs: [
        { digest: manifest.configDigest, size: configSize },
        { digest: manifest.layer.digest, size: manifest.layer.size },
      ],
    };
    const created = manifest.annotations[ANNOTATION_CREATED];
    const source = manifest.annotations[ANNOTATION_SOURCE];
    const revision = manifest.annotations[ANNOTATION_REVISION];
    if (created) info.created = created;
    if (source) info.source = source;
    if (revision) info.revision = revision;
    const images = parseImagesAnnotation(manifest.annotations[ANNOTATION_IMAGES]);
    if (images) info.images = images;
    return info;
  });
  return found.filter((v) => v !== undefined);
}

/**
 * The error for a version (or tag) the user named that the repository does not have: which
 * version is newest instead, and where to see them all. `cause` is the registry's own answer.
 */
export async function versionNotFound(
  client: RegistryClient,
  repository: RepositoryRef,
  reference: string,
  cause?: unknown,
): Promise<KsailError> {
  const name = `${repository.registry}/${repository.repository}`;
  const tags = await client.listTags(repository).catch(() => [] as string[]);
  const highest = semverTags(tags).at(-1);
  if (highest === undefined) {
    return new KsailError(
      "not-found",
      `version ${reference} not found: ${name} has no versions yet`,
      {
        hint: "Push one with `ksail workload push`.",
        cause,
      },
    );
  }
  const latest = tags.includes(LATEST_TAG)
    ? await client.resolve(repository, LATEST_TAG).catch(() => undefined)
    : undefined;
  const head = latest
    ? await client.resolve(repository, highest).catch(() => undefined)
    : undefined;
  const mark = latest !== undefined && latest.digest === head?.digest ? " (latest)" : "";
  // The versions around the one asked for (a pruned one, a typo): what to pick instead.
  const near = nearestVersions(tags, reference);
  const nearest = near.length > 1 || near[0] !== highest ? `; nearest: ${near.join(", ")}` : "";
  return new KsailError(
    "not-found",
    `version ${reference} not found in ${name}; newest: ${highest}${mark}${nearest}`,
    {
      hint: "See `ksail workload versions`.",
      cause,
    },
  );
}

/** The tag to read when the user names no version: `latest`, else the highest version. */
export async function defaultReference(
  client: RegistryClient,
  repository: RepositoryRef,
): Promise<string> {
  const tags = await client.listTags(repository);
  if (tags.includes(LATEST_TAG)) return LATEST_TAG;
  const highest = semverTags(tags).at(-1);
  if (highest) return highest;
  throw new KsailError(
    "not-found",
    `no versions of ${repository.registry}/${repository.repository} exist yet`,
    {
      hint: "Push one with `ksail workload push`.",
    },
  );
}

/** Up to `count` versions nearest to `wanted` (by semver order; the highest when it is no version). */
export function nearestVersions(versions: readonly string[], wanted: string, count = 4): string[] {
  const sorted = semverTags(versions);
  if (valid(wanted) === null) return sorted.slice(-count);
  const at = sorted.findIndex((v) => compare(v, wanted) > 0);
  const split = at < 0 ? sorted.length : at;
  const start = Math.max(0, Math.min(split - Math.ceil(count / 2), sorted.length - count));
  return sorted.slice(start, start + count);
}

/** The digest a version (or `latest`) points at; not-found names the nearest versions. */
export async function resolveVersion(
  client: RegistryClient,
  repository: RepositoryRef,
  version: string,
): Promise<string> {
  const found = await client.resolve(repository, version);
  if (found) return found.digest;
  throw await versionNotFound(client, repository, version);
}
