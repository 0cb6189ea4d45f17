/**
 * `ksail workload diff`: two sources — pushed versions (or `latest`) and the local directory —
 * compared object by object (./object-diff.ts) or, with --files, file by file.
 */
import { readFile } from "node:fs/promises";
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { readLayerFiles } from "../artifact/extract.js";
import { listSourceFiles, readSourceFiles } from "../artifact/source-files.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { mapLimit } from "../util/map-limit.js";
import { fetchArtifact } from "./artifact-source.js";
import { silentProgress, type Progress } from "../progress.js";
import { decryptWhereKeyed, diffObjects, sourceObjects, type ObjectDiff } from "./object-diff.js";
import { defaultReference, resolveVersion } from "./versions.js";
import { count } from "../util/plural.js";

export interface FileChange {
  path: string;
  status: "added" | "removed" | "changed";
  /** Unified diff (pushed → local); absent for binary content. */
  patch?: string;
}

export interface DiffResult {
  reference: string;
  digest: string;
  changes: FileChange[];
  unchanged: number;
}

export interface DiffInput {
  repository: RepositoryRef;
  /** Default: `latest`, else the highest version. */
  version?: string | undefined;
  sourceDir: string;
  ignore?: string[];
}

export async function diffWorkload(
  deps: { client: RegistryClient },
  input: DiffInput,
  progress: Progress = silentProgress,
): Promise<DiffResult> {
  const { client } = deps;
  const { repository, version, sourceDir } = input;
  const artifact = await progress.step(
    "Fetch artifact",
    () => fetchArtifact(client, repository, version),
    (a) => `Fetched ${a.reference} (${a.digest.slice(0, 19)}…)`,
  );
  const pushed = await readLayerFiles(artifact.layer);
  const { files } = await listSourceFiles(sourceDir, { ignore: input.ignore ?? [] });
  const local = new Map(
    await mapLimit(
      files,
      16,
      async (file) => [file.path, await readFile(file.absolutePath)] as const,
    ),
  );
  const changes = diffFileSets(pushed, local, artifact.reference);
  const unchanged =
    [...local.keys()].filter((path) => pushed.has(path)).length -
    changes.filter((c) => c.status === "changed").length;
  return { reference: artifact.reference, digest: artifact.digest, changes, unchanged };
}

/** Compares two path → content maps; patches read "pushed version → local". */
export function diffFileSets(
  pushed: ReadonlyMap<string, Buffer>,
  local: ReadonlyMap<string, Buffer>,
  label: string,
  afterLabel = "local",
): FileChange[] {
  const paths = [...new Set([...pushed.keys(), ...local.keys()])].sort();
  const changes: FileChange[] = [];
  for (const path of paths) {
    const before = pushed.get(path);
    const after = local.get(path);
    if (before && after && before.equals(after)) continue;
    const status = !before ? "added" : !after ? "removed" : "changed";
    const change: FileChange = { path, status };
    if (isText(before) && isText(after)) {
      change.patch = createTwoFilesPatch(
        before ? `a/${path}` : "/dev/null",
        after ? `b/${path}` : "/dev/null",
        before?.toString("utf8") ?? "",
        after?.toString("utf8") ?? "",
        before ? label : "",
        after ? afterLabel : "",
        { headerOptions: FILE_HEADERS_ONLY },
      );
    }
    changes.push(change);
  }
  return changes;
}

function isText(content: Buffer | undefined): boolean {
  return content === undefined || !content.includes(0);
}

/**
 * One side of a comparison: a pushed version or tag (undefined: `latest`, else the highest
 * version), or a local directory.
 */
export type DiffSide = { version: string | undefined } | { directory: string };

export interface LoadedSide {
  /** `0.0.7`, `latest`, or the directory as given. */
  label: string;
  /** The manifest digest of a version. */
  digest?: string;
  files: Map<string, Buffer>;
}

export async function loadSide(
  deps: { client: RegistryClient },
  input: { repository: RepositoryRef; side: DiffSide; ignore?: string[] },
  progress: Progress = silentProgress,
): Promise<LoadedSide> {
  const { side, repository } = input;
  if ("directory" in side) {
    return progress.step(
      `Read ${side.directory}`,
      async () => {
        const { files } = await listSourceFiles(side.directory, { ignore: input.ignore ?? [] });
        const contents = await readSourceFiles(files);
        return {
          label: side.directory,
          files: new Map(files.map((file, i) => [file.path, contents[i]!] as const)),
        };
      },
      (loaded) => `Read ${count(loaded.files.size, "file")} from ${side.directory}`,
    );
  }
  return progress.step(
    `Fetch ${side.version ?? "the latest version"}`,
    async () => {
      const version = side.version ?? (await defaultReference(deps.client, repository));
      // Resolved first, so a missing version names the nearest ones (exit 6).
      await resolveVersion(deps.client, repository, version);
      const artifact = await fetchArtifact(deps.client, repository, version);
      return {
        label: version,
        digest: artifact.digest,
        files: await readLayerFiles(artifact.layer),
      };
    },
    (loaded) =>
      `Fetched ${loaded.label} (${loaded.digest!.slice(0, 19)}…, ${count(loaded.files.size, "file")})`,
  );
}

export interface SourcesDiff extends ObjectDiff {
  from: { label: string; digest?: string };
  to: { label: string; digest?: string };
  /** Byte-equal file sets (then no object can differ). */
  identical: boolean;
}

/** The objects of `from` against those of `to` (before → after). */
export async function diffSources(
  deps: { client: RegistryClient },
  input: {
    repository: RepositoryRef;
    from: DiffSide;
    to: DiffSide;
    ignore?: string[];
    /** The age identities for SOPS files (default: none, so they compare encrypted). */
    identities?: () => Promise<readonly string[]>;
  },
  progress: Progress = silentProgress,
): Promise<SourcesDiff & { encrypted: string[] }> {
  const [from, to] = await Promise.all(
    [input.from, input.to].map((side) => loadSide(deps, { ...input, side }, progress)),
  );
  return compareLoaded(from!, to!, input.identities);
}

/**
 * The comparison of two loaded sides. SOPS-encrypted objects are decrypted where one of
 * `identities` opens them (see decryptWhereKeyed); `encrypted` lists the files compared by their
 * encrypted content.
 */
export async function compareLoaded(
  from: LoadedSide,
  to: LoadedSide,
  identities: () => Promise<readonly string[]> = async () => [],
): Promise<SourcesDiff & { encrypted: string[] }> {
  const ends = {
    from: { label: from.label, ...(from.digest ? { digest: from.digest } : {}) },
    to: { label: to.label, ...(to.digest ? { digest: to.digest } : {}) },
  };
  const identical =
    from.files.size === to.files.size &&
    [...from.files].every(([path, content]) => to.files.get(path)?.equals(content) === true);
  const [before, after] = [sourceObjects(from.files), sourceObjects(to.files)];
  const encrypted: string[] = [];
  const hasSops = [...before.values(), ...after.values()].some(
    (o) => (o.object as { sops?: unknown }).sops,
  );
  if (hasSops) {
    const keys = await identities();
    for (const objects of [before, after])
      encrypted.push(...(await decryptWhereKeyed(objects, keys)).encrypted);
  }
  return { ...ends, identical, ...diffObjects(before, after), encrypted: [...new Set(encrypted)] };
}
