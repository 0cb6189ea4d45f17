/** Where a workload's images are pushed: small, so a push without images loads no build code. */
import { posix } from "node:path";
import type { RepositoryRef } from "../oci/reference.js";

/** Where the images go and how the cluster names them. */
export interface ImageDestination {
  /** Registry host[:port] the engine pushes to, e.g. 127.0.0.1:5000. */
  registry: string;
  /** Path the image names go under ("" for the registry's root), e.g. "team". */
  prefix: string;
  /** The same registry as the cluster's nodes name it, e.g. localhost:5000. */
  clusterRegistry: string;
}

/**
 * Where a workload's images go: the artifact's registry, next to the artifact's repository
 * (`127.0.0.1:5000/app` → `127.0.0.1:5000/web`; `ghcr.io/team/app` → `ghcr.io/team/web`).
 * `clusterRegistry` is how nodes reach it: localhost:<port> for ksail's local registry.
 */
export function imageDestination(
  artifact: RepositoryRef,
  clusterRegistry: string = artifact.registry,
): ImageDestination {
  const parent = posix.dirname(artifact.repository);
  return { registry: artifact.registry, prefix: parent === "." ? "" : parent, clusterRegistry };
}
