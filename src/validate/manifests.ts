/**
 * FR-017: validates a source directory before it is packaged. Every issue names the file (path
 * relative to the source root) and, where it has one, the line and column.
 *
 * Rules (rule id → meaning):
 * - empty-source: no files left after ignore rules
 * - file-too-large: a file over the per-file limit (default 1 MiB)
 * - binary-file: a NUL byte; invalid-utf8: bytes that are not UTF-8
 * - yaml-syntax, yaml-alias-bomb: see ./parse.ts (files Flux reads as YAML)
 * - not-an-object, missing-field, invalid-field, generate-name: see ./objects.ts (manifests)
 * - kustomization-*: see ./kustomization.ts and ./build.ts (kustomizations Flux builds)
 * - duplicate-object: two objects with the same identity meet in one kustomization, judged the
 *   way kustomize does (./identity.ts); one issue at every occurrence, naming the others
 *
 * Validation runs in phases: byte checks of every file (parse.ts) → the walk of what Flux builds
 * (build.ts), which reads kustomizations and manifests as it reaches them (objects.ts) →
 * cross-file checks: duplicates, and warnings for manifests Flux never applies.
 *
 * Only what Flux reads is judged as YAML: with a root kustomization, the files it reaches; without
 * one, the `*.yaml`/`*.yml` files Flux's generator takes. A manifest-looking file outside that set
 * gets a warning (it will never be applied), not an error. Files a kustomization uses as data
 * (generator inputs) get only the byte-level checks; patches and schemas also the YAML syntax check.
 */
import { count } from "../util/plural.js";
import { posix } from "node:path";
import { load } from "js-yaml";
import type { Node } from "yaml";
import type { SharedReader } from "../artifact/shared-reads.js";
import { readWhole, type SourceFile } from "../artifact/source-files.js";
import { KsailError } from "../errors.js";
import { mapLimit } from "../util/map-limit.js";
import { KUSTOMIZATION_FILE_NAMES } from "./kustomization.js";
import { position, type ValidationIssue } from "./issues.js";
import { noValidationCache, type ValidationCache } from "./cache.js";
import {
  checkBytes,
  contentDigest,
  parseYaml,
  readFast,
  readYaml,
  type ReadYaml,
} from "./parse.js";
import { decode } from "./text.js";
import {
  builtIdentities,
  walkBuild,
  type BuildResult,
  type BuiltIdentities,
  type Collision,
} from "./build.js";
import { displayId } from "./identity.js";
import type { ObjectLocation } from "./objects.js";
import { checkSecrets, mayHoldSecret, privateKeyIssue, type SecretsPolicy } from "./secrets.js";

export type { ParsedYaml, ValidationIssue } from "./issues.js";

export interface ValidateOptions {
  /** Per-file size limit in bytes; default 1 MiB. */
  maxFileSize?: number;
  /** Results of earlier runs by file content (see cache.ts); default none. */
  cache?: ValidationCache;
  /**
   * The files' contents when the caller has read them already (see readSourceFiles); otherwise
   * each file is read when it is checked and not kept (memory does not grow with the input).
   */
  contents?: (Buffer | undefined)[];
  /**
   * Reads each file once for the byte checks, in file order (e.g. a SharedReader's take, so the
   * layer build gets the same bytes without reading them again); later reads go to the disk.
   */
  firstRead?: Pick<SharedReader, "take" | "release">;
  /** Receives warnings: findings that do not stop a push (e.g. a manifest Flux never applies). */
  warnings?: ValidationIssue[];
  /**
   * The secrets guard (./secrets.ts); by default plaintext Secrets and private keys are refused
   * (SOPS MACs are checked when the policy gives the local age identities).
   */
  secrets?: SecretsPolicy;
  /**
   * Receives the identities of the objects Flux will apply, as the walk computed them (when it
   * found nothing wrong): what `workload watch` compares the Kustomization's inventory with.
   */
  identities?: BuiltIdentities;
}

/** The guard's default: refuse plaintext; MACs unchecked (the caller gives the identities). */
export const defaultSecretsPolicy: SecretsPolicy = {};

export const DEFAULT_MAX_FILE_SIZE = 1024 * 1024;
/** Unreached manifests named one by one; the rest are counted in one more warning. */
const MAX_UNREACHED_WARNINGS = 20;

export function isKustomizationFile(path: string): boolean {
  return KUSTOMIZATION_FILE_NAMES.includes(posix.basename(path));
}

function compareIssues(a: ValidationIssue, b: ValidationIssue): number {
  const byFile = Buffer.compare(Buffer.from(a.file), Buffer.from(b.file));
  if (byFile !== 0) return byFile;
  return (
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.column ?? 0) - (b.column ?? 0) ||
    a.rule.localeCompare(b.rule) ||
    a.message.localeCompare(b.message)
  );
}

/** Sorted, each issue once (a kustomization reached twice reports once). */
function finish(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.sort(compareIssues).filter((i) => {
    const key = `${i.file}\u0000${i.line}\u0000${i.column}\u0000${i.rule}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Files read at the same time during the byte checks. */
const READ_CONCURRENCY = 32;

/** Where validation gets a file's bytes: the caller's contents, or the disk each time. */
type FileBytes = (file: SourceFile, index: number) => Promise<Buffer | undefined>;

function fileBytes(contents: (Buffer | undefined)[] | undefined, maxFileSize: number): FileBytes {
  if (contents !== undefined) return async (_file, index) => contents[index];
  return async (file) =>
    file.size > maxFileSize ? undefined : readWhole(file.absolutePath, file.size);
}

function isObjectCandidate(path: string): boolean {
  const ext = posix.extname(path).toLowerCase();
  return (ext === ".yaml" || ext === ".yml" || ext === ".json") && !isKustomizationFile(path);
}

/** What phase 1 learnt about the files that passed the byte checks. */
interface Checked {
  /** path → [index in files, sha256 of the content]. */
  files: Map<string, [number, string]>;
  /** Objects found by the fast path, read ahead for the walk. */
  fast: Map<string, ReadYaml>;
  /** Files that may hold a Secret or sops metadata (the secrets guard parses those Flux reads). */
  secretCandidates: Set<string>;
}

/**
 * Phase 1: byte checks of every file, a few at a time, keeping only digests; files that look
 * like manifests also get the fast path (cache or js-yaml) while their bytes are at hand, so the
 * walk reads from disk again only kustomizations and files that need the exact parser.
 */
async function checkAllBytes(
  files: SourceFile[],
  bytes: FileBytes,
  maxFileSize: number,
  cache: ValidationCache,
  issues: ValidationIssue[],
  /** Where private-key findings go (issues, or warnings when plaintext is allowed). */
  keyFindings: ValidationIssue[],
  /** Called once the bytes of files[index] are no longer used. */
  release?: (index: number) => void,
): Promise<Checked> {
  const checked: Checked = { files: new Map(), fast: new Map(), secretCandidates: new Set() };
  await mapLimit(files, READ_CONCURRENCY, async (file, index) => {
    const data = await bytes(file, index);
    try {
      checkFile(file, index, data);
    } finally {
      release?.(index);
    }
  });
  return checked;

  function checkFile(file: SourceFile, index: number, data: Buffer | undefined): void {
    const issue = checkBytes(file, data, maxFileSize);
    if (issue !== undefined) {
      issues.push(issue);
      return;
    }
    const digest = contentDigest(data!);
    checked.files.set(file.path, [index, digest]);
    const key = privateKeyIssue(file.path, data!);
    if (key !== undefined) keyFindings.push(key);
    if (mayHoldSecret(data!)) checked.secretCandidates.add(file.path);
    if (!isObjectCandidate(file.path)) return;
    const objects = readFast(data!, digest, cache);
    if (objects !== undefined) checked.fast.set(file.path, { kind: "fast", objects });
  }
}

/** A file's bytes again, checked to be what phase 1 saw; undefined when it failed phase 1. */
function rereader(files: SourceFile[], bytes: FileBytes, checked: Checked) {
  return async (path: string): Promise<{ data: Buffer; digest: string } | undefined> => {
    const known = checked.files.get(path);
    if (known === undefined) return undefined;
    const [index, digest] = known;
    const data = await bytes(files[index]!, index);
    if (data === undefined || contentDigest(data) !== digest) throw changedWhileReading(path);
    return { data, digest };
  };
}

export function changedWhileReading(path: string): KsailError {
  return new KsailError("failed", `${path} changed while it was being validated and packaged`, {
    hint: "Wait until nothing writes to the directory any more, then run the command again.",
  });
}

/**
 * Reads files on demand, once each, yielding to the event loop every few milliseconds.
 * `positions` false: kustomizations and patches without line numbers (see readYaml).
 */
function yamlReader(
  reread: ReturnType<typeof rereader>,
  checked: Checked,
  cache: ValidationCache,
  positions: boolean,
) {
  const read = new Map<string, ReadYaml>(checked.fast);
  let slice = performance.now();
  return async (path: string, objects: boolean): Promise<ReadYaml | undefined> => {
    const known = read.get(path);
    if (known !== undefined && (known.kind !== "fast" || objects)) return known;
    const got = await reread(path);
    if (got === undefined) return undefined;
    // Parsing is synchronous: give the event loop a turn every few milliseconds so that work
    // running alongside (the layer build feeding gzip on the thread pool) keeps flowing.
    if (performance.now() - slice > 8) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
    const result = readYaml(path, got.data, cache, objects, got.digest, positions);
    // A parsed manifest is needed once (the walk keeps its objects); documents of kustomizations
    // and patches are kept, they are few and may be read twice.
    if (result.kind !== "parsed" || !objects) read.set(path, result);
    return result;
  };
}

/** Phase 4a: one issue at every occurrence of a colliding object, naming the others. */
async function duplicateIssues(
  collisions: Collision[],
  reread: ReturnType<typeof rereader>,
): Promise<ValidationIssue[]> {
  const reparsed = new Map<string, ReturnType<typeof parseYaml>>();
  const exact = async (
    location: ObjectLocation,
  ): Promise<{ file: string; line?: number; column?: number }> => {
    if (!("document" in location)) return location;
    if (!reparsed.has(location.file))
      reparsed.set(
        location.file,
        parseYaml(
          location.file,
          decode((await reread(location.file))?.data ?? Buffer.alloc(0)),
          [],
        ),
      );
    const parsed = reparsed.get(location.file);
    const node = parsed?.docs[location.document]?.contents as Node | null | undefined;
    return { file: location.file, ...(parsed ? position(parsed, node) : {}) };
  };
  const format = (l: { file: string; line?: number }) =>
    l.line === undefined ? l.file : `${l.file}:${l.line}`;
  const issues: ValidationIssue[] = [];
  for (const collision of collisions) {
    const where =
      collision.kustomization === "." ? "Flux's generated kustomization" : collision.kustomization;
    const places = new Map<string, { file: string; line?: number; column?: number }>();
    for (const object of collision.objects) {
      const place = await exact(object.location);
      places.set(format(place), place);
    }
    const display = displayId(collision.id);
    if (places.size === 1) {
      // One object reached twice (e.g. two overlays of one base without a namespace of their own).
      const [place] = places.values();
      const through = [...new Set(collision.via)].join(" and ");
      issues.push({
        ...place!,
        rule: "duplicate-object",
        message: `duplicate object ${display}: ${where} includes it more than once (through ${through}); include it once, or give each copy its own namespace, namePrefix or nameSuffix`,
      });
      continue;
    }
    for (const [key, place] of places) {
      const others = [...places.keys()].filter((k) => k !== key);
      issues.push({
        ...place,
        rule: "duplicate-object",
        message: `duplicate object ${display}: also defined at ${others.join(", ")} (${collision.cause ?? `both reach ${where}`})`,
      });
    }
  }
  return issues;
}

/** Whether a file Flux does not read holds something that looks like a Kubernetes object. */
function looksLikeManifest(data: Buffer): boolean {
  try {
    const doc = load(decode(data).split(/^---/m)[0] ?? "") as Record<string, unknown> | null;
    return (
      typeof doc === "object" &&
      doc !== null &&
      typeof doc.apiVersion === "string" &&
      typeof doc.kind === "string"
    );
  } catch {
    return false;
  }
}

/** Phase 4b: manifests (and kustomizations) in the artifact that Flux never applies. */
async function unreachedWarnings(
  build: BuildResult,
  checked: Pick<Checked, "files">,
  reread: ReturnType<typeof rereader>,
): Promise<ValidationIssue[]> {
  const warnings: ValidationIssue[] = [];
  const candidates = [...checked.files.keys()].filter((path) => {
    if (build.manifests.has(path) || build.kustomizations.has(path) || build.used.has(path))
      return false;
    return isKustomizationFile(path) || isObjectCandidate(path);
  });
  const manifests = await mapLimit(candidates, READ_CONCURRENCY, async (path) => {
    if (isKustomizationFile(path)) return true;
    const got = await reread(path);
    return got !== undefined && looksLikeManifest(got.data);
  });
  for (const [index, path] of candidates.entries()) {
    if (!manifests[index]) continue;
    const kustomization = isKustomizationFile(path);
    const what = kustomization ? "this kustomization" : "this manifest";
    warnings.push({
      file: path,
      rule: "not-applied",
      message: build.generated
        ? `Flux never applies ${what}: without a kustomization.yaml at the root, Flux takes only *.yaml and *.yml files (outside directories with their own kustomization); rename it or list it in a kustomization.yaml`
        : `Flux never applies ${what}: the root kustomization does not include it, directly or through the kustomizations it includes; list it under resources if it should be applied`,
    });
  }
  warnings.sort(compareIssues);
  if (warnings.length <= MAX_UNREACHED_WARNINGS) return warnings;
  const rest = warnings.length - MAX_UNREACHED_WARNINGS;
  return [
    ...warnings.slice(0, MAX_UNREACHED_WARNINGS),
    {
      file: ".",
      rule: "not-applied",
      message: `${count(rest, "more file")} that Flux never applies`,
    },
  ];
}

export async function validateSource(
  root: string,
  files: SourceFile[],
  options: ValidateOptions = {},
): Promise<ValidationIssue[]> {
  if (files.length === 0)
    return [
      {
        file: ".",
        rule: "empty-source",
        message: "the source directory has no files to package (after ignore rules)",
      },
    ];
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const bytes = fileBytes(options.contents, maxFileSize);
  const issues: ValidationIssue[] = [];
  const cache = options.cache ?? noValidationCache;
  await cache.scope(root);

  const { firstRead } = options;
  const policy = options.secrets ?? defaultSecretsPolicy;
  const warnings: ValidationIssue[] = [];
  const keyFindings: ValidationIssue[] = [];
  const checked = await checkAllBytes(
    files,
    firstRead === undefined ? bytes : (_file, index) => firstRead.take(index),
    maxFileSize,
    cache,
    issues,
    keyFindings,
    firstRead === undefined ? undefined : (index) => firstRead.release(index),
  );
  for (const finding of keyFindings)
    if (policy.allowPlaintext)
      warnings.push({
        ...finding,
        message: `${finding.message} (allowed by --allow-plaintext-secrets / spec.options.secrets.allowPlaintext)`,
      });
    else issues.push(finding);
  const reread = rereader(files, bytes, checked);
  const fileSet = new Set(files.map((f) => f.path));
  const walk = (positions: boolean) =>
    walkBuild({ root, fileSet, read: yamlReader(reread, checked, cache, positions) });
  // Kustomizations are read without line numbers first (a large one costs far less time and
  // memory that way); a walk with any finding runs again with them, so every issue has its line.
  let build = await walk(false);
  if (build.errors.length + build.warnings.length + build.collisions.length > 0)
    build = await walk(true);
  checked.fast.clear();
  issues.push(...build.errors, ...(await duplicateIssues(build.collisions, reread)));
  // Every manifest-like file is judged, applied by Flux or not: the artifact carries it either way.
  const judged = (path: string) => build.manifests.has(path) || isObjectCandidate(path);
  await checkSecrets(
    {
      policy,
      fileSet,
      objectFiles: [...checked.secretCandidates].filter(judged).sort(),
      kustomizations: [...build.kustomizations].sort(),
      read: async (path) => (await reread(path))?.data,
    },
    { issues, warnings },
  );
  if (options.identities && issues.length === 0)
    Object.assign(options.identities, builtIdentities(build));
  options.warnings?.push(
    ...build.warnings,
    ...finish(warnings),
    ...(await unreachedWarnings(build, checked, reread)),
  );
  return finish(issues);
}
