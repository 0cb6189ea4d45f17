/**
 * The registry's record of a rollback: the tag `ksail-pinned` on the pinned version's digest.
 * `push` reads it to warn without a cluster; `prune` keeps the version it points at. The cluster's
 * OCIRepository (../flux/pin.ts) stays the truth; this module loads no Kubernetes client.
 */
import type { RegistryClient } from "../oci/client.js";
import { silentProgress, type Progress } from "../progress.js";
import type { RepositoryRef } from "../oci/reference.js";
import { moveTagsAway } from "./untag.js";
import { listVersions, type VersionInfo } from "./versions.js";

export const PINNED_TAG = "ksail-pinned";

/** Versions whose digest is `digest`, lowest first. */
export function versionsOf(versions: readonly VersionInfo[], digest: string | undefined): string[] {
  return versions.filter((v) => v.digest === digest).map((v) => v.version);
}

/** The version the registry's ksail-pinned tag points at (for push and prune), if any. */
export async function pinnedVersion(
  client: RegistryClient,
  repository: RepositoryRef,
): Promise<{ digest: string; versions: string[] } | undefined> {
  const digest = await client.tagDigest(repository, PINNED_TAG);
  if (digest === undefined) return undefined;
  const versions = await listVersions({ client }, { repository });
  return { digest, versions: versionsOf(versions, digest) };
}

/** The warning push, `reconcile --push` and watch print while the cluster is pinned. */
export function pinnedWarning(pinned: string, pushed?: string): string {
  return `the cluster is pinned to ${pinned} by \`ksail workload rollback\`${pushed ? `; ${pushed} is pushed but Flux will not apply it` : ""} — resume following the newest version with \`ksail workload rollback --resume\``;
}

/** Points the ksail-pinned tag at `digest` (the pinned version's manifest). */
export async function tagPinned(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
): Promise<void> {
  const { bytes, mediaType } = await client.fetchManifest(repository, digest);
  await client.pushManifest(repository, PINNED_TAG, bytes, mediaType);
}

/** Removes the ksail-pinned tag (and only the tag), on registries with and without tag deletion. */
export async function untagPinned(
  client: RegistryClient,
  repository: RepositoryRef,
  progress: Progress = silentProgress,
): Promise<void> {
  if ((await client.tagDigest(repository, PINNED_TAG)) === undefined) return;
  await progress.step(`Remove tag ${PINNED_TAG}`, async () => {
    try {
      await client.deleteTag(repository, PINNED_TAG);
    } catch {
      // A registry without tag deletion (distribution 2.x answers 400). Deleting the pinned
      // manifest by digest would delete the version itself, so the tag is moved to a marker
      // manifest of its own first, and that marker is deleted: the tag goes with it.
      await moveTagsAway(client, repository, [PINNED_TAG], { purpose: "unpinned" });
    }
  });
}
