/**
 * `ksail workload prune` (FR-018): delete old versions by digest, then reclaim the space.
 * Never deletes the newest N versions, `latest`'s target, or a digest that a kept tag
 * still points at (a DELETE by digest removes every tag on it) — including tags pushed while
 * the prune runs: the tags are read again right before each delete (see TagGuard).
 */
import { count } from "../util/plural.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { KsailError } from "../errors.js";
import { mapLimit } from "../util/map-limit.js";
import { pruneSignatures } from "./verify.js";
import { silentProgress, type Progress } from "../progress.js";
import {
  LATEST_TAG,
  listVersionDetails,
  semverTags,
  type BlobRef,
  type VersionDetail,
  type VersionInfo,
} from "./versions.js";

export interface PruneOptions {
  /** Newest versions to keep (≥ 1). */
  keep: number;
  /** Only delete versions created longer ago than this. */
  olderThanMs?: number;
  dryRun?: boolean;
  now?: Date;
  /** Digests that tags other than versions point at (kept like latest's target). */
  taggedDigests?: ReadonlySet<string>;
  /** Deletes in flight at once (default 8). */
  concurrency?: number;
}

export interface KeptVersion {
  version: string;
  digest: string;
  reason:
    | "newest"
    | "latest"
    | "shares-digest-with-kept"
    | "newer-than-cutoff"
    | "no-created-time"
    /** Another tag (pushed while prune ran, or not a version) points at its digest. */
    | "tagged-since-planning";
}

export interface PrunePlan {
  kept: KeptVersion[];
  deleted: VersionInfo[];
  /** Distinct digests to DELETE. */
  digests: string[];
  /** Bytes freed: each blob of a deleted version that no kept version names, counted once. */
  bytes: number;
}

/** Reclaims the space of deleted blobs; returns its own report. */
export type GarbageCollector = () => Promise<string>;

export interface PruneResult extends PrunePlan {
  repository: string;
  /** Cosign signatures (sha256-<hex>.sig) of the deleted versions, deleted with them. */
  signatures: { digest: string; tag: string }[];
  dryRun: boolean;
  garbageCollection: "ran" | "skipped" | "registry-managed";
  garbageCollectionOutput?: string;
  /** Why the local registry's collection did not run (its engine was not reachable). */
  garbageCollectionSkipped?: string;
}

/** A version as planning sees it; `blobs` (when known) makes `bytes` count shared blobs once. */
type PlannedVersion = VersionInfo & { blobs?: readonly BlobRef[] };

export const DEFAULT_DELETE_CONCURRENCY = 8;

export function planPrune(versions: readonly PlannedVersion[], options: PruneOptions): PrunePlan {
  if (!Number.isInteger(options.keep) || options.keep < 1) {
    throw new KsailError("usage", `--keep must be at least 1, got ${options.keep}`);
  }
  const now = (options.now ?? new Date()).getTime();
  const newest = new Set(versions.slice(-options.keep).map((v) => v.version));
  const kept: KeptVersion[] = [];
  const candidates: PlannedVersion[] = [];
  for (const version of versions) {
    const keep = (reason: KeptVersion["reason"]) =>
      kept.push({ version: version.version, digest: version.digest, reason });
    if (newest.has(version.version)) keep("newest");
    else if (version.latest) keep("latest");
    else if (options.olderThanMs !== undefined && version.created === undefined)
      keep("no-created-time");
    else if (
      options.olderThanMs !== undefined &&
      now - Date.parse(version.created as string) <= options.olderThanMs
    )
      keep("newer-than-cutoff");
    else candidates.push(version);
  }
  const keptDigests = new Set([...kept.map((k) => k.digest), ...(options.taggedDigests ?? [])]);
  const deleted: PlannedVersion[] = [];
  for (const candidate of candidates) {
    if (keptDigests.has(candidate.digest)) {
      kept.push({
        version: candidate.version,
        digest: candidate.digest,
        reason: "shares-digest-with-kept",
      });
    } else {
      deleted.push(candidate);
    }
  }
  const order = new Map(versions.map((v, i) => [v.version, i]));
  kept.sort((a, b) => (order.get(a.version) ?? 0) - (order.get(b.version) ?? 0));
  const keptVersions = new Set(kept.map((k) => k.version));
  return {
    kept,
    deleted: deleted.map(withoutBlobs),
    digests: [...new Set(deleted.map((v) => v.digest))],
    bytes: freedBytes(
      deleted,
      versions.filter((v) => keptVersions.has(v.version)),
    ),
  };
}

function withoutBlobs({ blobs: _blobs, ...info }: PlannedVersion): VersionInfo {
  return info;
}

/**
 * The space deleting `deleted` frees: each blob once, and none that a kept version still
 * names (configs and unchanged layers are shared). Without blob lists, the versions' sizes.
 */
export function freedBytes(
  deleted: readonly PlannedVersion[],
  kept: readonly PlannedVersion[],
): number {
  if (deleted.some((v) => v.blobs === undefined))
    return deleted.reduce((sum, v) => sum + v.size, 0);
  const stillUsed = new Set(kept.flatMap((v) => (v.blobs ?? []).map((b) => b.digest)));
  const freed = new Map<string, number>();
  for (const version of deleted) {
    for (const blob of version.blobs ?? []) {
      if (!stillUsed.has(blob.digest)) freed.set(blob.digest, blob.size);
    }
  }
  let bytes = 0;
  for (const size of freed.values()) bytes += size;
  return bytes;
}

export interface PruneDeps {
  client: RegistryClient;
  /** The local registry's collector; without one the registry's own GC reclaims the space. */
  garbageCollect?: GarbageCollector | undefined;
  /**
   * Set instead of `garbageCollect` when the local registry's collector cannot run now (no
   * container engine): the versions are still deleted, and a warning says to collect later.
   */
  garbageCollectUnavailable?: { reason: string; later: string } | undefined;
}

export async function pruneWorkload(
  deps: PruneDeps,
  options: PruneOptions & { repository: RepositoryRef },
  progress: Progress = silentProgress,
): Promise<PruneResult> {
  const { client, garbageCollect, garbageCollectUnavailable } = deps;
  const { repository } = options;
  const name = formatRepository(repository);
  const [versions, taggedDigests] = await progress.step(
    `List versions of ${name}`,
    () =>
      Promise.all([
        listVersionDetails({ client }, { repository }),
        otherTagDigests(client, repository),
      ]),
    ([v]) => `Found ${v.length} versions of ${name}`,
  );
  const plan = planPrune(versions, { ...options, taggedDigests });
  const result: PruneResult = {
    ...plan,
    repository: name,
    dryRun: options.dryRun ?? false,
    signatures: [],
    garbageCollection: "skipped",
  };
  if (plan.digests.length === 0) return result;
  if (options.dryRun) {
    result.signatures = await signaturesFor(client, repository, result, true);
    return result;
  }

  const outcome = await progress.step(
    "Delete versions",
    () =>
      deleteGuarded(
        client,
        repository,
        versions,
        plan,
        options.concurrency ?? DEFAULT_DELETE_CONCURRENCY,
      ),
    (o) =>
      `Deleted ${count(o.deleted.length, "version")} (${count(o.deletedDigests, "manifest")})` +
      (o.spared.length > 0 ? `; kept ${o.spared.length} that gained a tag meanwhile` : ""),
  );
  Object.assign(result, {
    deleted: outcome.deleted.map(withoutBlobs),
    digests: outcome.digests,
    bytes: outcome.bytes,
  });
  if (outcome.spared.length > 0) {
    const order = new Map(versions.map((v, i) => [v.version, i]));
    result.kept = [...result.kept, ...outcome.spared].sort(
      (a, b) => (order.get(a.version) ?? 0) - (order.get(b.version) ?? 0),
    );
  }
  result.signatures = await progress.step(
    "Delete signatures of deleted versions",
    () => signaturesFor(client, repository, result, false),
    (s) => `Deleted ${count(s.length, "signature")} of deleted versions`,
  );
  if (garbageCollect) {
    result.garbageCollectionOutput = await progress.step(
      "Garbage-collect registry",
      garbageCollect,
      () => "Garbage-collected the registry; unreferenced blobs are gone",
    );
    result.garbageCollection = "ran";
  } else if (garbageCollectUnavailable) {
    result.garbageCollectionSkipped = garbageCollectUnavailable.reason;
    progress.warn(
      `garbage collection skipped (${garbageCollectUnavailable.reason}); the deleted versions' blobs take space until \`${garbageCollectUnavailable.later}\` runs`,
    );
  } else {
    result.garbageCollection = "registry-managed";
  }
  return result;
}

/** The signatures of `result`'s deleted versions; none of a kept version's (see pruneSignatures). */
async function signaturesFor(
  client: RegistryClient,
  repository: RepositoryRef,
  result: PruneResult,
  dryRun: boolean,
): Promise<{ digest: string; tag: string }[]> {
  const pruned = await pruneSignatures(
    { client },
    {
      repository,
      deletedDigests: result.digests,
      keptDigests: result.kept.map((k) => k.digest),
      dryRun,
    },
  );
  return pruned.deleted.map(({ digest, tag }) => ({ digest, tag }));
}

/** Digests of the tags that are neither versions nor `latest` (another tool's, e.g. "stable"). */
async function otherTagDigests(
  client: RegistryClient,
  repository: RepositoryRef,
): Promise<Set<string>> {
  const tags = await client.listTags(repository);
  const versions = new Set(semverTags(tags));
  const others = tags.filter((t) => !versions.has(t) && t !== LATEST_TAG);
  const digests = new Set<string>();
  await mapLimit(others, 8, async (tag) => {
    const found = await client.resolve(repository, tag);
    if (found) digests.add(found.digest);
  });
  return digests;
}

interface DeleteOutcome {
  deleted: VersionDetail[];
  digests: string[];
  deletedDigests: number;
  spared: KeptVersion[];
  bytes: number;
}

/**
 * Deletes the planned versions, at most `concurrency` requests at a time, in two phases.
 *
 * 1. Their tags, where the registry deletes tags (distribution v3 does; 2.x answers 400): one
 *    tag is cheap to remove, while a DELETE by digest makes distribution read every tag of the
 *    repository — with the tags gone first, the digest deletes scan only the kept ones. Removing
 *    a version's tag cannot hurt a version pushed meanwhile: that one has its own tag.
 * 2. The digests. Right before each DELETE the tags are read again (one tag list shared by the
 *    deletes waiting at that moment, plus a resolve of every tag that is not a known version);
 *    a digest that any tag other than the versions being deleted now points at is spared.
 *
 * A tag or manifest that is already gone (another prune deleted it) counts as deleted. A run
 * that stops between the phases leaves untagged manifests: the local registry's garbage
 * collection removes them (--delete-untagged), other registries' own collection too.
 */
async function deleteGuarded(
  client: RegistryClient,
  repository: RepositoryRef,
  versions: readonly VersionDetail[],
  plan: PrunePlan,
  concurrency: number,
): Promise<DeleteOutcome> {
  const limit = Math.max(1, concurrency);
  const deleting = new Set(plan.deleted.map((v) => v.version));
  const untagged = await untagVersions(client, repository, [...deleting], limit);
  const guard = new TagGuard(client, repository, versions, deleting);
  const spared = new Set<string>();
  let failed = false;
  await mapLimit(plan.digests, limit, async (digest) => {
    if (failed) return;
    try {
      const protectedDigests = await guard.fresh();
      if (protectedDigests.has(digest)) {
        spared.add(digest);
        return;
      }
      await client.deleteManifest(repository, digest);
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return;
      failed = true;
      throw error;
    }
  });
  // A version is deleted when its tag is gone; its manifest stays when another tag uses it.
  const isDeleted = (v: VersionDetail) =>
    deleting.has(v.version) && (untagged || !spared.has(v.digest));
  const deleted = versions.filter(isDeleted);
  const remaining = versions.filter((v) => !deleting.has(v.version) || spared.has(v.digest));
  return {
    deleted,
    digests: plan.digests.filter((d) => !spared.has(d)),
    deletedDigests: plan.digests.length - spared.size,
    spared: versions
      .filter((v) => deleting.has(v.version) && spared.has(v.digest))
      .map((v) => ({
        version: v.version,
        digest: v.digest,
        reason: "tagged-since-planning" as const,
      }))
      .filter(() => !untagged),
    bytes: freedBytes(
      versions.filter((v) => deleting.has(v.version) && !spared.has(v.digest)),
      remaining,
    ),
  };
}

/**
 * Phase 1 of deleteGuarded: removes `tags`. The first answers tell whether the registry deletes
 * tags at all; false when it does not (then nothing was removed).
 */
async function untagVersions(
  client: RegistryClient,
  repository: RepositoryRef,
  tags: readonly string[],
  limit: number,
): Promise<boolean> {
  const gone = (error: unknown) => error instanceof KsailError && error.kind === "not-found";
  let next = 0;
  // One at a time until the registry has shown that it deletes tags.
  for (; next < tags.length; next++) {
    try {
      await client.deleteTag(repository, tags[next] as string);
      next++;
      break;
    } catch (error) {
      if (gone(error)) {
        // Gone already (a concurrent prune), or a registry that reads the tag as a digest.
        if (await client.resolve(repository, tags[next] as string)) return false;
        continue;
      }
      if (error instanceof KsailError && error.kind === "registry") return false;
      throw error;
    }
  }
  await mapLimit(tags.slice(next), limit, async (tag) => {
    try {
      await client.deleteTag(repository, tag);
    } catch (error) {
      if (!gone(error)) throw error;
    }
  });
  return true;
}

/**
 * The digests that tags other than the versions being deleted point at, re-read on demand.
 * `fresh()` answers with a reading that started after the call; callers that ask while a
 * reading runs share the next one, so N parallel deletes cost far fewer than N tag lists.
 * Version tags already seen keep their digest (versions are immutable); every other tag
 * (`latest`, tags of other tools) is resolved again on each reading.
 */
class TagGuard {
  private readonly digestOf = new Map<string, string>();
  private current: Promise<Set<string>> | undefined;
  private next: Promise<Set<string>> | undefined;

  constructor(
    private readonly client: RegistryClient,
    private readonly repository: RepositoryRef,
    versions: readonly VersionDetail[],
    private readonly deleting: ReadonlySet<string>,
  ) {
    for (const v of versions) this.digestOf.set(v.version, v.digest);
  }

  fresh(): Promise<Set<string>> {
    if (this.next) return this.next;
    if (!this.current) return this.start();
    const next = this.current
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    this.next = next;
    return next;
  }

  private start(): Promise<Set<string>> {
    const run = this.read();
    this.current = run;
    const clear = () => {
      if (this.current === run) this.current = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  private async read(): Promise<Set<string>> {
    const tags = await this.client.listTags(this.repository);
    const versions = new Set(semverTags(tags));
    const protectedDigests = new Set<string>();
    const unknown: string[] = [];
    for (const tag of tags) {
      if (this.deleting.has(tag)) continue;
      const known = versions.has(tag) ? this.digestOf.get(tag) : undefined;
      if (known) protectedDigests.add(known);
      else unknown.push(tag);
    }
    await mapLimit(unknown, 8, async (tag) => {
      const found = await this.client.resolve(this.repository, tag);
      if (!found) return; // deleted meanwhile
      protectedDigests.add(found.digest);
      if (versions.has(tag)) this.digestOf.set(tag, found.digest);
    });
    return protectedDigests;
  }
}
