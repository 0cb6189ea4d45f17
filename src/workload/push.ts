/**
 * `ksail workload push`: read → validate → build → pick the version → upload blobs → tag.
 * The manifest is written only after every blob it names is in the registry, so a tag
 * never points at missing content, and an invalid directory never reaches the registry.
 *
 * Tagging without compare-and-swap. A registry has no conditional PUT for tags, and the lock
 * the CLI holds is a local file: pushes from other machines (CI runners) share only the
 * registry. A version is claimed the way Fischer's timed mutual exclusion works:
 *
 *   1. read the version tag (HEAD); held by another digest → take the next version
 *      (an explicit --version fails with exit 7 instead);
 *   2. right after, PUT the manifest under the tag;
 *   3. wait the settle time S, read the tag again: our digest → the version is ours; another
 *      digest → a racer wrote after us and owns it → take the next version (exit 7 for an
 *      explicit --version, saying that our write was replaced).
 *
 * If every writer's step 1 → 2 takes less than S, at most one writer finds its own digest in
 * step 3, and nobody overwrites it later: a later writer's step 1 comes after the owner's write
 * and sees the tag held. So a reported version holds exactly the reporter's manifest, and no two
 * writers report one version — except writers of identical manifests (reproducible content, same
 * created time), which is the same content under one version.
 *
 * `latest` is moved only to the digest of the highest version once that digest is confirmed —
 * our own from step 3, or read twice S apart — and checked again after each write (another
 * writer may move it to what it saw as the highest a moment earlier) until it points at the
 * highest version. Every push does this, an unchanged one too, so a push killed between its
 * version tag and `latest` is repaired by the next one.
 *
 * What remains (no registry offers more without CAS): a writer stalled for longer than S between
 * steps 1 and 2 (a paused process, a very slow PUT) can replace a version that another writer
 * has already reported; it measures its own step 1 → 2 time and warns when that happens.
 * S is TAG_SETTLE_MS (500 ms) or twice the measured step 1 → 2 time if that is longer. A
 * registry that serves stale reads (caches in front, eventual consistency) widens the window by
 * its staleness. Deleting tags (prune) while pushing is outside this protocol.
 *
 * Loopback registries (127.0.0.0/8, ::1, localhost — where ksail's own local registry listens)
 * settle for LOOPBACK_SETTLE_MS (25 ms) or four times the measured step 1 → 2 time if that is
 * longer. Every writer of such a registry runs on this machine (writers sharing a cache
 * directory even take turns through the repository lock), and step 1 → 2 is a HEAD and a PUT of
 * a few hundred bytes over loopback: ~1–5 ms measured on a busy 2-core machine (bench/README.md),
 * so 25 ms is a margin of 5× or more, and the 4× factor keeps that margin for every writer that
 * is at most 4× slower than this one when the machine is loaded. Not covered: a loopback port
 * that tunnels to a registry on another machine (ssh -L, kubectl port-forward) shared with
 * writers elsewhere — push to its real address to get the 500 ms settle. The stall warning comes
 * at a step 1 → 2 time of TAG_SETTLE_MS here too: below it, a loaded machine slows every writer
 * alike (the 4× factor covers that); above it, something stalled this one writer.
 */
import { count } from "../util/plural.js";
import { writeLayerFile, type LayerFile } from "../artifact/layer.js";
import { sharedReads, type SharedReader } from "../artifact/shared-reads.js";
import { buildFluxArtifact, parseFluxManifest, type FluxArtifact } from "../artifact/manifest.js";
import { ANNOTATION_CREATED } from "../artifact/media-types.js";
import { detectSourceMetadata } from "../artifact/source-metadata.js";
import { listSourceFiles, type SkippedEntry, type SourceFile } from "../artifact/source-files.js";
import {
  ANNOTATION_IMAGES,
  imagesAnnotation,
  parseImagesAnnotation,
  pinImagesInSource,
  type ImagePin,
} from "../images/pin.js";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, isLoopbackRegistry, type RepositoryRef } from "../oci/reference.js";
import {
  DEFAULT_MAX_FILE_SIZE,
  validateSource,
  type ValidationIssue,
} from "../validate/manifests.js";
import type { ValidationCache } from "../validate/cache.js";
import type { BuiltIdentities } from "../validate/build.js";
import type { SecretsPolicy } from "../validate/secrets.js";
import { silentProgress, type Progress } from "../progress.js";
import {
  assertVersion,
  LATEST_TAG,
  nextVersion,
  semverTags,
  tagsOfVersion,
  versionOf,
  type Bump,
} from "./versions.js";

/** What a push talks to; the cache and the lock come from openPushSession (push-session.ts). */
export interface PushDeps {
  client: RegistryClient;
  /** Validation results of earlier pushes by file content (see validate/cache.ts). */
  validationCache?: ValidationCache;
  /**
   * Runs the version choice and tagging for one repository at a time (a lock file);
   * without it, concurrent pushes rely on the re-check just before tagging.
   */
  exclusive?: <T>(repository: string, run: () => Promise<T>) => Promise<T>;
  /** Where the layer's temporary file goes (default: ksail's `<cache>/tmp`). */
  temporaryDirectory?: string;
}

export interface PushInput {
  repository: RepositoryRef;
  sourceDir: string;
  /** Exact version to push; otherwise `bump` (default patch) of the highest version. */
  version?: string;
  bump?: Bump;
  /** Annotation overrides; by default detected from git (see detectSourceMetadata). */
  source?: string;
  revision?: string;
  /**
   * org.opencontainers.image.created (RFC 3339). By default the commit time when the source
   * directory is clean in a git work tree, else now (as `flux push artifact` stamps it).
   */
  created?: string;
  /**
   * Leave org.opencontainers.image.created out (unless `created` is given) so the same directory
   * always gives a byte-identical manifest (Flux's `--reproducible`). The layer is reproducible
   * either way.
   */
  reproducible?: boolean;
  /** Extra ignore patterns on top of .sourceignore/.gitignore and the defaults. */
  ignore?: string[];
  /**
   * How messages name the source directory, e.g. "k8s" (relative to where ksail runs), so that
   * positions read `k8s/cm.yaml:6:12` and a terminal or IDE can open them. Default: none.
   */
  displayDir?: string;
  maxFileSize?: number;
  /** Move the `latest` tag too (default true). */
  tagLatest?: boolean;
  /**
   * The project's images to pin by digest (kustomize `images:` in the packaged root
   * kustomization, and the `dev.ksail.images` annotation); see images/pin.ts.
   */
  images?: ImagePin[];
  /** The secrets guard's policy (validate/secrets.ts); default: refuse plaintext, check MACs. */
  secrets?: SecretsPolicy;
  /** Receives the identities of the objects Flux will apply, as validation computed them. */
  identities?: BuiltIdentities;
}

export interface PushResult {
  repository: string;
  version: string;
  digest: string;
  layerDigest: string;
  /** Compressed layer bytes. */
  size: number;
  files: number;
  blobs: { uploaded: number; existing: number; mounted: number };
  source: string;
  revision: string;
  created?: string;
  /** True when nothing was pushed because this content is already the given/highest version. */
  unchanged: boolean;
  /** The images this version pins: name → image@digest. */
  images?: Record<string, string>;
  skipped: SkippedEntry[];
}

/** Versions taken by concurrent pushes before this one gives up (6 writers need at most 5). */
const MAX_VERSION_RACES = 20;
/** Rounds of moving `latest` while other pushes keep moving it. */
const MAX_LATEST_ROUNDS = 10;
/** Least time between writing a tag and reading it back to see who won (S above). */
export const TAG_SETTLE_MS = 500;
/** The same for a loopback registry, whose writers all run on this machine (see above). */
export const LOOPBACK_SETTLE_MS = 25;

/** S for a write whose step 1 → 2 took `window` ms. */
function settleTime(repository: RepositoryRef, window: number): number {
  return isLoopbackRegistry(repository.registry)
    ? Math.max(LOOPBACK_SETTLE_MS, 4 * window)
    : Math.max(TAG_SETTLE_MS, 2 * window);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Now as RFC 3339 in UTC, whole seconds (the form Flux writes). */
function nowSeconds(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

export async function pushWorkload(
  deps: PushDeps,
  options: PushInput,
  progress: Progress = silentProgress,
): Promise<PushResult> {
  const { sourceDir } = options;
  // A bad --version is refused before any work; `v1.2.3` is version 1.2.3, tagged `1.2.3`.
  if (options.version !== undefined) {
    const version = assertVersion(options.version);
    if (version !== options.version) {
      progress.info(`Version ${options.version} is ${version}; ksail tags it ${version}.`);
      options = { ...options, version };
    }
  }

  // Listed once, read once; validation and the layer take each file's bytes as they go, keeping
  // only what they need (object identities; the compressed layer goes to a temporary file), so
  // memory does not grow with the input.
  const listed = await progress.step(
    `Read ${sourceDir}`,
    () => listSourceFiles(sourceDir, { ignore: options.ignore ?? [] }),
    (r) => `Read ${count(r.files.length, "file")} from ${sourceDir}`,
  );
  const { skipped } = listed;
  for (const entry of skipped)
    progress.warn(
      `skipped ${shown(options.displayDir, entry.path)}: ${entry.reason} (not packaged)`,
    );
  // The images' digests go into a copy of the root kustomization (the user's files stay).
  const pinned =
    options.images && options.images.length > 0
      ? await pinImagesInSource(listed.files, options.images)
      : undefined;
  try {
    for (const name of pinned?.unused ?? [])
      progress.warn(
        `image ${name} of spec.images is used by no manifest (no \`image: ${name}\`); it is built but pins nothing`,
      );
    return await packageAndPush(deps, options, pinned?.files ?? listed.files, skipped, progress);
  } finally {
    await pinned?.remove();
  }
}

/** Validate and build the layer at once, then tag (see the header). */
async function packageAndPush(
  deps: PushDeps,
  options: PushInput,
  files: SourceFile[],
  skipped: SkippedEntry[],
  progress: Progress,
): Promise<PushResult> {
  const { validationCache } = deps;
  const { sourceDir } = options;
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;

  // git runs meanwhile (its errors surface below, after validation).
  const wantsCreated = options.created === undefined && options.reproducible !== true;
  const detecting: Promise<{ source: string; revision?: string; created?: string }> =
    options.source !== undefined && options.revision !== undefined && !wantsCreated
      ? Promise.resolve({ source: options.source, revision: options.revision })
      : detectSourceMetadata(sourceDir);
  detecting.catch(() => {});
  // Validation (JavaScript, on this thread) and the layer build (gzip, on libuv's thread pool)
  // overlap and take each file's bytes from one read, so the layer holds exactly the bytes that
  // were validated even if a file changes meanwhile; the layer is used only when validation finds
  // nothing, and its build stops as soon as validation fails.
  const [forValidation, forLayer] = sharedReads(files, 2) as [SharedReader, SharedReader];
  const stopBuild = new AbortController();
  const [validated, built] = await Promise.allSettled([
    progress
      .step(
        "Validate manifests",
        async () => {
          const warnings: ValidationIssue[] = [];
          const found = await validateSource(sourceDir, files, {
            maxFileSize,
            warnings,
            firstRead: forValidation,
            ...(options.identities ? { identities: options.identities } : {}),
            ...(validationCache ? { cache: validationCache } : {}),
            ...(options.secrets ? { secrets: options.secrets } : {}),
          }).finally(() => forValidation.finish());
          for (const w of warnings) progress.warn(formatIssue(w, options.displayDir));
          await validationCache?.save();
          if (found.length > 0) throw invalidSource(sourceDir, found, options.displayDir);
        },
        () => "Validated manifests",
      )
      .catch((error: unknown) => {
        stopBuild.abort(error);
        throw error;
      }),
    progress.step(
      "Build artifact",
      async () => {
        try {
          return await writeLayerFile(files, {
            signal: stopBuild.signal,
            source: forLayer,
            ...(deps.temporaryDirectory === undefined
              ? {}
              : { directory: deps.temporaryDirectory }),
          });
        } catch (error) {
          if (stopBuild.signal.aborted) return undefined; // validation failed: reported there
          throw error;
        } finally {
          forLayer.finish();
        }
      },
      (l) =>
        l === undefined
          ? "Stopped building the artifact"
          : `Built layer ${l.digest.slice(0, 19)}… (${count(l.fileCount, "file")}, ${count(l.size, "byte")})`,
    ),
  ]);
  const layer = built.status === "fulfilled" ? built.value : undefined;
  try {
    if (validated.status === "rejected") throw validated.reason;
    if (built.status === "rejected") throw built.reason;
    if (layer === undefined) throw new Error("the layer build stopped without a reason");
    return await tagLayer(deps, options, layer, detecting, wantsCreated, skipped, progress);
  } finally {
    await layer?.remove();
  }
}

/** Annotations, manifest, then (holding the repository's lock) version choice, upload, tags. */
async function tagLayer(
  deps: PushDeps,
  options: PushInput,
  layer: LayerFile,
  detecting: Promise<{ source: string; revision?: string; created?: string }>,
  wantsCreated: boolean,
  skipped: SkippedEntry[],
  progress: Progress,
): Promise<PushResult> {
  const detected = await detecting;
  const created =
    options.created ?? (wantsCreated ? (detected.created ?? nowSeconds()) : undefined);
  const metadata = {
    source: options.source ?? detected.source,
    revision: options.revision ?? detected.revision ?? layer.digest,
    ...(created === undefined ? {} : { created }),
  };
  const pins = options.images ?? [];
  const artifact = buildFluxArtifact(layer, {
    ...metadata,
    ...(pins.length > 0 ? { annotations: { [ANNOTATION_IMAGES]: imagesAnnotation(pins) } } : {}),
  });

  const exclusive = deps.exclusive ?? ((_repository, run) => run());
  return exclusive(formatRepository(options.repository), () =>
    publish(deps.client, options, artifact, layer, metadata, skipped, progress),
  );
}

async function publish(
  client: RegistryClient,
  options: PushInput,
  artifact: FluxArtifact<LayerFile>,
  layer: LayerFile,
  metadata: { source: string; revision: string; created?: string },
  skipped: SkippedEntry[],
  progress: Progress,
): Promise<PushResult> {
  const { repository } = options;
  const name = formatRepository(repository);
  const explicitVersion = options.version;
  const tagLatest = options.tagLatest ?? true;
  const bump = options.bump ?? "patch";
  const tags = await progress.step(`List versions of ${name}`, () => client.listTags(repository));
  const highestListed = semverTags(tags).at(-1);
  const base: Omit<PushResult, "version" | "unchanged" | "blobs"> = {
    repository: name,
    digest: artifact.manifest.digest,
    layerDigest: layer.digest,
    size: layer.size,
    files: layer.fileCount,
    source: metadata.source,
    revision: metadata.revision,
    ...(metadata.created === undefined ? {} : { created: metadata.created }),
    skipped,
  };
  const images = parseImagesAnnotation(artifact.annotations[ANNOTATION_IMAGES]);
  if (images) base.images = images;
  const noBlobs = { uploaded: 0, existing: 0, mounted: 0 };
  /** This content is already `version` (stored as `held`): push nothing, but settle `latest`. */
  const unchanged = async (version: string, held: HeldContent): Promise<PushResult> => {
    if (tagLatest) {
      await moveLatest(client, repository, undefined, progress, { expectedHighest: highestListed });
    }
    const created = held.annotations[ANNOTATION_CREATED];
    const { created: _ours, ...rest } = base;
    return {
      ...rest,
      digest: held.digest,
      ...(created === undefined ? {} : { created }),
      version,
      unchanged: true,
      blobs: noBlobs,
    };
  };

  // Every spelling of the version counts (`1.2.3`, and `v1.2.3` that other tools may write).
  const spellings = explicitVersion === undefined ? [] : tagsOfVersion(tags, explicitVersion);
  if (explicitVersion !== undefined && spellings.length > 0) {
    const held = await Promise.all(spellings.map((tag) => heldContent(client, repository, tag)));
    const other = held.findIndex((h) => h !== undefined && h.layer !== layer.digest);
    if (other >= 0) {
      throw versionTaken(name, spellings[other]!, held[other]!.digest, "already exists");
    }
    const same = held.findIndex((h) => h !== undefined);
    if (same >= 0) {
      progress.info(`Version ${spellings[same]} already holds this content; nothing pushed.`);
      return unchanged(spellings[same]!, held[same]!);
    }
  }
  if (explicitVersion === undefined && highestListed !== undefined) {
    const held = await heldContent(client, repository, highestListed, { strict: true });
    if (held?.layer === layer.digest) {
      progress.info(
        `No changes since ${highestListed} (same content ${layer.digest.slice(0, 19)}…); nothing pushed.`,
      );
      return unchanged(highestListed, held);
    }
  }

  const blobs = { ...noBlobs };
  await progress.step(
    "Upload blobs",
    async () => {
      const results = await Promise.all([
        client.pushBlob(repository, artifact.config),
        client.pushBlob(repository, { digest: layer.digest, size: layer.size, file: layer.path }),
      ]);
      for (const result of results) blobs[result === "exists" ? "existing" : result]++;
    },
    () =>
      blobs.uploaded === 0
        ? `Uploaded no blobs (${blobs.existing + blobs.mounted} already in the registry)`
        : `Uploaded ${count(blobs.uploaded, "blob")}, ${blobs.existing} already present`,
  );

  const claimed = await progress.step(
    "Tag version",
    async () => {
      const first = explicitVersion ?? nextVersion(tags, bump);
      const won = await claimVersion(client, repository, artifact, first, {
        explicit: explicitVersion !== undefined,
        bump,
        progress,
        readLatest: tagLatest,
      });
      if (tagLatest && !("held" in won)) {
        await moveLatest(
          client,
          repository,
          { version: won.version, digest: artifact.manifest.digest, manifest: artifact.manifest },
          progress,
          won.latestReads === undefined ? {} : { firstReads: won.latestReads },
        );
      }
      progress.atInterrupt?.(undefined);
      return won;
    },
    (won) =>
      "held" in won ? `${name}:${won.version} holds this content` : `Pushed ${name}:${won.version}`,
  );
  if ("held" in claimed) return unchanged(claimed.version, claimed.held);
  return { ...base, version: claimed.version, unchanged: false, blobs };
}

interface HeldContent {
  digest: string;
  /** Digest of the first layer; undefined when the manifest is not a Flux artifact. */
  layer?: string;
  annotations: Record<string, string>;
}

/**
 * What a tag holds. A manifest that is not a Flux artifact is an error with `strict` (the
 * highest version must be one), other content otherwise; undefined when the tag is gone.
 */
async function heldContent(
  client: RegistryClient,
  repository: RepositoryRef,
  tag: string,
  options: { strict?: boolean } = {},
): Promise<HeldContent | undefined> {
  // One GET: the digest is that of the bytes received (fetchManifest checks the registry's).
  const fetched = await client.fetchManifest(repository, tag).catch((error: unknown) => {
    if (error instanceof KsailError && error.kind === "not-found") return undefined;
    throw error;
  });
  if (fetched === undefined) return undefined;
  const { bytes, digest } = fetched;
  try {
    const manifest = parseFluxManifest(bytes);
    return { digest, layer: manifest.layer.digest, annotations: manifest.annotations };
  } catch (error) {
    if (options.strict) throw error;
    return { digest, annotations: {} };
  }
}

/**
 * Steps 1–3 of the header comment, from `first` upwards: the version this push owns, or the
 * version that turned out to hold this content already (`held`, explicit versions only). With
 * `readLatest`, step 3 is moveLatest's first round of reads too (`latestReads`).
 */
async function claimVersion(
  client: RegistryClient,
  repository: RepositoryRef,
  artifact: FluxArtifact<LayerFile>,
  first: string,
  options: { explicit: boolean; bump: Bump; progress: Progress; readLatest: boolean },
): Promise<
  { version: string; latestReads?: LatestReads } | { version: string; held: HeldContent }
> {
  const name = formatRepository(repository);
  const ours = artifact.manifest.digest;
  const next = async (taken: string) =>
    nextVersion([...(await client.listTags(repository)), taken], options.bump);
  let candidate = first;
  for (let race = 0; ; race++) {
    if (race >= MAX_VERSION_RACES) {
      throw new KsailError(
        "conflict",
        `gave up after ${race} versions of ${name} were taken by concurrent pushes`,
        { hint: "Push again to take the next free version." },
      );
    }
    // Step 1, immediately followed by step 2: their distance is what the protocol relies on.
    // The other spelling (`v1.2.3`, which another tool may write) is read along: a version has
    // one spelling, so it being held means the version is taken.
    const checking = performance.now();
    const [held, otherSpelling] = await Promise.all([
      client.resolve(repository, candidate),
      client.resolve(repository, `v${candidate}`),
    ]);
    const taken =
      held !== undefined && held.digest !== ours
        ? { tag: candidate, digest: held.digest }
        : otherSpelling !== undefined
          ? { tag: `v${candidate}`, digest: otherSpelling.digest }
          : undefined;
    if (taken !== undefined) {
      if (options.explicit) {
        const content = await heldContent(client, repository, taken.tag);
        if (content !== undefined && content.layer === artifact.layer.digest) {
          return { version: taken.tag, held: content };
        }
        throw versionTaken(name, taken.tag, taken.digest, "was pushed by someone else meanwhile");
      }
      candidate = await next(candidate);
      continue;
    }
    if (held === undefined) {
      await client.pushManifest(
        repository,
        candidate,
        artifact.manifest.bytes,
        artifact.manifest.mediaType,
      );
      if (options.readLatest) {
        options.progress.atInterrupt?.(
          `${name}:${candidate} was pushed but latest was not moved to it; ` +
            "`ksail workload push` again moves it (nothing new is uploaded)",
        );
      }
    }
    const window = performance.now() - checking;
    // Step 3: whoever wrote last within the settle time owns the version.
    const settle = settleTime(repository, window);
    await sleep(settle);
    const reads = options.readLatest
      ? await readForLatest(client, repository, candidate)
      : undefined;
    const after = reads ? reads.expected?.head : await client.resolve(repository, candidate);
    if (after?.digest === ours) {
      if (held === undefined && window >= TAG_SETTLE_MS) {
        const waits = isLoopbackRegistry(repository.registry)
          ? `a stall: other pushes to this machine's registry wait 4× their own check-and-tag time, at least ${LOOPBACK_SETTLE_MS} ms, for a racer`
          : `longer than the ${TAG_SETTLE_MS} ms other pushes wait for a racer`;
        options.progress.warn(
          `checking and tagging ${candidate} took ${Math.round(window)} ms (${waits}): if another ` +
            `push wrote ${name}:${candidate} at that moment, this push may have replaced it — check \`ksail workload versions\``,
        );
      }
      return reads ? { version: candidate, latestReads: reads } : { version: candidate };
    }
    if (options.explicit) {
      throw new KsailError(
        "conflict",
        `another push tagged version ${candidate} of ${name} at the same moment and won: ` +
          `it holds ${after?.digest ?? "nothing (deleted)"}, not this push's ${ours}`,
        {
          hint:
            `This push wrote ${candidate} and was replaced within ${Math.round(window + settle)} ms; ` +
            "none of its content is tagged. Versions are immutable: push again with another --version, " +
            "or leave --version out to take the next patch.",
        },
      );
    }
    candidate = await next(candidate);
  }
}

type Resolved = Awaited<ReturnType<RegistryClient["resolve"]>>;

/** One round of moveLatest's reads, made at once. */
interface LatestReads {
  tags: string[];
  latest: Resolved;
  /** The version expected to be the highest, read along with the list. */
  expected: { version: string; head: Resolved } | undefined;
}

async function readForLatest(
  client: RegistryClient,
  repository: RepositoryRef,
  expected: string | undefined,
): Promise<LatestReads> {
  const [tags, latest, head] = await Promise.all([
    client.listTags(repository),
    client.resolve(repository, LATEST_TAG),
    expected === undefined ? undefined : client.resolve(repository, expected),
  ]);
  return {
    tags,
    latest,
    expected: expected === undefined ? undefined : { version: expected, head },
  };
}

/**
 * Points `latest` at the highest version's digest once that digest is confirmed (`confirmed`,
 * or read twice the settle time apart), then checks again, until `latest` holds the highest version.
 *
 * Each round reads the tag list, `latest` and the version expected to be the highest (ours, else
 * `expectedHighest`, then the previous round's) at once; only when the list names another highest
 * version is that one read after it. `firstReads` are the first round's, made by step 3 of our
 * claim (claimVersion), after our write.
 */
async function moveLatest(
  client: RegistryClient,
  repository: RepositoryRef,
  confirmed:
    { version: string; digest: string; manifest: FluxArtifact<LayerFile>["manifest"] } | undefined,
  progress: Progress,
  start: { expectedHighest?: string; firstReads?: LatestReads } = {},
): Promise<void> {
  let expected = confirmed?.version ?? start.expectedHighest;
  let prefetched = start.firstReads;
  for (let round = 0; round < MAX_LATEST_ROUNDS; round++) {
    const reads = prefetched ?? (await readForLatest(client, repository, expected));
    prefetched = undefined;
    const { tags, latest } = reads;
    const highest = semverTags(tags).at(-1);
    if (highest === undefined) return;
    expected = highest;
    const head =
      highest === reads.expected?.version
        ? reads.expected.head
        : await client.resolve(repository, highest);
    if (head === undefined) continue; // deleted since the listing
    if (latest?.digest === head.digest) return;
    const ours = confirmed?.version === highest && confirmed.digest === head.digest;
    if (!ours) {
      // Another push's version may still lose its race: only a digest that stays is owned.
      await sleep(settleTime(repository, 0));
      if ((await client.resolve(repository, highest))?.digest !== head.digest) continue;
    }
    const manifest = ours
      ? confirmed.manifest
      : await client.fetchManifest(repository, head.digest);
    await client.pushManifest(repository, LATEST_TAG, manifest.bytes, manifest.mediaType);
    if (!confirmed) progress.info(`Moved latest to ${highest} (the highest version).`);
  }
  progress.warn(
    `latest of ${formatRepository(repository)} kept changing under concurrent pushes; push again to settle it`,
  );
}

function versionTaken(
  name: string,
  tag: string,
  digest: string | undefined,
  how: "already exists" | "was pushed by someone else meanwhile",
): KsailError {
  const version = versionOf(tag) ?? tag;
  const as = tag === version ? "" : ` as tag ${tag}`;
  return new KsailError(
    "conflict",
    `version ${version} of ${name} ${how}${as} with other content (${digest ?? "unknown digest"})`,
    {
      hint: "Versions are immutable: push a new one with --version or --bump, or leave both out to take the next patch.",
    },
  );
}

/** A file of the source directory as messages name it: `k8s/cm.yaml` with displayDir "k8s". */
function shown(displayDir: string | undefined, file: string): string {
  return displayDir === undefined || displayDir === "." || file === "."
    ? file
    : `${displayDir}/${file}`;
}

function formatIssue(i: ValidationIssue, displayDir?: string): string {
  const at = `${i.line ? `:${i.line}` : ""}${i.column ? `:${i.column}` : ""}`;
  return `${shown(displayDir, i.file)}${at}: ${i.message}`;
}

function invalidSource(
  sourceDir: string,
  issues: ValidationIssue[],
  displayDir?: string,
): KsailError {
  return new KsailError(
    "validation",
    `${count(issues.length, "problem")} in ${sourceDir}; nothing was pushed`,
    {
      details: issues.map((i) => formatIssue(i, displayDir)),
      hint: "Fix the files above and push again.",
    },
  );
}
