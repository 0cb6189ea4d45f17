/**
 * `ksail workload build`: the project's own images (ksail.yaml spec.images), each built from
 * its context by the container engine, tagged `<registry>/<name>:<content hash>` and pushed by
 * the engine to the artifact's registry. A tag that the registry already holds is not built
 * again: the hash covers everything that goes into the build (context.ts), so the image under
 * that tag is this context's image. The digest each image is pinned by comes from the registry.
 *
 * Order per image: hash the context → HEAD the tag → (missing) build without a name → tag →
 * push → read the digest back. A failed or stopped build names nothing and pushes nothing; a
 * stop after tagging removes the local name again, and the registry only has the tag once the
 * engine's push has written the manifest.
 */
import type { Engine } from "../engine/docker.js";
import { buildImage, pushImage, tagImage, untagImage } from "../engine/image-build.js";
import { KsailError } from "../errors.js";
import type { RegistryClient } from "../oci/client.js";
import type { RepositoryRef } from "../oci/reference.js";
import type { ImageDestination } from "./destination.js";
import { silentProgress, type Progress } from "../progress.js";
import {
  contextHash,
  listBuildContext,
  packBuildContext,
  FileDigestCache,
  type BuildSettings,
} from "./context.js";
import { count } from "../util/plural.js";

/** Hex digits of the content hash in the tag. */
export const TAG_HASH_LENGTH = 16;
export { imageDestination, type ImageDestination } from "./destination.js";

export const LABEL_IMAGE = "dev.ksail.image";
export const LABEL_CONTEXT_HASH = "dev.ksail.context-hash";

export interface ImageSpec extends BuildSettings {
  /** The name manifests use (`image: web`). */
  name: string;
  /** Absolute build context directory. */
  context: string;
}

function repositoryPath(destination: ImageDestination, name: string): string {
  return destination.prefix === "" ? name : `${destination.prefix}/${name}`;
}

export interface BuiltImage {
  name: string;
  /** What the engine pushed to, e.g. 127.0.0.1:5000/web. */
  repository: string;
  /** The content hash tag. */
  tag: string;
  /** The manifest digest in the registry. */
  digest: string;
  /** The image as the cluster pulls it: localhost:5000/web@sha256:…. */
  clusterImage: string;
  /** The cluster-side name without digest (kustomize `newName`). */
  clusterName: string;
  /** False when the registry already held this content (nothing built). */
  built: boolean;
  /** Layers the engine sent (0 for a cache hit; undefined when the engine does not say). */
  layersPushed?: number;
  /** Time spent on this image (hash, check, build, push). */
  ms: number;
  /** Where that time went, per step (ms); steps that did not run are absent. */
  steps: ImageBuildSteps;
}

/** Milliseconds per step of one image: what `watch -o json` reports under the build stage. */
export interface ImageBuildSteps {
  /** Listing the context (after .dockerignore) and hashing it. */
  hashMs?: number;
  /** The registry's answer for the content-hash tag. */
  checkMs?: number;
  /** The engine's build, from the first byte of the context to the image ID. */
  buildMs?: number;
  /** Tagging and the engine's push. */
  pushMs?: number;
  /** Reading the pushed digest back from the registry. */
  digestMs?: number;
}

export interface BuildImagesDeps {
  client: RegistryClient;
  /** Connects to the engine; called only when something must be built. */
  engine: () => Promise<Engine>;
  /** Remembers file digests between calls (watch). */
  digestCache?: FileDigestCache;
}

export interface BuildImagesInput {
  images: ImageSpec[];
  destination: ImageDestination;
  signal?: AbortSignal;
  /** Stream build output under each step (default true); failures always carry the last lines. */
  streamOutput?: boolean;
}

export async function buildImages(
  deps: BuildImagesDeps,
  input: BuildImagesInput,
  progress: Progress = silentProgress,
): Promise<BuiltImage[]> {
  const built: BuiltImage[] = [];
  for (const image of input.images) {
    input.signal?.throwIfAborted();
    built.push(await buildOne(deps, input, image, progress));
  }
  return built;
}

async function buildOne(
  deps: BuildImagesDeps,
  input: BuildImagesInput,
  image: ImageSpec,
  progress: Progress,
): Promise<BuiltImage> {
  const started = performance.now();
  const { destination, signal } = input;
  const path = repositoryPath(destination, image.name);
  const repository = `${destination.registry}/${path}`;
  const ref: RepositoryRef = { registry: destination.registry, repository: path };
  const clusterName = `${destination.clusterRegistry}/${path}`;
  const result = (
    tag: string,
    digest: string,
    built: boolean,
    layersPushed: number | undefined,
  ): BuiltImage => ({
    name: image.name,
    repository,
    tag,
    digest,
    clusterName,
    clusterImage: `${clusterName}@${digest}`,
    built,
    ...(layersPushed === undefined ? {} : { layersPushed }),
    ms: performance.now() - started,
    steps,
  });
  const steps: ImageBuildSteps = {};
  let mark = started;
  const lap = (step: keyof ImageBuildSteps) => {
    const now = performance.now();
    steps[step] = now - mark;
    mark = now;
  };

  return progress.step(
    `Build image ${image.name}`,
    async () => {
      const context = await listBuildContext(image.context, image);
      const hash = await contextHash(context, image, deps.digestCache);
      lap("hashMs");
      const tag = hash.slice(0, TAG_HASH_LENGTH);
      const held = await deps.client.resolve(ref, tag);
      lap("checkMs");
      if (held !== undefined) return result(tag, held.digest, false, 0);

      const engine = await connectForBuild(deps);
      signal?.throwIfAborted();
      const packed = packBuildContext(context, image, {
        ...(signal ? { signal } : {}),
        ...(deps.digestCache ? { cache: deps.digestCache } : {}),
      });
      packed.hash.catch(() => undefined); // surfaces through the build
      const imageId = await buildImage(engine, {
        context: packed.stream,
        dockerfile: context.dockerfile,
        target: image.target,
        buildArgs: image.buildArgs,
        labels: { [LABEL_IMAGE]: image.name },
        ...(signal ? { signal } : {}),
        ...(input.streamOutput === false ? {} : { onLine: (line) => progress.info(`  ${line}`) }),
      });
      // A file saved during the build changes what was sent: the tag names what was built.
      const builtTag = (await packed.hash).slice(0, TAG_HASH_LENGTH);
      lap("buildMs");
      signal?.throwIfAborted();
      await tagImage(engine, imageId, repository, builtTag);
      try {
        const pushed = await pushImage(engine, repository, builtTag, {
          ...(signal ? { signal } : {}),
        });
        lap("pushMs");
        const digest = (await deps.client.resolve(ref, builtTag))?.digest;
        lap("digestMs");
        if (digest === undefined) {
          throw new KsailError(
            "registry",
            `the engine pushed ${repository}:${builtTag}, but the registry does not have it`,
            { hint: "Check that the engine and ksail reach the same registry." },
          );
        }
        return result(builtTag, digest, true, pushed.layersPushed);
      } catch (error) {
        if (signal?.aborted) await untagImage(engine, `${repository}:${builtTag}`);
        throw error;
      }
    },
    (r) =>
      r.built
        ? `Built ${r.name} → ${r.repository}:${r.tag} (${r.digest.slice(0, 19)}…${r.layersPushed === undefined ? "" : `, ${count(r.layersPushed, "layer")} pushed`})`
        : `${r.name} unchanged: ${r.repository}:${r.tag} is in the registry (${r.digest.slice(0, 19)}…)`,
  );
}

/** The engine, or exit 6 saying that building images needs Docker or Podman. */
async function connectForBuild(deps: BuildImagesDeps): Promise<Engine> {
  try {
    return await deps.engine();
  } catch (error) {
    if (error instanceof KsailError && error.kind === "unreachable") {
      throw new KsailError(
        "not-found",
        `building images (spec.images) needs Docker or Podman: ${error.message}`,
        {
          hint: error.hint ?? "Start Docker or Podman, or point DOCKER_HOST at one.",
          cause: error,
        },
      );
    }
    throw error;
  }
}

export { FileDigestCache };
