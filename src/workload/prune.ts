/**
 * `ksail workload prune` (FR-018): delete old versions by digest, then reclaim the space.
 * Never deletes the newest N versions, `latest`'s target, or a digest that a kept tag
 * still points at (a DELETE by digest removes every tag on it).
 */
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { KsailError } from "../errors.js";
import { silentProgress, type Progress } from "../progress.js";
import { listVersions, type VersionInfo } from "./versions.js";

export interface PruneOptions {
  /** Newest versions to keep (≥ 1). */
  keep: number;
  /** Only delete versions created longer ago than this. */
  olderThanMs?: number;
  dryRun?: boolean;
  now?: Date;
}

export interface KeptVersion {
  version: string;
  digest: string;
  reason: "newest" | "latest" | "shares-digest-with-kept" | "newer-than-cutoff" | "no-created-time";
}

export interface PrunePlan {
  kept: KeptVersion[];
  deleted: VersionInfo[];
  /** Distinct digests to DELETE. */
  digests: string[];
  /** Bytes the deleted versions' blobs take (shared blobs counted once per version). */
  bytes: number;
}

/** Reclaims the space of deleted blobs; returns its own report. */
export type GarbageCollector = () => Promise<string>;

export interface PruneResult extends PrunePlan {
  repository: string;
  dryRun: boolean;
  garbageCollection: "ran" | "skipped" | "registry-managed";
  garbageCollectionOutput?: string;
}

export function planPrune(versions: readonly VersionInfo[], options: PruneOptions): PrunePlan {
  if (!Number.isInteger(options.keep) || options.keep < 1) {
    throw new KsailError("usage", `--keep must be at least 1, got ${options.keep}`);
  }
  const now = (options.now ?? new Date()).getTime();
  const newest = new Set(versions.slice(-options.keep).map((v) => v.version));
  const kept: KeptVersion[] = [];
  const candidates: VersionInfo[] = [];
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
  const keptDigests = new Set(kept.map((k) => k.digest));
  const deleted: VersionInfo[] = [];
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
  kept.sort(
    (a, b) =>
      versions.findIndex((v) => v.version === a.version) -
      versions.findIndex((v) => v.version === b.version),
  );
  return {
    kept,
    deleted,
    digests: [...new Set(deleted.map((v) => v.digest))],
    bytes: deleted.reduce((sum, v) => sum + v.size, 0),
  };
}

export interface PruneDeps {
  client: RegistryClient;
  /** The local registry's collector; without one the registry's own GC reclaims the space. */
  garbageCollect?: GarbageCollector | undefined;
}

export async function pruneWorkload(
  deps: PruneDeps,
  options: PruneOptions & { repository: RepositoryRef },
  progress: Progress = silentProgress,
): Promise<PruneResult> {
  const { client, garbageCollect } = deps;
  const { repository } = options;
  const name = formatRepository(repository);
  const versions = await progress.step(
    `List versions of ${name}`,
    () => listVersions({ client }, { repository }),
    (v) => `Found ${v.length} versions of ${name}`,
  );
  const plan = planPrune(versions, options);
  const result: PruneResult = {
    ...plan,
    repository: name,
    dryRun: options.dryRun ?? false,
    garbageCollection: "skipped",
  };
  if (options.dryRun || plan.digests.length === 0) return result;

  await progress.step(
    "Delete versions",
    async () => {
      for (const digest of plan.digests) await client.deleteManifest(repository, digest);
    },
    () => `Deleted ${plan.deleted.length} version(s) (${plan.digests.length} manifest(s))`,
  );
  if (garbageCollect) {
    result.garbageCollectionOutput = await progress.step(
      "Garbage-collect registry",
      garbageCollect,
      () => "Garbage-collected the registry; unreferenced blobs are gone",
    );
    result.garbageCollection = "ran";
  } else {
    result.garbageCollection = "registry-managed";
  }
  return result;
}
