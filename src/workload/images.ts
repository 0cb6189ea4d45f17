/**
 * A project's images as a workload command builds them: spec.images with contexts resolved
 * against ksail.yaml's directory, pushed next to the artifact, named for the cluster the way
 * its nodes reach the registry (localhost:<port> for ksail's local registry, mirrored by
 * containerd to the registry container).
 */
import { resolve } from "node:path";
import { localRegistryAddresses } from "../registry/address.js";
import type { WorkloadTarget } from "./target.js";
import type { ImageSpec } from "../images/build.js";
import { imageDestination, type ImageDestination } from "../images/destination.js";

export interface WorkloadImages {
  images: ImageSpec[];
  destination: ImageDestination;
}

export function workloadImages(target: WorkloadTarget): WorkloadImages {
  const { config, baseDir } = target.loaded;
  const images = config.spec.images.map((image) => ({
    name: image.name,
    context: resolve(baseDir, image.context),
    ...(image.dockerfile === undefined ? {} : { dockerfile: image.dockerfile }),
    ...(image.target === undefined ? {} : { target: image.target }),
    ...(image.buildArgs === undefined ? {} : { buildArgs: image.buildArgs }),
  }));
  const local = localRegistryAddresses(config);
  const isLocal =
    config.spec.localRegistry === "Enabled" && target.repository.registry === local.host;
  return {
    images,
    destination: imageDestination(
      target.repository,
      isLocal ? local.hostFromContainerRuntime : target.repository.registry,
    ),
  };
}
