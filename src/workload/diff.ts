/** `ksail workload diff`: the local source directory against a pushed version, file by file. */
import { readFile } from "node:fs/promises";
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { readLayerFiles } from "../artifact/extract.js";
import { listSourceFiles } from "../artifact/source-files.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { mapLimit } from "../util/map-limit.js";
import { fetchArtifact } from "./artifact-source.js";
import { silentProgress, type Progress } from "../progress.js";

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
        after ? "local" : "",
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
