/** `ksail workload pull`: a pushed version, extracted safely into an empty directory. */
import { count } from "../util/plural.js";
import { extractLayer } from "../artifact/extract.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { fetchArtifact } from "./artifact-source.js";
import { silentProgress, type Progress } from "../progress.js";

export interface PullResult {
  reference: string;
  digest: string;
  destination: string;
  files: string[];
}

export interface PullInput {
  repository: RepositoryRef;
  /** Default: `latest`, else the highest version. */
  version?: string | undefined;
  /** An empty or absent directory. */
  destination: string;
}

export async function pullWorkload(
  deps: { client: RegistryClient },
  input: PullInput,
  progress: Progress = silentProgress,
): Promise<PullResult> {
  const { client } = deps;
  const { repository, version, destination } = input;
  const artifact = await progress.step(
    "Fetch artifact",
    () => fetchArtifact(client, repository, version),
    (a) => `Fetched ${a.reference} (${a.digest.slice(0, 19)}…)`,
  );
  const { files } = await progress.step(
    "Extract",
    () => extractLayer(artifact.layer, destination),
    (r) => `Extracted ${count(r.files.length, "file")} to ${destination}`,
  );
  return { reference: artifact.reference, digest: artifact.digest, destination, files };
}
