/** Reads a pushed workload version back: its manifest and its content layer. */
import { parseFluxManifest } from "../artifact/manifest.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { defaultReference } from "./versions.js";

export interface FetchedArtifact {
  reference: string;
  digest: string;
  annotations: Record<string, string>;
  layer: Buffer;
}

export async function fetchArtifact(
  client: RegistryClient,
  repository: RepositoryRef,
  version: string | undefined,
): Promise<FetchedArtifact> {
  const reference = version ?? (await defaultReference(client, repository));
  const { bytes, digest } = await client.fetchManifest(repository, reference);
  const manifest = parseFluxManifest(bytes);
  const layer = await client.fetchBlob(repository, manifest.layer.digest, {
    size: manifest.layer.size,
  });
  return { reference, digest, annotations: manifest.annotations, layer };
}
