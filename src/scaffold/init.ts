/** What `ksail init` writes: ksail.yaml, the cluster config and the source directory. */
import { access, mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { stringify } from "yaml";
import { distributionConfigFor } from "../cluster/distribution-config.js";
import { CONFIG_FILE } from "../config/load.js";
import { isDeepStrictEqual } from "node:util";
import { API_VERSION, KIND, ksailConfigSchema, type KsailConfig } from "../config/schema.js";
import { KsailError } from "../errors.js";

export interface ScaffoldFile {
  /** Path relative to the project directory. */
  path: string;
  content: string;
  /** In the manifest folder: the user's, written only into a folder with no files yet. */
  userOwned?: boolean;
}

export interface InitResult {
  directory: string;
  files: { path: string; action: "created" | "overwritten" | "kept" }[];
}

/** The kubeconfig context the cluster gets: kind-<name> or k3d-<name>. */
export function defaultContext(config: Pick<KsailConfig, "metadata" | "spec">): string {
  return `${config.spec.distribution === "Kind" ? "kind" : "k3d"}-${config.metadata.name}`;
}

export function scaffoldFiles(config: KsailConfig): ScaffoldFile[] {
  return [
    { path: CONFIG_FILE, content: ksailYaml(config) },
    { path: config.spec.distributionConfig, content: distributionConfigFor(config) },
    {
      path: join(config.spec.sourceDirectory, "kustomization.yaml"),
      userOwned: true,
      content: stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: [],
      }),
    },
  ];
}

function ksailYaml(config: KsailConfig): string {
  const { spec } = config;
  const document = {
    apiVersion: config.apiVersion,
    kind: config.kind,
    metadata: { name: config.metadata.name },
    spec: {
      distribution: spec.distribution,
      distributionConfig: spec.distributionConfig,
      sourceDirectory: spec.sourceDirectory,
      gitOpsEngine: spec.gitOpsEngine,
      localRegistry: spec.localRegistry,
      ...(spec.images.length > 0 ? { images: spec.images } : {}),
      connection: {
        ...(spec.connection.kubeconfig ? { kubeconfig: spec.connection.kubeconfig } : {}),
        context: spec.connection.context ?? defaultContext(config),
        timeout: spec.connection.timeout,
      },
      options: writtenOptions(spec.options),
    },
  };
  const body = stringify(document);
  return `# ksail project. Schema: schemas/ksail.schema.json in the ksail package.\n${body}${spec.images.length > 0 ? "" : IMAGES_EXAMPLE}`;
}

/**
 * spec.images, documented but left out: the project's own images, built by `workload build`
 * (and by push, reconcile --push and watch) and pinned by digest in every version. `spec` is
 * the last key of the file, so these lines sit inside it.
 */
const IMAGES_EXAMPLE = `  # Your own container images (ksail workload build): each is built from its context,
  # pushed to the registry as <registry>/<name>:<content hash>, and every pushed version
  # pins it by digest wherever a manifest says \`image: <name>\`.
  # images:
  #   - name: web            # the image name the manifests use
  #     context: ./web       # build context, relative to this file (.dockerignore applies)
  #     dockerfile: Dockerfile
  #     target: runtime      # optional build stage
  #     buildArgs:
  #       GO_VERSION: "1.26"
`;

/**
 * spec.options as ksail.yaml shows it: the registry port and Flux interval always (the values
 * people change first), every other option only where it differs from its default — so
 * `init --force` keeps mirrors, a Flux version or namespace, registry name/image the file set.
 */
function writtenOptions(options: KsailConfig["spec"]["options"]): Record<string, unknown> {
  const defaults = ksailConfigSchema.parse({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: "x" },
  }).spec.options as Record<string, unknown>;
  const written: Record<string, unknown> = {
    localRegistry: { hostPort: options.localRegistry.hostPort },
    flux: { interval: options.flux.interval },
  };
  for (const [key, value] of Object.entries(options as Record<string, unknown>)) {
    const fallback = defaults[key];
    if (isDeepStrictEqual(value, fallback)) continue;
    if (isPlainObject(value) && isPlainObject(fallback)) {
      const changed = Object.entries(value).filter(
        ([field, v]) => !isDeepStrictEqual(v, fallback[field]),
      );
      written[key] = { ...(written[key] as object | undefined), ...Object.fromEntries(changed) };
    } else {
      written[key] = value;
    }
  }
  return written;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Writes the files. Refuses, before writing anything, when ksail.yaml or the cluster config
 * exists and `force` is not set, so a refused init changes nothing. The manifest folder is the
 * user's: its kustomization.yaml is written only when the folder has no files yet (an existing
 * folder without one is a tree Flux builds as it is), never overwritten, --force or not.
 */
export async function initProject(
  directory: string,
  config: KsailConfig,
  options: { force?: boolean } = {},
): Promise<InitResult> {
  const root = resolve(directory);
  const files = scaffoldFiles(config);
  const existing: string[] = [];
  const kept: string[] = [];
  for (const file of files) {
    const target = join(root, file.path);
    if (file.userOwned) {
      if ((await exists(target)) || (await hasFiles(dirname(target)))) kept.push(file.path);
    } else if (await exists(target)) existing.push(file.path);
  }
  if (existing.length > 0 && !options.force) {
    throw new KsailError(
      "conflict",
      `refusing to overwrite existing ${existing.join(", ")} in ${root}`,
      {
        hint: `Pass --force to rewrite ${existing.join(" and ")} (the values ${CONFIG_FILE} sets are kept unless flags change them; ${config.spec.sourceDirectory}/ is never touched), or run init in another directory.`,
      },
    );
  }
  const written: InitResult["files"] = [];
  for (const file of files) {
    if (kept.includes(file.path)) {
      written.push({ path: file.path, action: "kept" });
      continue;
    }
    const target = join(root, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
    written.push({
      path: file.path,
      action: existing.includes(file.path) ? "overwritten" : "created",
    });
  }
  return { directory: root, files: written };
}

async function hasFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
