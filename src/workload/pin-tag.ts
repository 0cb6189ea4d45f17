/**
 * The registry's record of a rollback: the tag `ksail-pinned` on the pinned version's digest.
 * `push` reads it to warn without a cluster; `prune` keeps the version it points at. The cluster's
 * OCIRepository (../flux/pin.ts) stays the truth; this module loads no Kubernetes client.
 */
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
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
