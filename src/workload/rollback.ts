/**
 * `ksail workload rollback [VERSION]` and `--resume`: make Flux apply one exact version now, and
 * later follow the newest again.
 *
 * Rollback: choose the version (named, or the one before what the cluster runs), verify its
 * signature when a public key is configured, pin the OCIRepository to its digest (../flux/pin.ts),
 * tag that digest `ksail-pinned` in the registry (so `push` can warn without a cluster and
 * `prune` keeps the version), reconcile and wait as `reconcile` does, then check that the
 * Kustomization applied exactly that version's objects (./applied.ts).
 * Resume: remove the pin and the tag, reconcile, check.
 */
import type { KeyObject } from "node:crypto";
import { KsailError } from "../errors.js";
import {
  pinOciRepository,
  readOciRepository,
  revisionDigest,
  unpinOciRepository,
  pinOf,
} from "../flux/pin.js";
import {
  reconcileWorkload,
  type ReconcileResult,
  type ReconcileTarget,
} from "../flux/reconcile.js";
import type { KubeClient } from "../k8s/client.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import { silentProgress, type Progress } from "../progress.js";
import { proveApplied, revisionVersion, type AppliedCheck } from "./applied.js";
import { PINNED_TAG, tagPinned, untagPinned, versionsOf } from "./pin-tag.js";
import { imageDestination, type ImageDestination } from "../images/destination.js";
import { imagesOfVersion, verifyImages, type ImageVerifyResult } from "./image-signatures.js";
import { verifyArtifact } from "./verify.js";
import { listVersions, resolveVersion, semverTags, versionNotFound } from "./versions.js";
import { count } from "../util/plural.js";

export interface RollbackInput {
  target: ReconcileTarget;
  repository: RepositoryRef;
  /** Default: the version before the one the cluster runs. */
  version?: string;
  /**
   * Verify the version's cosign signature with this key before pointing Flux at it, and the
   * signature of each image the version pins (its `dev.ksail.images` annotation).
   */
  publicKey?: KeyObject;
  /** Where this machine reaches the pinned images (the artifact's registry by default). */
  imageDestination?: ImageDestination;
  timeoutMs: number;
  deadline?: number;
}

export interface RollbackResult {
  /** The version the cluster ran before (when known). */
  from?: string;
  version: string;
  digest: string;
  /** The highest version in the repository. */
  latest?: string;
  verified: boolean;
  /** The pinned images' signature checks (with a public key, when the version pins images). */
  images?: ImageVerifyResult[];
  reconcile: ReconcileResult;
  applied: AppliedCheck;
}

export async function rollbackWorkload(
  deps: { kube: KubeClient; client: RegistryClient },
  input: RollbackInput,
  progress: Progress = silentProgress,
): Promise<RollbackResult> {
  const { kube, client } = deps;
  const { target, repository } = input;
  const [repo, versions] = await progress.step(
    `Read the OCIRepository and the versions of ${formatRepository(repository)}`,
    () => Promise.all([readOciRepository(kube, target), listVersions({ client }, { repository })]),
    ([, v]) => `Found ${v.length} versions of ${formatRepository(repository)}`,
  );
  if (!repo) {
    throw new KsailError(
      "not-found",
      `OCIRepository ${target.namespace}/${target.name} does not exist`,
      {
        hint: "Create the Flux objects with `ksail flux sync` (ksail up does it).",
      },
    );
  }
  const running = revisionDigest(repo.status?.artifact?.revision);
  const from = versionsOf(versions, running).at(-1);
  let version = input.version;
  if (version === undefined) {
    if (from === undefined) {
      throw new KsailError(
        "not-found",
        `cannot tell which version the cluster runs (OCIRepository revision ${repo.status?.artifact?.revision ?? "none"}), so there is no "previous" one`,
        {
          hint: "Name the version: ksail workload rollback 0.0.7 (`ksail workload versions` lists them).",
        },
      );
    }
    const index = versions.findIndex((v) => v.version === from);
    const previous = versions
      .slice(0, index)
      .reverse()
      .find((v) => v.digest !== running);
    if (previous === undefined) {
      throw new KsailError("not-found", `no version before ${from} exists to roll back to`, {
        hint: "`ksail workload versions` lists what is there.",
      });
    }
    version = previous.version;
  }
  if (!versions.some((v) => v.version === version)) {
    throw await versionNotFound(client, repository, version);
  }
  const digest = await resolveVersion(client, repository, version);
  let verified = false;
  let images: ImageVerifyResult[] | undefined;
  if (input.publicKey) {
    const result = await progress.step(`Verify the signature of ${version}`, () =>
      verifyArtifact({ client }, { repository, reference: digest, publicKey: input.publicKey! }),
    );
    if (!result.ok) {
      throw new KsailError("failed", `${version} does not verify: ${result.reason}`, {
        hint: "Nothing was changed in the cluster. Sign it with `ksail workload push --version … --sign-key` or roll back to a signed version.",
      });
    }
    images = await verifyPinnedImages(client, input, version, digest, progress);
    verified = true;
  }
  await progress.step(`Tag ${digest.slice(0, 19)}… ${PINNED_TAG}`, () =>
    tagPinned(client, repository, digest),
  );
  await progress.step(
    `Pin OCIRepository ${target.namespace}/${target.name} to ${version}`,
    () => pinOciRepository(kube, target, { digest, version }),
    () =>
      `Pinned OCIRepository ${target.namespace}/${target.name} to ${version} (${digest.slice(0, 19)}…)`,
  );
  const { reconcile, applied } = await reconcileAndProve(deps, input, progress, digest);
  const latest = versions.at(-1)?.version;
  return {
    ...(from ? { from } : {}),
    version,
    digest,
    ...(latest ? { latest } : {}),
    verified,
    ...(images && images.length > 0 ? { images } : {}),
    reconcile,
    applied,
  };
}

/**
 * Verifies the images `version` pins with the rollback's key, as `workload verify` does; an
 * unsigned, wrongly signed or missing image stops the rollback before anything is pinned.
 */
async function verifyPinnedImages(
  client: RegistryClient,
  input: RollbackInput,
  version: string,
  digest: string,
  progress: Progress,
): Promise<ImageVerifyResult[]> {
  const destination = input.imageDestination ?? imageDestination(input.repository);
  const pinned = await imagesOfVersion(client, input.repository, digest, destination);
  if (pinned.length === 0) return [];
  const results = await progress.step(
    `Verify the signatures of the ${count(pinned.length, "image")} ${version} pins`,
    () => verifyImages({ client }, { images: pinned, publicKey: input.publicKey! }),
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new KsailError(
      "failed",
      `${version} pins ${failed.length === 1 ? "an image that does" : "images that do"} not verify: ${failed.map((r) => (r.ok ? "" : r.reason)).join("; ")}`,
      {
        hint: "Nothing was changed in the cluster. Push the version again with `--sign-key` (it signs its images too) or roll back to a version whose images are signed.",
      },
    );
  }
  return results;
}

export interface ResumeResult {
  /** The version the cluster was pinned to. */
  pinned?: string;
  reconcile: ReconcileResult;
  applied: AppliedCheck;
}

export async function resumeWorkload(
  deps: { kube: KubeClient; client: RegistryClient },
  input: Omit<RollbackInput, "version" | "publicKey">,
  progress: Progress = silentProgress,
): Promise<ResumeResult> {
  const { kube, client } = deps;
  const { target, repository } = input;
  const repo = await readOciRepository(kube, target);
  if (!repo) {
    throw new KsailError(
      "not-found",
      `OCIRepository ${target.namespace}/${target.name} does not exist`,
      {
        hint: "Create the Flux objects with `ksail flux sync` (ksail up does it).",
      },
    );
  }
  const pin = pinOf(repo);
  if (pin) {
    await progress.step(
      `Unpin OCIRepository ${target.namespace}/${target.name}`,
      () => unpinOciRepository(kube, target),
      () => `OCIRepository ${target.namespace}/${target.name} follows the newest version again`,
    );
  }
  await untagPinned(client, repository, progress);
  const { reconcile, applied } = await reconcileAndProve(deps, input, progress);
  return {
    ...(pin?.version ? { pinned: pin.version } : {}),
    reconcile,
    applied,
  };
}

export interface RunningVersion {
  /** The OCIRepository's artifact revision. */
  revision?: string;
  digest?: string;
  /** The version (semver tag) of that revision. */
  version?: string;
  /** When source-controller fetched that revision (status.artifact.lastUpdateTime). */
  since?: string;
  pinned?: { digest: string; version?: string };
  /** The highest version in the repository (absent when the registry did not answer). */
  latest?: string;
}

/** Which version the cluster runs, since when, whether it is pinned, and the newest one. */
export async function runningVersion(
  deps: { kube: KubeClient; client?: RegistryClient },
  input: { target: ReconcileTarget; repository?: RepositoryRef },
): Promise<RunningVersion> {
  const repo = await readOciRepository(deps.kube, input.target);
  const artifact = repo?.status?.artifact;
  const digest = revisionDigest(artifact?.revision);
  const pin = pinOf(repo);
  let version = revisionVersion(artifact?.revision);
  if (version === undefined && pin?.version && pin.digest === digest) version = pin.version;
  let latest: string | undefined;
  if (deps.client && input.repository) {
    // The registry is a nice-to-have here: status reports the cluster even when it is down.
    const tags = await deps.client.listTags(input.repository).catch(() => undefined);
    latest = tags ? semverTags(tags).at(-1) : undefined;
  }
  return {
    ...(artifact?.revision ? { revision: artifact.revision } : {}),
    ...(digest ? { digest } : {}),
    ...(version ? { version } : {}),
    ...(artifact?.lastUpdateTime ? { since: artifact.lastUpdateTime } : {}),
    ...(pin ? { pinned: pin } : {}),
    ...(latest ? { latest } : {}),
  };
}

/** `0.0.7 since 2026-12-07T18:01:02Z, pinned to 0.0.7 (latest is 0.0.9)`. */
export function formatRunning(running: RunningVersion): string {
  const what = running.version ?? running.digest ?? "no version yet";
  const since = running.since ? ` since ${running.since}` : "";
  const pinned = running.pinned
    ? `, pinned to ${running.pinned.version ?? running.pinned.digest}${running.latest ? ` (latest is ${running.latest})` : ""}`
    : running.latest && running.latest !== running.version
      ? ` (latest is ${running.latest}, not applied yet)`
      : "";
  return `${what}${since}${pinned}`;
}

/** Makes Flux apply now and waits (as `reconcile`), then checks the inventory against the version. */
async function reconcileAndProve(
  deps: { kube: KubeClient; client: RegistryClient },
  input: Pick<RollbackInput, "target" | "repository" | "timeoutMs" | "deadline">,
  progress: Progress,
  expectDigest?: string,
): Promise<{ reconcile: ReconcileResult; applied: AppliedCheck }> {
  const { target, repository } = input;
  const reconcile = await reconcileWorkload(
    { kube: deps.kube },
    {
      ...target,
      timeoutMs: input.timeoutMs,
      ...(input.deadline ? { deadline: input.deadline } : {}),
    },
    progress,
  );
  const applied = await proveApplied(
    deps,
    { target, repository, ...(expectDigest ? { expectDigest } : {}) },
    progress,
  );
  return { reconcile, applied };
}
