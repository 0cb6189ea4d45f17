/**
 * Pins the project's images by digest in what a push packages, never in the user's files:
 * the packaged root kustomization gets kustomize `images:` entries (`name` → `newName` +
 * `digest`), so Flux's kustomize build turns `image: web` into
 * `image: localhost:5000/web@sha256:…`.
 *
 * - A root `kustomization.yaml` (or `.yml`, `Kustomization`) is packaged as a copy with the
 *   entries added; an entry of the user's own for the same name is replaced (the built image
 *   wins), others stay, comments and order too.
 * - Without one, Flux would generate the kustomization (LAB.md, "Flux's generator rules"):
 *   every `*.yaml`/`*.yml` file outside directories that have their own kustomization, and those
 *   directories as units. The packaged `kustomization.yaml` lists exactly those resources
 *   (validate/build.ts `generatedResources`, the same rules validation walks), plus the images —
 *   so Flux builds the same objects, with the images pinned.
 *
 * The version's manifest carries the pins too (annotation `dev.ksail.images`, JSON
 * `{"web":"localhost:5000/web@sha256:…"}`), for `workload versions`.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Document, isMap, isSeq, parseDocument, YAMLMap, YAMLSeq } from "yaml";
import type { SourceFile } from "../artifact/source-files.js";
import { trackTemporary } from "../artifact/temporary.js";
import { KsailError } from "../errors.js";
import type { RepositoryRef } from "../oci/reference.js";
import { generatedResources } from "../validate/build.js";
import { KUSTOMIZATION_FILE_NAMES } from "../validate/kustomization.js";

export const ANNOTATION_IMAGES = "dev.ksail.images";
/** The root kustomization a push adds when the source directory has none. */
export const GENERATED_KUSTOMIZATION = "kustomization.yaml";

/** One kustomize `images:` entry with a digest. */
export interface ImagePin {
  /** The name manifests use. */
  name: string;
  /** The image as the cluster pulls it, without tag or digest. */
  newName: string;
  digest: string;
  /** Where the image was pushed from this machine (what signing signs), when known. */
  pushedTo?: RepositoryRef;
}

export function pinsOf(
  images: { name: string; clusterName: string; digest: string; repository?: string }[],
): ImagePin[] {
  return images.map((i) => {
    const slash = i.repository?.indexOf("/") ?? -1;
    return {
      name: i.name,
      newName: i.clusterName,
      digest: i.digest,
      ...(slash > 0
        ? {
            pushedTo: {
              registry: i.repository!.slice(0, slash),
              repository: i.repository!.slice(slash + 1),
            },
          }
        : {}),
    };
  });
}

/** The annotation value: `{"<name>":"<newName>@<digest>"}`, names sorted. */
export function imagesAnnotation(pins: ImagePin[]): string {
  const sorted = [...pins].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return JSON.stringify(
    Object.fromEntries(sorted.map((p) => [p.name, `${p.newName}@${p.digest}`])),
  );
}

/** Reads the annotation back; undefined when absent or not ksail's JSON. */
export function parseImagesAnnotation(
  value: string | undefined,
): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    const out: Record<string, string> = {};
    for (const [name, image] of Object.entries(parsed))
      if (typeof image === "string") out[name] = image;
    return out;
  } catch {
    return undefined;
  }
}

export interface PinnedSource {
  /** The files to package: the root kustomization replaced by (or added as) the pinned one. */
  files: SourceFile[];
  /** The packaged root kustomization's path and whether ksail generated it. */
  kustomization: { path: string; generated: boolean };
  /** Names of spec.images no manifest refers to (`image: <name>[:tag|@digest]`). */
  unused: string[];
  /** Removes the temporary copy; safe to call more than once. */
  remove(): Promise<void>;
}

/** The packaged files with the pins in their root kustomization (see the header). */
export async function pinImagesInSource(
  files: SourceFile[],
  pins: ImagePin[],
): Promise<PinnedSource> {
  const rootFile = KUSTOMIZATION_FILE_NAMES.map((name) => files.find((f) => f.path === name)).find(
    (f) => f !== undefined,
  );
  const content =
    rootFile === undefined
      ? generatedKustomization(files, pins)
      : pinnedKustomization(rootFile, await readFile(rootFile.absolutePath, "utf8"), pins);
  const dir = await mkdtemp(join(tmpdir(), "ksail-pinned-"));
  const remove = trackTemporary(dir);
  try {
    const path = rootFile?.path ?? GENERATED_KUSTOMIZATION;
    const absolutePath = join(dir, path);
    await writeFile(absolutePath, content, { mode: 0o600 });
    const pinned: SourceFile = {
      path,
      absolutePath,
      size: Buffer.byteLength(content),
      executable: false,
    };
    const packaged = rootFile
      ? files.map((f) => (f === rootFile ? pinned : f))
      : [...files, pinned].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    return {
      files: packaged,
      kustomization: { path, generated: rootFile === undefined },
      unused: await unusedImages(files, pins),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

function entryNode(pin: ImagePin): YAMLMap {
  const map = new YAMLMap();
  map.set("name", pin.name);
  map.set("newName", pin.newName);
  map.set("digest", pin.digest);
  return map;
}

function generatedKustomization(files: SourceFile[], pins: ImagePin[]): string {
  const resources = generatedResources(new Set(files.map((f) => f.path))).map((r) => r.path);
  const doc = new Document({
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources,
    images: pins.map((p) => ({ name: p.name, newName: p.newName, digest: p.digest })),
  });
  doc.commentBefore =
    " Added by ksail when packaging: the source directory has no kustomization.yaml, so this\n" +
    " lists what Flux would take (*.yaml and *.yml files, directories with a kustomization)\n" +
    " and pins the images of spec.images by digest.";
  return doc.toString();
}

function pinnedKustomization(file: SourceFile, text: string, pins: ImagePin[]): string {
  let doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new KsailError("validation", `${file.path}: ${doc.errors[0]!.message}`, {
      hint: "Fix the kustomization file; nothing was pushed.",
    });
  }
  if (doc.contents === null) {
    // An empty file (or comments only) is an empty Kustomization to Flux.
    const comment = doc.commentBefore ?? doc.comment;
    doc = new Document(new YAMLMap()) as typeof doc;
    if (comment) doc.commentBefore = comment;
  }
  if (!isMap(doc.contents)) {
    throw new KsailError("validation", `${file.path}: a kustomization file must hold a mapping`, {
      hint: "Fix the kustomization file; nothing was pushed.",
    });
  }
  const existing = doc.get("images");
  const seq = isSeq(existing) ? existing : new YAMLSeq();
  if (existing !== undefined && !isSeq(existing)) {
    throw new KsailError("validation", `${file.path}: images must be a list`, {
      hint: "Fix the kustomization file; nothing was pushed.",
    });
  }
  const ours = new Set(pins.map((p) => p.name));
  seq.items = seq.items.filter((item) => !(isMap(item) && ours.has(String(item.get("name")))));
  for (const pin of pins) seq.items.push(entryNode(pin));
  doc.set("images", seq);
  return doc.toString();
}

/** `image:` values in the files, reduced to their names (no tag, no digest). */
const IMAGE_FIELD = /^[ \t-]*["']?image["']?[ \t]*:[ \t]*["']?([^\s"'#]+)/gm;

export function imageName(reference: string): string {
  const at = reference.indexOf("@");
  const withoutDigest = at < 0 ? reference : reference.slice(0, at);
  const colon = withoutDigest.lastIndexOf(":");
  return colon > withoutDigest.lastIndexOf("/") ? withoutDigest.slice(0, colon) : withoutDigest;
}

async function unusedImages(files: SourceFile[], pins: ImagePin[]): Promise<string[]> {
  const wanted = new Set(pins.map((p) => p.name));
  for (const file of files) {
    if (wanted.size === 0) break;
    if (!/\.ya?ml$/.test(file.path) && !KUSTOMIZATION_FILE_NAMES.includes(file.path)) continue;
    const text = await readFile(file.absolutePath, "utf8");
    for (const match of text.matchAll(IMAGE_FIELD)) wanted.delete(imageName(match[1]!));
  }
  return pins.map((p) => p.name).filter((name) => wanted.has(name));
}
