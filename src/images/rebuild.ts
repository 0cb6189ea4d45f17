/**
 * Images in a long-lived loop (`workload watch`): the first call builds (or finds) every image;
 * later calls rebuild only the images whose context holds a changed path that its
 * `.dockerignore` does not drop (the context's `.git` never counts), and reuse the others'
 * results without touching disk, registry or engine. A manifest-only save builds nothing.
 * File digests are remembered between calls, so a rebuild reads only the files that changed.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import dockerignoreModule from "@balena/dockerignore";
import { silentProgress, type Progress } from "../progress.js";
import {
  buildImages,
  TAG_HASH_LENGTH,
  FileDigestCache,
  type BuildImagesDeps,
  type BuiltImage,
  type ImageDestination,
  type ImageSpec,
} from "./build.js";
import { contextHash, DOCKERIGNORE_FILE, listBuildContext, readDockerignore } from "./context.js";

const dockerignore = dockerignoreModule.default;

export interface RebuildResult {
  /** Every image, in spec order (rebuilt or remembered). */
  images: BuiltImage[];
  /** Names of the images this call looked at (hashed, checked, maybe built). */
  checked: string[];
}

export class ImageRebuilder {
  private readonly digestCache = new FileDigestCache();
  private readonly known = new Map<string, BuiltImage>();
  /** Images a failed call was to build: the next call builds them whatever changed. */
  private readonly dirty = new Set<string>();

  constructor(
    private readonly deps: Omit<BuildImagesDeps, "digestCache">,
    private readonly input: { images: ImageSpec[]; destination: ImageDestination },
  ) {}

  /** The build context directories (absolute). */
  get contexts(): string[] {
    return this.input.images.map((i) => resolve(i.context));
  }

  /** The images whose context a changed path (absolute) belongs to, .dockerignore applied. */
  async affected(changedPaths: readonly string[]): Promise<ImageSpec[]> {
    const out: ImageSpec[] = [];
    for (const image of this.input.images) {
      const root = resolve(image.context);
      const inside = changedPaths
        .map((path) => relative(root, resolve(path)))
        .filter((rel) => !rel.startsWith("..") && !isAbsolute(rel))
        .map((rel) => rel.split(sep).join("/"));
      if (inside.length === 0) continue;
      // The context itself (an event that named no file): anything in it may have changed.
      if (inside.includes("")) {
        out.push(image);
        continue;
      }
      const dockerfile = image.dockerfile ?? "Dockerfile";
      const matcher = dockerignore().add(await readDockerignore(root));
      const counts = (rel: string) =>
        rel === DOCKERIGNORE_FILE || rel === dockerfile || !matcher.ignores(rel);
      if (inside.some(counts)) out.push(image);
    }
    // A Dockerfile outside its context changes the image too.
    for (const image of this.input.images) {
      if (out.includes(image) || image.dockerfile === undefined) continue;
      const dockerfile = resolve(image.context, image.dockerfile);
      if (changedPaths.some((path) => resolve(path) === dockerfile)) out.push(image);
    }
    return out;
  }

  /**
   * The images a batch of changed paths really changes: affected, and their context's content
   * hash differs from the one last built (an editor's second event for a save already built
   * changes nothing). File digests come from the cache, so unchanged files are not read.
   */
  async stale(changedPaths: readonly string[]): Promise<ImageSpec[]> {
    const out: ImageSpec[] = [];
    for (const image of await this.affected(changedPaths)) {
      const known = this.known.get(image.name);
      if (known === undefined || this.dirty.has(image.name)) {
        out.push(image);
        continue;
      }
      const hash = await contextHash(
        await listBuildContext(image.context, image),
        image,
        this.digestCache,
      );
      if (hash.slice(0, TAG_HASH_LENGTH) !== known.tag) out.push(image);
    }
    return out;
  }

  /**
   * Builds what `changedPaths` touch (every image on the first call, or with "all"), and
   * returns every image's current result.
   */
  async build(
    changedPaths: readonly string[] | "all",
    options: { signal?: AbortSignal; streamOutput?: boolean } = {},
    progress: Progress = silentProgress,
  ): Promise<RebuildResult> {
    const missing = this.input.images.filter((i) => !this.known.has(i.name));
    const touched = changedPaths === "all" ? this.input.images : await this.affected(changedPaths);
    const wanted = this.input.images.filter(
      (i) => missing.includes(i) || touched.includes(i) || this.dirty.has(i.name),
    );
    for (const image of wanted) this.dirty.add(image.name);
    if (wanted.length > 0) {
      const built = await buildImages(
        { ...this.deps, digestCache: this.digestCache },
        {
          images: wanted,
          destination: this.input.destination,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.streamOutput === undefined ? {} : { streamOutput: options.streamOutput }),
        },
        progress,
      );
      for (const image of built) {
        this.known.set(image.name, image);
        this.dirty.delete(image.name);
      }
    }
    return {
      images: this.input.images.map((i) => this.known.get(i.name)!),
      checked: wanted.map((i) => i.name),
    };
  }
}
