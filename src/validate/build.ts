/**
 * Phase 3 of validation: walks what Flux builds, the way kustomize-controller does.
 *
 * - With a kustomization at the source root, Flux builds exactly that kustomization: the files
 *   and directories it includes (resources, bases, components), recursively. Nothing else in the
 *   artifact is read.
 * - Without one, Flux generates it (fluxcd/pkg kustomize.Generator): every `*.yaml` / `*.yml`
 *   file under the root (extension as written; `.json` and others are skipped) is a resource,
 *   and a directory holding a kustomization is included as a unit without descending into it.
 *
 * Along the way it runs the kustomization checks (./kustomization.ts) and, per kustomization,
 * collects the objects it passes on — with its namespace, namePrefix and nameSuffix applied, as
 * kustomize does — and records collisions (./identity.ts). Rules added here:
 * - kustomization-cycle: a kustomization includes itself, directly or through others
 * - kustomization-kind: a Component included as a resource, or a Kustomization as a component
 * - kustomization-multiple: more than one kustomization file in one directory
 */
import { posix } from "node:path";
import {
  checkKustomization,
  KUSTOMIZATION_FILE_NAMES,
  type IncludedPath,
} from "./kustomization.js";
import type { KustomizationInfo } from "./kustomization.js";
import type { ValidationIssue } from "./issues.js";
import { identityKey, transform, type ObjectId } from "./identity.js";
import { checkObjects, fastFoundObjects, type FoundObject } from "./objects.js";
import type { ReadYaml } from "./parse.js";

export interface BuildInput {
  root: string;
  /** Every file in the artifact. */
  fileSet: ReadonlySet<string>;
  /** Reads (and remembers) a file that passed the byte checks; undefined for the others. */
  read(path: string, objects: boolean): Promise<ReadYaml | undefined>;
}

export interface Collision {
  /** The identity at the kustomization where the objects met. */
  id: ObjectId;
  objects: FoundObject[];
  /** The entry each object came through, and the kustomization (file) where they met. */
  via: string[];
  kustomization: string;
  /** Set when a transformer (not the inclusion) made the objects one. */
  cause?: string;
}

export interface BuildResult {
  /** True when Flux would generate the root kustomization. */
  generated: boolean;
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
  /** Files read as Kubernetes objects. */
  manifests: Set<string>;
  /** Kustomization files Flux reads. */
  kustomizations: Set<string>;
  /** Files a kustomization reads otherwise: patches, schemas, generator inputs. */
  used: Set<string>;
  collisions: Collision[];
  /** The objects the root passes on (what Flux applies), with their transformers applied. */
  objects: ObjectId[];
  /** Every top-level field of the kustomizations walked (see KustomizationInfo.fields). */
  fields: Set<string>;
}

function kustomizationFilesIn(fileSet: ReadonlySet<string>, dir: string): string[] {
  const prefix = dir === "." ? "" : `${dir}/`;
  return KUSTOMIZATION_FILE_NAMES.map((n) => `${prefix}${n}`).filter((p) => fileSet.has(p));
}

/** Flux's generator: the resources of a root without a kustomization, in walk order. */
export function generatedResources(fileSet: ReadonlySet<string>): IncludedPath[] {
  const out: IncludedPath[] = [];
  const units = new Set<string>();
  const byPath = [...fileSet].sort();
  for (const path of byPath) {
    // Inside a directory that holds a kustomization: that directory is the unit.
    let dir = posix.dirname(path);
    let unit: string | undefined;
    const chain: string[] = [];
    while (dir !== ".") {
      chain.unshift(dir);
      dir = posix.dirname(dir);
    }
    for (const d of chain) {
      if (kustomizationFilesIn(fileSet, d).length > 0) {
        unit = d;
        break;
      }
    }
    if (unit !== undefined) {
      if (!units.has(unit)) {
        units.add(unit);
        out.push({ path: unit, directory: true, label: `directory ${unit}` });
      }
      continue;
    }
    const ext = posix.extname(path);
    if (ext === ".yaml" || ext === ".yml")
      out.push({ path, directory: false, label: `file ${path}` });
  }
  return out;
}

class BuildWalk {
  readonly result: BuildResult = {
    generated: false,
    errors: [],
    warnings: [],
    manifests: new Set(),
    kustomizations: new Set(),
    used: new Set(),
    collisions: [],
    objects: [],
    fields: new Set(),
  };
  private readonly fileObjects = new Map<string, FoundObject[]>();
  private readonly dirObjects = new Map<string, FoundObject[]>();
  private readonly infos = new Map<string, KustomizationInfo | undefined>();

  constructor(private readonly input: BuildInput) {}

  async run(): Promise<BuildResult> {
    if (kustomizationFilesIn(this.input.fileSet, ".").length > 0) {
      this.result.objects = (await this.directory(".", ["."])).map((o) => o.id);
    } else {
      this.result.generated = true;
      const objects = await this.accumulate(
        generatedResources(this.input.fileSet),
        ["."],
        undefined,
        ".",
      );
      this.dirObjects.set(".", objects);
      this.result.objects = objects.map((o) => o.id);
    }
    return this.result;
  }

  private error(issue: ValidationIssue): void {
    this.result.errors.push(issue);
  }

  private async objectsOf(path: string): Promise<FoundObject[]> {
    const known = this.fileObjects.get(path);
    if (known !== undefined) return known;
    this.result.manifests.add(path);
    const read = await this.input.read(path, true);
    let objects: FoundObject[] = [];
    if (read?.kind === "fast") objects = fastFoundObjects(path, read.objects);
    else if (read?.kind === "parsed") objects = checkObjects(read.parsed, this.result.errors);
    else if (read?.kind === "failed") this.result.errors.push(...read.issues);
    this.fileObjects.set(path, objects);
    return objects;
  }

  private async info(file: string): Promise<KustomizationInfo | undefined> {
    if (this.infos.has(file)) return this.infos.get(file);
    this.result.kustomizations.add(file);
    const read = await this.input.read(file, false);
    let info: KustomizationInfo | undefined;
    if (read?.kind === "failed") this.result.errors.push(...read.issues);
    else if (read?.kind === "parsed")
      info = await checkKustomization(
        this.input.root,
        read.parsed,
        this.input.fileSet,
        this.result.errors,
        // Flux rewrites the root kustomization.yaml through a lenient decoder.
        file === "kustomization.yaml" ? this.result.warnings : this.result.errors,
      );
    this.infos.set(file, info);
    if (info !== undefined) {
      for (const field of info.fields) this.result.fields.add(field);
      for (const path of [...info.patchFiles, ...info.dataFiles]) this.result.used.add(path);
      for (const path of info.patchFiles) {
        // kustomize parses these as YAML: syntax errors fail the build.
        const patch = await this.input.read(path, false);
        if (patch?.kind === "failed") this.result.errors.push(...patch.issues);
      }
    }
    return info;
  }

  /** The objects a kustomization directory passes on (its transformers applied). */
  private async directory(dir: string, stack: string[]): Promise<FoundObject[]> {
    const known = this.dirObjects.get(dir);
    if (known !== undefined) return known;
    const files = kustomizationFilesIn(this.input.fileSet, dir);
    for (const file of files.slice(1)) this.result.kustomizations.add(file);
    if (files.length > 1)
      this.error({
        file: files[1]!,
        rule: "kustomization-multiple",
        message: `${files.join(" and ")} are both in ${dir === "." ? "the source root" : dir}; kustomize refuses to pick one: keep a single kustomization file`,
      });
    const file = files[0];
    const info = file === undefined ? undefined : await this.info(file);
    let objects: FoundObject[] = [];
    if (info !== undefined && file !== undefined) {
      const accumulated = await this.accumulate(
        [...info.resources, ...info.components],
        stack,
        info,
        file,
      );
      objects = this.transformed(accumulated, info, file);
    }
    this.dirObjects.set(dir, objects);
    return objects;
  }

  /**
   * The objects with the kustomization's transformers applied. A namespace can make two objects
   * one (kustomize: "namespace transformation produces ID conflict"); the first is kept.
   */
  private transformed(
    objects: FoundObject[],
    info: KustomizationInfo,
    file: string,
  ): FoundObject[] {
    const seen = new Map<string, FoundObject>();
    const collisions = new Map<string, Collision>();
    for (const object of objects) {
      const moved = { ...object, id: transform(object.id, info) };
      const key = identityKey(moved.id);
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, moved);
        continue;
      }
      const collision = collisions.get(key) ?? {
        id: first.id,
        objects: [first],
        via: [],
        kustomization: file,
        cause: `${file} sets namespace ${info.namespace ?? ""} on both`,
      };
      collision.objects.push(moved);
      collisions.set(key, collision);
    }
    this.result.collisions.push(...collisions.values());
    return [...seen.values()];
  }

  private async accumulate(
    entries: IncludedPath[],
    stack: string[],
    info: KustomizationInfo | undefined,
    file: string,
  ): Promise<FoundObject[]> {
    const components = new Set(info?.components ?? []);
    const seen = new Map<string, { object: FoundObject; via: string }>();
    const collisions = new Map<string, Collision>();
    const out: FoundObject[] = [];
    for (const entry of entries) {
      let objects: FoundObject[];
      if (!entry.directory) {
        objects = await this.objectsOf(entry.path);
      } else {
        const where = {
          file,
          ...(entry.line === undefined ? {} : { line: entry.line, column: entry.column }),
        };
        if (stack.includes(entry.path)) {
          const self = entry.path === stack[stack.length - 1];
          this.error({
            ...where,
            rule: "kustomization-cycle",
            message: self
              ? `${entry.label} includes this kustomization itself; kustomize cannot build a cycle: remove the entry`
              : `${entry.label} includes ${entry.path}, which already includes this kustomization (${[...stack, entry.path].join(" → ")}); kustomize cannot build a cycle: remove one of the entries`,
          });
          continue;
        }
        objects = await this.directory(entry.path, [...stack, entry.path]);
        const sub = this.infos.get(kustomizationFilesIn(this.input.fileSet, entry.path)[0] ?? "");
        const isComponent = components.has(entry);
        if (sub !== undefined && (sub.kind === "Component") !== isComponent)
          this.error({
            ...where,
            rule: "kustomization-kind",
            message: isComponent
              ? `${entry.label} is a ${sub.kind}, not a Component; list it under resources`
              : `${entry.label} is a Component; list it under components, not ${entry.label.split(" ")[0]}`,
          });
      }
      for (const object of objects) {
        const key = identityKey(object.id);
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, { object, via: entry.path });
          out.push(object);
          continue;
        }
        const collision = collisions.get(key) ?? {
          id: first.object.id,
          objects: [first.object],
          via: [first.via],
          kustomization: file,
        };
        collision.objects.push(object);
        collision.via.push(entry.path);
        collisions.set(key, collision);
      }
    }
    this.result.collisions.push(...collisions.values());
    return out;
  }
}

/**
 * Kustomization fields that neither create, remove nor rename objects beyond what the walk models
 * (resources, namespace, namePrefix, nameSuffix): with only these, BuildResult.objects is exactly
 * the set of objects kustomize builds.
 */
const IDENTITY_NEUTRAL_FIELDS: ReadonlySet<string> = new Set([
  "apiVersion",
  "kind",
  "metadata",
  "resources",
  "bases",
  "namespace",
  "namePrefix",
  "nameSuffix",
  "commonLabels",
  "labels",
  "commonAnnotations",
  "images",
  "imageTags",
  "replicas",
  "buildMetadata",
  "sortOptions",
]);

/** What validation learned about the objects Flux will apply (see ValidateOptions.identities). */
export interface BuiltIdentities {
  /** The root's objects, when the walk models every field that names objects. */
  objects?: ObjectId[];
  /** Why `objects` is not given: the fields the walk does not model. */
  inexact?: string;
}

/** The root's objects of a walk without findings, or why they are not exact. */
export function builtIdentities(build: BuildResult): BuiltIdentities {
  const other = [...build.fields].filter((f) => !IDENTITY_NEUTRAL_FIELDS.has(f)).sort();
  if (other.length > 0) return { inexact: `the kustomizations use ${other.join(", ")}` };
  return { objects: build.objects };
}

export function walkBuild(input: BuildInput): Promise<BuildResult> {
  return new BuildWalk(input).run();
}
