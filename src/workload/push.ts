/**
 * `ksail workload push`: read → validate → build → pick the version → upload blobs → tag.
 * The manifest is written only after every blob it names is in the registry, so a tag
 * never points at missing content, and an invalid directory never reaches the registry.
 */
import { buildLayer, type Layer } from "../artifact/layer.js";
import { buildFluxArtifact, parseFluxManifest, type FluxArtifact } from "../artifact/manifest.js";
import { detectSourceMetadata } from "../artifact/source-metadata.js";
import { listSourceFiles, readSourceFiles, type SkippedEntry } from "../artifact/source-files.js";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import { formatRepository, type RepositoryRef } from "../oci/reference.js";
import {
  DEFAULT_MAX_FILE_SIZE,
  validateSource,
  type ValidationIssue,
} from "../validate/manifests.js";
import type { ValidationCache } from "../validate/cache.js";
import { silentProgress, type Progress } from "../progress.js";
import { assertVersion, LATEST_TAG, nextVersion, semverTags, type Bump } from "./versions.js";

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
  /** org.opencontainers.image.created; omitted by default so the manifest digest is reproducible. */
  created?: string;
  /** Extra ignore patterns on top of .sourceignore/.gitignore and the defaults. */
  ignore?: string[];
  maxFileSize?: number;
  /** Move the `latest` tag too (default true). */
  tagLatest?: boolean;
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
  skipped: SkippedEntry[];
}

const MAX_VERSION_RACES = 5;

export async function pushWorkload(
  deps: PushDeps,
  options: PushInput,
  progress: Progress = silentProgress,
): Promise<PushResult> {
  const { client, validationCache } = deps;
  const { sourceDir } = options;
  // A bad --version is refused before any work.
  if (options.version !== undefined) assertVersion(options.version);

  // Read once, for validation and the layer alike.
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const { files, skipped, contents } = await progress.step(
    `Read ${sourceDir}`,
    async () => {
      const listed = await listSourceFiles(sourceDir, { ignore: options.ignore ?? [] });
      return { ...listed, contents: await readSourceFiles(listed.files, maxFileSize) };
    },
    (r) => `Read ${r.files.length} files from ${sourceDir}`,
  );
  for (const entry of skipped)
    progress.warn(`skipped ${entry.path}: ${entry.reason} (not packaged)`);

  // git runs meanwhile (its errors surface below, after validation).
  const detecting =
    options.source !== undefined && options.revision !== undefined
      ? Promise.resolve({ source: options.source, revision: options.revision })
      : detectSourceMetadata(sourceDir);
  detecting.catch(() => {});
  // Validation (JavaScript, on this thread) and the layer build (file reads and gzip, on
  // libuv's thread pool) overlap; the layer is used only when validation finds nothing.
  const [validated, built] = await Promise.allSettled([
    progress.step(
      "Validate manifests",
      async () => {
        const warnings: ValidationIssue[] = [];
        const found = await validateSource(sourceDir, files, {
          maxFileSize,
          contents,
          warnings,
          ...(validationCache ? { cache: validationCache } : {}),
        });
        for (const w of warnings) progress.warn(formatIssue(w));
        await validationCache?.save();
        if (found.length > 0) throw invalidSource(sourceDir, found);
      },
      () => "Validated manifests",
    ),
    progress.step(
      "Build artifact",
      () => buildLayer(files, contents),
      (l) => `Built layer ${l.digest.slice(0, 19)}… (${l.fileCount} files, ${l.size} bytes)`,
    ),
  ]);
  if (validated.status === "rejected") throw validated.reason;
  if (built.status === "rejected") throw built.reason;
  const layer = built.value;
  const detected = await detecting;
  const metadata = {
    source: options.source ?? detected.source,
    revision: options.revision ?? detected.revision ?? layer.digest,
    ...(options.created === undefined ? {} : { created: options.created }),
  };
  const artifact = buildFluxArtifact(layer, metadata);

  const exclusive = deps.exclusive ?? ((_repository, run) => run());
  return exclusive(formatRepository(options.repository), () =>
    publish(client, options, artifact, layer, metadata, skipped, progress),
  );
}

async function publish(
  client: RegistryClient,
  options: PushInput,
  artifact: FluxArtifact,
  layer: Layer,
  metadata: { source: string; revision: string; created?: string },
  skipped: SkippedEntry[],
  progress: Progress,
): Promise<PushResult> {
  const { repository } = options;
  const name = formatRepository(repository);
  const explicitVersion = options.version;
  const tags = await progress.step(`List versions of ${name}`, () => client.listTags(repository));
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
  const noBlobs = { uploaded: 0, existing: 0, mounted: 0 };

  if (explicitVersion !== undefined && tags.includes(explicitVersion)) {
    const existing = await client.resolve(repository, explicitVersion);
    if (existing?.digest === artifact.manifest.digest) {
      progress.info(`Version ${explicitVersion} already holds this content; nothing pushed.`);
      return { ...base, version: explicitVersion, unchanged: true, blobs: noBlobs };
    }
    throw new KsailError(
      "conflict",
      `version ${explicitVersion} of ${name} already exists with other content (${existing?.digest ?? "unknown digest"})`,
      {
        hint: "Versions are immutable: push a new one with --version or --bump, or leave both out to take the next patch.",
      },
    );
  }
  if (explicitVersion === undefined) {
    const highest = semverTags(tags).at(-1);
    if (highest !== undefined) {
      const current = parseFluxManifest((await client.fetchManifest(repository, highest)).bytes);
      if (current.layer.digest === layer.digest) {
        progress.info(
          `No changes since ${highest} (same content ${layer.digest.slice(0, 19)}…); nothing pushed.`,
        );
        return { ...base, version: highest, unchanged: true, blobs: noBlobs };
      }
    }
  }

  const blobs = { ...noBlobs };
  await progress.step(
    "Upload blobs",
    async () => {
      const results = await Promise.all([
        client.pushBlob(repository, artifact.config),
        client.pushBlob(repository, { digest: layer.digest, size: layer.size, data: layer.data }),
      ]);
      for (const result of results) blobs[result === "exists" ? "existing" : result]++;
    },
    () =>
      blobs.uploaded === 0
        ? `Uploaded no blobs (${blobs.existing + blobs.mounted} already in the registry)`
        : `Uploaded ${blobs.uploaded} blob(s), ${blobs.existing} already present`,
  );

  const version = await progress.step(
    "Tag version",
    async () => {
      let candidate = explicitVersion ?? nextVersion(tags, options.bump ?? "patch");
      for (let race = 0; ; race++) {
        // Another push may have taken this version since we listed the tags.
        const taken = await client.resolve(repository, candidate);
        if (!taken) break;
        if (explicitVersion !== undefined || race >= MAX_VERSION_RACES) {
          throw new KsailError(
            "conflict",
            `version ${candidate} of ${name} was pushed by someone else meanwhile`,
            {
              hint: "Push again to take the next version.",
            },
          );
        }
        candidate = nextVersion([...tags, candidate], options.bump ?? "patch");
      }
      await client.pushManifest(
        repository,
        candidate,
        artifact.manifest.bytes,
        artifact.manifest.mediaType,
      );
      // `latest` follows the highest version: a hotfix to an older line does not move it back.
      const highest = semverTags([...tags, candidate]).at(-1);
      if ((options.tagLatest ?? true) && highest === candidate) {
        await client.pushManifest(
          repository,
          LATEST_TAG,
          artifact.manifest.bytes,
          artifact.manifest.mediaType,
        );
      }
      return candidate;
    },
    (v) => `Pushed ${name}:${v}`,
  );
  return { ...base, version, unchanged: false, blobs };
}

function formatIssue(i: ValidationIssue): string {
  return `${i.file}${i.line ? `:${i.line}` : ""}${i.column ? `:${i.column}` : ""}: ${i.message}`;
}

function invalidSource(sourceDir: string, issues: ValidationIssue[]): KsailError {
  return new KsailError(
    "validation",
    `${issues.length} problem(s) in ${sourceDir}; nothing was pushed`,
    {
      details: issues.map(formatIssue),
      hint: "Fix the files above and push again.",
    },
  );
}
