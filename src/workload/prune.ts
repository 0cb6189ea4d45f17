/**
 * `ksail workload prune` (FR-018): delete old versions by digest, then reclaim the space.
 * Never deletes the newest N versions, `latest`'s target, or a digest that a kept tag
 * still points at (a DELETE by digest removes every tag on it) — including tags pushed while
 * the prune runs: the tags are read again right before each delete (see TagGuard).
 * A version's tag always goes (on registries without tag deletion via a marker, see untag.ts).
 */
import { count } from "../util/plural.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { KsailError } from "../errors.js";
import { mapLimit } from "../util/map-limit.js";
import { PINNED_TAG } from "./pin-tag.js";
import { moveTagsAway } from "./untag.js";
import { pruneReferrers, pruneSignatures, type ReferrerToDelete } from "./verify.js";
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
  /** The digest the cluster is pinned to (`ksail workload rollback`): never deleted. */
  pinnedDigest?: string;
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
    /** The cluster is pinned to it (`ksail workload rollback`). */
    | "pinned";
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
  /**
   * Referrers of the deleted versions (cosign v3 signature bundles, other tools' attestations)
   * and their `sha256-<hex>` fallback indexes, deleted with them.
   */
  referrers: ReferrerToDelete[];
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
    else if (version.digest === options.pinnedDigest) keep("pinned");
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
  const markers = new Set<string>();
  const [versions, taggedDigests, pinnedDigest] = await progress.step(
    `List versions of ${name}`,
    () =>
      Promise.all([
        listVersionDetails({ client }, { repository, markers }),
        otherTagDigests(client, repository),
        client.tagDigest(repository, PINNED_TAG),
      ]),
    ([v]) => `Found ${v.length} versions of ${name}`,
  );
  const plan = planPrune(versions, {
    ...options,
    taggedDigests,
    ...(pinnedDigest ? { pinnedDigest } : {}),
  });
  const result: PruneResult = {
    ...plan,
    repository: name,
    dryRun: options.dryRun ?? false,
    signatures: [],
    referrers: [],
    garbageCollection: "skipped",
  };
  if (!options.dryRun) {
    // Tags a stopped prune left on its untag marker (see untag.ts) go with the marker.
    await mapLimit([...markers], 8, (digest) =>
      client.deleteManifest(repository, digest, { missingOk: true }),
    );
  }
  if (plan.digests.length === 0) return result;
  if (options.dryRun) {
    result.signatures = await signaturesFor(client, repository, result, true);
    result.referrers = await referrersFor(client, repository, result, true);
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
      `Deleted ${count(o.deleted.length, "version")} (${count(o.digests.length, "manifest")})` +
      (o.spared > 0 ? `; kept ${count(o.spared, "manifest")} a tag pushed meanwhile uses` : ""),
  );
  Object.assign(result, {
    deleted: outcome.deleted.map(withoutBlobs),
    digests: outcome.digests,
    bytes: outcome.bytes,
  });
  result.signatures = await progress.step(
    "Delete signatures of deleted versions",
    () => signaturesFor(client, repository, result, false),
    (s) => `Deleted ${count(s.length, "signature")} of deleted versions`,
  );
  result.referrers = await progress.step(
    "Delete referrers of deleted versions",
    () => referrersFor(client, repository, result, false),
    (r) =>
      `Deleted ${count(r.filter((x) => x.kind !== "index").length, "referrer")} of deleted versions (${count(r.filter((x) => x.kind === "bundle").length, "signature bundle")})`,
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

/** The referrers (bundles, …) of `result`'s deleted versions (see pruneReferrers). */
function referrersFor(
  client: RegistryClient,
  repository: RepositoryRef,
  result: PruneResult,
  dryRun: boolean,
): Promise<ReferrerToDelete[]> {
  return pruneReferrers(
    { client },
    {
      repository,
      deletedDigests: result.digests,
      keptDigests: result.kept.map((k) => k.digest),
      dryRun,
    },
  );
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
  /** Planned manifests left in place: a tag pushed meanwhile points at them. */
  spared: number;
  bytes: number;
}

/**
 * Deletes the planned versions, at most `concurrency` requests at a time, in two phases.
 *
 * 1. Their tags (see untagVersions): one tag is cheap to remove, while a DELETE by digest makes
 *    distribution read every tag of the repository — with the tags gone first, the digest
 *    deletes scan only the kept ones. Removing a version's tag cannot hurt a version pushed
 *    meanwhile: that one has its own tag.
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
  await untagVersions(client, repository, [...deleting], limit);
  const guard = new TagGuard(client, repository, versions, deleting);
  const spared = new Set<string>();
  let failed = false;
  await mapLimit(plan.digests, limit, async (digest) => {
    if (failed) return;
    try {
      for (let attempt = 1; ; attempt++) {
        if ((await guard.fresh()).has(digest)) {
          spared.add(digest);
          return;
        }
        try {
          await client.deleteManifest(repository, digest);
          return;
        } catch (error) {
          // distribution v3 answers 400 DIGEST_INVALID while a push writes the same manifest
          // (its link is half-written): read the tags again — the push's tag spares it.
          if (attempt > 1 || !(error instanceof KsailError && error.code === "DIGEST_INVALID"))
            throw error;
        }
      }
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return;
      failed = true;
      throw error;
    }
  });
  // Every planned version lost its tag; a spared manifest stays for the tag that uses it now.
  return {
    deleted: versions.filter((v) => deleting.has(v.version)),
    digests: plan.digests.filter((d) => !spared.has(d)),
    spared: spared.size,
    bytes: freedBytes(
      versions.filter((v) => deleting.has(v.version) && !spared.has(v.digest)),
      versions.filter((v) => !deleting.has(v.version) || spared.has(v.digest)),
    ),
  };
}

/**
 * Phase 1 of deleteGuarded: removes `tags`. The first answer tells whether the registry deletes
 * tags; where it does not (distribution 2.x), the tags are moved to one marker manifest that is
 * then deleted (see untag.ts): N PUTs and one DELETE instead of N tag lookups over every tag.
 */
async function untagVersions(
  client: RegistryClient,
  repository: RepositoryRef,
  tags: readonly string[],
  limit: number,
): Promise<void> {
  const gone = (error: unknown) => error instanceof KsailError && error.kind === "not-found";
  let next = 0;
  // One at a time until the registry has shown that it deletes tags.
  for (; next < tags.length; next++) {
    try {
      await client.deleteTag(repository, tags[next] as string);
      next++;
      break;
    } catch (error) {
      const refused = error instanceof KsailError && error.kind === "registry";
      // Gone already (a concurrent prune), or a registry that reads the tag as a digest.
      if (gone(error) && !(await client.resolve(repository, tags[next] as string))) continue;
      if (!refused && !gone(error)) throw error;
      await moveTagsAway(client, repository, tags.slice(next), {
        concurrency: limit,
        purpose: "pruned",
      });
      return;
    }
  }
  await mapLimit(tags.slice(next), limit, async (tag) => {
    try {
      await client.deleteTag(repository, tag);
    } catch (error) {
      if (!gone(error)) throw error;
    }
  });
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
