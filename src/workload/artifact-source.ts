/** Reads a pushed workload version back: its manifest and its content layer. */
import { parseFluxManifest } from "../artifact/manifest.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { KsailError } from "../errors.js";
import { isDigest } from "../oci/digest.js";
import { defaultReference, versionNotFound } from "./versions.js";

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
  const { bytes, digest } = await client
    .fetchManifest(repository, reference)
    .catch(async (error: unknown) => {
      // A version the user named that is not there: say which one is, not the registry's JSON.
      if (version === undefined || isDigest(version)) throw error;
      if (!(error instanceof KsailError) || error.kind !== "not-found") throw error;
      throw await versionNotFound(client, repository, version, error);
    });
  const manifest = parseFluxManifest(bytes);
  const layer = await client.fetchBlob(repository, manifest.layer.digest, {
    size: manifest.layer.size,
  });
  return { reference, digest, annotations: manifest.annotations, layer };
}
