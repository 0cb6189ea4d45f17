/**
 * `ksail workload diff --cluster`: what applying the local directory would change in the
 * cluster, object by object, as kustomize-controller would see it — the way `flux diff
 * kustomization` works (flux2 internal/build/diff.go, fluxcd/pkg/ssa Diff):
 *
 * 1. build the objects from the artifact's files (render.ts; what it cannot build faithfully is
 *    refused), add the owner labels and spec.commonMetadata kustomize-controller adds;
 * 2. per object: skip the ones Flux skips (reconcile: disabled, ssa: ignore / ifnotpresent),
 *    server-side apply with dryRun=All as field manager `kustomize-controller` (force), and
 *    compare with the live object: labels, annotations, and everything but metadata and status;
 * 3. with `prune: true`, the Kustomization's status.inventory entries no longer built are the
 *    objects Flux would delete.
 *
 * Unified diffs read live → merged, without managedFields, resourceVersion, uid, generation,
 * creationTimestamp and status; Secret values are masked.
 *
 * With `spec.decryption` (provider sops), SOPS-encrypted objects are decrypted locally with the
 * local age identities, as kustomize-controller decrypts them before applying; their values
 * are compared but, being Secrets, shown only masked.
 */
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { stringify } from "yaml";
import { listSourceFiles, readSourceFiles } from "../artifact/source-files.js";
import { KsailError, isKsailError } from "../errors.js";
import type { KubeClient } from "../k8s/client.js";
import { silentProgress, type Progress } from "../progress.js";
import { mapLimit } from "../util/map-limit.js";
import { decryptResource, SopsError } from "../secrets/sops-file.js";
import { renderObjects, unsupportedBuild, type KubeObject } from "./render.js";
import { KUSTOMIZATION_API } from "./resources.js";

export const KUSTOMIZE_CONTROLLER_MANAGER = "kustomize-controller";
const GROUP = "kustomize.toolkit.fluxcd.io";

export interface ClusterDiffTarget {
  /** The Flux Kustomization that applies the artifact. */
  name: string;
  namespace: string;
}

export interface ObjectChange {
  /** Kind/namespace/name (Kind/name when cluster-scoped), as `flux diff` prints it. */
  subject: string;
  action: "created" | "drifted" | "deleted" | "skipped";
  /** Unified diff live → merged (drifted objects only). */
  patch?: string;
}

export interface ClusterDiffResult {
  kustomization: string;
  changes: ObjectChange[];
  unchanged: number;
  /** Objects the dry run refused, with the API server's message. */
  errors: string[];
}

interface Inventory {
  entries?: { id: string; v: string }[];
}

interface FluxKustomization {
  metadata: { name: string; namespace: string };
  spec?: Record<string, unknown> & {
    path?: string;
    prune?: boolean;
    targetNamespace?: string;
    commonMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  };
  status?: { inventory?: Inventory };
}

/** Kustomization fields that change the build or the comparison in ways not rendered here. */
const UNSUPPORTED_SPEC_FIELDS = [
  "patches",
  "patchesStrategicMerge",
  "patchesJson6902",
  "images",
  "components",
  "namePrefix",
  "nameSuffix",
  "postBuild",
  "kubeConfig",
  "ignore",
];

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
}

/** cli-utils' ObjMetadata string, as kustomize-controller writes inventory entries. */
export function inventoryId(object: {
  namespace: string;
  name: string;
  group: string;
  kind: string;
}) {
  return `${object.namespace}_${object.name.replaceAll(":", "__")}_${object.group}_${object.kind}`;
}

export function parseInventoryId(
  id: string,
): { namespace: string; name: string; group: string; kind: string } | undefined {
  const first = id.indexOf("_");
  const last = id.lastIndexOf("_");
  if (first < 0 || last <= first) return undefined;
  const namespace = id.slice(0, first);
  const kind = id.slice(last + 1);
  const rest = id.slice(first + 1, last);
  const groupAt = rest.lastIndexOf("_");
  if (groupAt < 0) return undefined;
  return {
    namespace,
    name: rest.slice(0, groupAt).replaceAll("__", ":"),
    group: rest.slice(groupAt + 1),
    kind,
  };
}

function subjectOf(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/** JSON equality that ignores key order. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function emptyToUndefined(map: unknown): unknown {
  return map && typeof map === "object" && Object.keys(map).length > 0 ? map : undefined;
}

/** fluxcd/pkg/ssa hasDrifted: labels, annotations, then everything but metadata and status. */
function hasDrifted(live: KubeObject, merged: KubeObject): boolean {
  if (!sameJson(emptyToUndefined(live.metadata.labels), emptyToUndefined(merged.metadata.labels)))
    return true;
  if (
    !sameJson(
      emptyToUndefined(live.metadata.annotations),
      emptyToUndefined(merged.metadata.annotations),
    )
  )
    return true;
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, ...rest } = o;
    return rest;
  };
  return !sameJson(strip(live), strip(merged));
}

/** What the diff shows: no server bookkeeping. */
function forDisplay(object: KubeObject): KubeObject {
  const { status: _status, ...rest } = object;
  const {
    managedFields: _mf,
    resourceVersion: _rv,
    uid: _uid,
    generation: _gen,
    creationTimestamp: _ct,
    ...metadata
  } = object.metadata;
  return { ...rest, metadata } as KubeObject;
}

/** Secret values never reach the output: equal values "***", changed ones "*** (before/after)". */
function maskSecrets(live: KubeObject, merged: KubeObject): void {
  for (const field of ["data", "stringData"]) {
    const before = (live[field] ?? {}) as Record<string, unknown>;
    const after = (merged[field] ?? {}) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const same = before[key] === after[key];
      if (key in before) before[key] = same ? "***" : "*** (before)";
      if (key in after) after[key] = same ? "***" : "*** (after)";
    }
  }
}

/** fluxcd/pkg/ssa normalize: default port protocols (SSA list keys), Secret stringData → data. */
function normalize(object: KubeObject): void {
  const podSpecs: unknown[] = [];
  const spec = object.spec as Record<string, unknown> | undefined;
  const template = (s: unknown) =>
    (s as { template?: { spec?: unknown } } | undefined)?.template?.spec;
  switch (object.kind) {
    case "Pod":
      podSpecs.push(spec);
      break;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "ReplicationController":
    case "Job":
      podSpecs.push(template(spec));
      break;
    case "CronJob":
      podSpecs.push(template((spec?.jobTemplate as { spec?: unknown } | undefined)?.spec));
      break;
    case "Service":
      for (const port of (spec?.ports as Record<string, unknown>[] | undefined) ?? []) {
        port.protocol ??= "TCP";
      }
      break;
    case "Secret":
      if (object.stringData && typeof object.stringData === "object") {
        const data = (object.data ?? {}) as Record<string, string>;
        for (const [key, value] of Object.entries(object.stringData as Record<string, string>)) {
          data[key] = Buffer.from(String(value)).toString("base64");
        }
        object.data = data;
        delete object.stringData;
      }
      break;
  }
  for (const podSpec of podSpecs) {
    const pod = podSpec as Record<string, unknown[] | undefined> | undefined;
    for (const list of [pod?.containers, pod?.initContainers, pod?.ephemeralContainers]) {
      for (const container of (list ?? []) as { ports?: Record<string, unknown>[] }[]) {
        for (const port of container.ports ?? []) port.protocol ??= "TCP";
      }
    }
  }
}

function metadataHas(object: KubeObject | undefined, key: string, value: string): boolean {
  return object?.metadata.labels?.[key] === value || object?.metadata.annotations?.[key] === value;
}

/** Decrypts the SOPS-encrypted objects in place (kustomize-controller's DecryptResource). */
async function decryptObjects(
  objects: { object: KubeObject; file: string }[],
  identities: () => Promise<readonly string[]>,
): Promise<void> {
  const encrypted = objects.filter(({ object }) => (object as { sops?: unknown }).sops);
  if (encrypted.length === 0) return;
  const keys = await identities();
  for (const entry of encrypted) {
    try {
      const plain = await decryptResource(entry.object as Record<string, unknown>, keys);
      if (plain !== undefined) entry.object = plain as KubeObject;
    } catch (error) {
      if (!(error instanceof SopsError)) throw error;
      throw new KsailError(
        error.reason === "no-key" ? "auth" : "validation",
        `cannot decrypt ${entry.file} for the comparison: ${error.message}`,
        {
          hint: "Put the age identity of a recipient in $SOPS_AGE_KEY_FILE (or the sops keys file), as for `ksail workload secrets decrypt`.",
        },
      );
    }
  }
}

export async function diffCluster(
  deps: { kube: KubeClient },
  options: {
    sourceDir: string;
    ignore?: string[];
    target: ClusterDiffTarget;
    /** The age identities for SOPS files (spec.decryption); default: none. */
    identities?: () => Promise<readonly string[]>;
  },
  progress: Progress = silentProgress,
): Promise<ClusterDiffResult> {
  const { kube } = deps;
  const { target } = options;
  const ksRef = {
    apiVersion: KUSTOMIZATION_API,
    kind: "Kustomization",
    name: target.name,
    namespace: target.namespace,
  };
  const kustomization = await progress.step(
    `Read Kustomization ${target.namespace}/${target.name}`,
    () => kube.getRaw<FluxKustomization & { apiVersion: string; kind: string }>(ksRef),
  );
  if (!kustomization) {
    throw new KsailError(
      "not-found",
      `Kustomization ${target.namespace}/${target.name} does not exist, so there is nothing to compare with`,
      { hint: "Create the Flux objects with `ksail flux sync` (ksail up does it)." },
    );
  }
  const spec = kustomization.spec ?? {};
  const where = `Kustomization ${target.namespace}/${target.name}`;
  const unsupported = UNSUPPORTED_SPEC_FIELDS.filter((field) => spec[field] !== undefined);
  if (unsupported.length > 0) throw unsupportedBuild(where, `spec.${unsupported.join(", spec.")}`);

  const objects = await progress.step(
    `Build objects from ${options.sourceDir}`,
    async () => {
      const { files } = await listSourceFiles(options.sourceDir, { ignore: options.ignore ?? [] });
      const contents = await readSourceFiles(files);
      const byPath = new Map(files.map((file, i) => [file.path, contents[i]!] as const));
      return renderObjects(byPath, {
        ...(spec.path ? { path: spec.path } : {}),
        ...(spec.targetNamespace ? { targetNamespace: spec.targetNamespace } : {}),
      });
    },
    (o) => `Built ${o.length} objects from ${options.sourceDir}`,
  );
  if (spec.decryption !== undefined)
    await decryptObjects(objects, options.identities ?? (async () => []));
  for (const { object } of objects) {
    object.metadata.labels = {
      ...object.metadata.labels,
      ...spec.commonMetadata?.labels,
      [`${GROUP}/name`]: target.name,
      [`${GROUP}/namespace`]: target.namespace,
    };
    if (spec.commonMetadata?.annotations) {
      object.metadata.annotations = {
        ...object.metadata.annotations,
        ...spec.commonMetadata.annotations,
      };
    }
    normalize(object);
  }

  const errors: string[] = [];
  const built = new Set<string>();
  const results = await progress.step(
    `Dry-run apply ${objects.length} objects as ${KUSTOMIZE_CONTROLLER_MANAGER}`,
    () =>
      mapLimit(objects, 4, async ({ object, file }) => {
        const { apiVersion, kind } = object;
        const namespaced = await kube.isNamespaced(apiVersion, kind);
        if (namespaced === undefined) {
          errors.push(
            `${kind}/${object.metadata.name} (${file}): the API server does not serve ${kind} in ${apiVersion} (is its CRD installed?)`,
          );
          return undefined;
        }
        if (!namespaced) delete object.metadata.namespace;
        const namespace = object.metadata.namespace;
        const subject = subjectOf(kind, namespace, object.metadata.name);
        if (namespaced && !namespace) {
          errors.push(
            `${subject} (${file}): namespace not specified — kustomize-controller cannot apply it; set metadata.namespace, a kustomization namespace or the Kustomization's targetNamespace`,
          );
          return undefined;
        }
        const id = inventoryId({
          namespace: namespace ?? "",
          name: object.metadata.name,
          group: groupOf(apiVersion),
          kind,
        });
        if (built.has(id)) {
          errors.push(`${subject} (${file}): built twice (duplicate object)`);
          return undefined;
        }
        built.add(id);
        const ref = {
          apiVersion,
          kind,
          name: object.metadata.name,
          ...(namespace ? { namespace } : {}),
        };
        const live = await kube.getRaw<KubeObject>(ref);
        if (
          metadataHas(object, `${GROUP}/reconcile`, "disabled") ||
          metadataHas(live, `${GROUP}/reconcile`, "disabled") ||
          metadataHas(object, `${GROUP}/ssa`, "ignore") ||
          metadataHas(live, `${GROUP}/ssa`, "ignore") ||
          (live && metadataHas(object, `${GROUP}/ssa`, "ifnotpresent"))
        ) {
          return { subject, action: "skipped" } as ObjectChange;
        }
        let merged: KubeObject;
        try {
          merged = await kube.dryRunApply(object, KUSTOMIZE_CONTROLLER_MANAGER);
        } catch (error) {
          if (isKsailError(error) && error.kind === "unreachable") throw error;
          errors.push(`${subject} dry-run failed: ${(error as Error).message}`);
          return undefined;
        }
        if (!live || !merged.metadata.resourceVersion) {
          return { subject, action: "created" } as ObjectChange;
        }
        if (!hasDrifted(live, merged)) return "unchanged" as const;
        const before = forDisplay(live);
        const after = forDisplay(merged);
        if (kind === "Secret" && apiVersion === "v1") maskSecrets(before, after);
        const patch = createTwoFilesPatch(
          `live/${subject}`,
          `merged/${subject}`,
          stringify(before),
          stringify(after),
          undefined,
          undefined,
          { headerOptions: FILE_HEADERS_ONLY },
        );
        return { subject, action: "drifted", patch } as ObjectChange;
      }),
  );
  const changes = results.filter((r): r is ObjectChange => r !== undefined && r !== "unchanged");
  const unchanged = results.filter((r) => r === "unchanged").length;

  // prune: true deletes what the last apply created and this build no longer has.
  if (spec.prune && errors.length === 0) {
    for (const entry of kustomization.status?.inventory?.entries ?? []) {
      if (built.has(entry.id)) continue;
      const parsed = parseInventoryId(entry.id);
      if (!parsed) continue;
      changes.push({
        subject: subjectOf(parsed.kind, parsed.namespace || undefined, parsed.name),
        action: "deleted",
      });
    }
  }
  return {
    kustomization: `${target.namespace}/${target.name}`,
    changes,
    unchanged,
    errors,
  };
}

/** `flux diff`'s rendering: "► Subject action" lines, drifted objects followed by their diff. */
export function formatClusterDiff(result: ClusterDiffResult): string {
  const lines: string[] = [];
  for (const change of result.changes) {
    lines.push(`► ${change.subject} ${change.action}`);
    if (change.patch) lines.push(change.patch.trimEnd());
  }
  return lines.join("\n");
}
