/**
 * The images a version pins (spec.images), signed and verified with the artifact (issue 25):
 * a push with a signing key signs each image digest it pinned in that image's repository, in the
 * artifact's cosign format (the bundle referrer or the legacy `.sig` tag — what `cosign verify`
 * checks on an image), and `workload verify` checks the images the version's `dev.ksail.images`
 * annotation names after the artifact itself.
 *
 * The annotation names the images as the cluster pulls them (`localhost:5000/web@sha256:…`);
 * ksail reaches them on the artifact's registry (`127.0.0.1:5000/web`), the same registry under
 * the name this machine uses (see workload/images.ts).
 */
import type { KeyObject } from "node:crypto";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import { parseFluxManifest } from "../artifact/manifest.js";
import { ANNOTATION_IMAGES, parseImagesAnnotation, type ImagePin } from "../images/pin.js";
import type { ImageDestination } from "../images/build.js";
import type { Progress } from "../progress.js";
import type { SigningKey } from "../sign/keys.js";
import { signArtifact, type SignResult } from "./sign.js";
import { verifyArtifact, type SignatureFormat, type VerifyResult } from "./verify.js";

export interface ImageSignResult extends SignResult {
  /** The spec.images name. */
  name: string;
}

/**
 * Signs the digest of every pin that says where it was pushed (`pushedTo`), one after the other,
 * in `format`. Idempotent as signArtifact is: an image signed with this key before is left as is.
 */
export async function signImages(
  { client }: { client: RegistryClient },
  input: { images: readonly ImagePin[]; key: SigningKey; format?: SignatureFormat | undefined },
  progress: Progress,
): Promise<ImageSignResult[]> {
  const signed: ImageSignResult[] = [];
  for (const pin of input.images) {
    if (pin.pushedTo === undefined) continue;
    const result = await signArtifact(
      { client },
      {
        repository: pin.pushedTo,
        digest: pin.digest,
        key: input.key,
        ...(input.format ? { format: input.format } : {}),
      },
      progress,
    );
    signed.push({ name: pin.name, ...result });
  }
  return signed;
}

/** One image of a version, as the annotation names it and where ksail reads it. */
export interface VersionImage {
  name: string;
  /** As the cluster pulls it: localhost:5000/web@sha256:…. */
  image: string;
  repository: RepositoryRef;
  digest: string;
}

/**
 * The repository this machine reaches a cluster-side image name at: the destination's cluster
 * registry (`localhost:5000`) is the artifact's registry (`127.0.0.1:5000`); any other name is
 * read where it says.
 */
export function hostRepositoryOf(
  clusterName: string,
  destination: ImageDestination,
): RepositoryRef {
  const slash = clusterName.indexOf("/");
  const registry = clusterName.slice(0, slash);
  const repository = clusterName.slice(slash + 1);
  return {
    registry: registry === destination.clusterRegistry ? destination.registry : registry,
    repository,
  };
}

/** The images the version `digest` pins (its `dev.ksail.images` annotation); [] without. */
export async function imagesOfVersion(
  client: RegistryClient,
  repository: RepositoryRef,
  digest: string,
  destination: ImageDestination,
): Promise<VersionImage[]> {
  const { bytes } = await client.fetchManifest(repository, digest);
  const pinned = parseImagesAnnotation(parseFluxManifest(bytes).annotations[ANNOTATION_IMAGES]);
  return Object.entries(pinned ?? {}).flatMap(([name, image]) => {
    const at = image.indexOf("@");
    const slash = image.indexOf("/");
    if (at < 0 || slash < 0 || slash > at) return [];
    return [
      {
        name,
        image,
        repository: hostRepositoryOf(image.slice(0, at), destination),
        digest: image.slice(at + 1),
      },
    ];
  });
}

export type ImageVerifyResult = VerifyResult & { name: string; image: string };

/**
 * Verifies each image with `publicKey`, in whichever format it is signed in (as the artifact).
 * A missing image is a failed result naming it (the version's other checks stand); an
 * unreachable registry is an error, as for the artifact.
 */
export async function verifyImages(
  { client }: { client: RegistryClient },
  input: { images: readonly VersionImage[]; publicKey: KeyObject },
): Promise<ImageVerifyResult[]> {
  const results: ImageVerifyResult[] = [];
  for (const image of input.images) {
    const base = { name: image.name, image: image.image };
    try {
      const result = await verifyArtifact(
        { client },
        { repository: image.repository, reference: image.digest, publicKey: input.publicKey },
      );
      results.push(
        result.ok
          ? { ...result, ...base }
          : { ...result, ...base, reason: `image ${image.name}: ${result.reason}` },
      );
    } catch (error) {
      if (!(error instanceof KsailError && error.kind === "not-found")) throw error;
      results.push({
        ...base,
        ok: false,
        reference: image.digest,
        digest: image.digest,
        reason: error.message,
      });
    }
  }
  return results;
}
