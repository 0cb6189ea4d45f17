/** What `ksail init` writes: ksail.yaml, the cluster config and the (empty) manifest folder. */
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { stringify } from "yaml";
import { distributionConfigFor } from "../cluster/distribution-config.js";
import { CONFIG_FILE } from "../config/load.js";
import { isDeepStrictEqual } from "node:util";
import { API_VERSION, KIND, ksailConfigSchema, type KsailConfig } from "../config/schema.js";
import { KsailError } from "../errors.js";
import {
  patchK3dConfig,
  patchKindConfig,
  patchKsailYaml,
  Unpatchable,
  type Patched,
} from "./patch.js";
import { SCHEMA_FILE, SCHEMA_LINE, schemaText } from "./schema-file.js";

export interface ScaffoldFile {
  /** Path relative to the project directory. */
  path: string;
  content: string;
  /** How to patch the user's existing file with ksail's wiring (init --force). */
  patch: (existing: string) => Patched;
  /** ksail's own generated file (the schema): written again whenever it differs, never a conflict. */
  generated?: boolean;
}

export type InitAction = "created" | "patched" | "unchanged" | "replaced" | "skipped";

export interface InitFile {
  /** Relative to the project directory; the manifest folder ends with "/". */
  path: string;
  action: InitAction;
  /** patched: what init changed, one line each. */
  changes?: string[];
  /** replaced: where the previous content was kept. */
  backup?: string;
  /** skipped, replaced: why. */
  reason?: string;
}

export interface InitResult {
  directory: string;
  files: InitFile[];
  /** The manifest folder, relative to the project directory. */
  sourceDirectory: string;
}

export interface InitOptions {
  force?: boolean;
  /**
   * The `# yaml-language-server: $schema=…` line (without "# "); default: the schema init
   * writes beside ksail.yaml (.ksail/ksail.schema.json, see schema-file.ts).
   */
  schemaLine?: string;
}

/** The kubeconfig context the cluster gets: kind-<name> or k3d-<name>. */
export function defaultContext(config: Pick<KsailConfig, "metadata" | "spec">): string {
  return `${config.spec.distribution === "Kind" ? "kind" : "k3d"}-${config.metadata.name}`;
}

export function scaffoldFiles(config: KsailConfig, options: InitOptions = {}): ScaffoldFile[] {
  const schemaLine = options.schemaLine ?? SCHEMA_LINE;
  const schema = schemaText();
  const written = ksailDocument(config);
  return [
    {
      path: CONFIG_FILE,
      content: `# ${schemaLine}\n# ksail project: see \`ksail --help\`.\n${stringify(written)}${config.spec.images.length > 0 ? "" : IMAGES_EXAMPLE}`,
      patch: (existing) => patchKsailYaml(existing, written, schemaLine),
    },
    {
      path: config.spec.distributionConfig,
      content: distributionConfigFor(config),
      patch: (existing) =>
        config.spec.distribution === "Kind"
          ? patchKindConfig(existing, config)
          : patchK3dConfig(existing, config),
    },
    {
      path: SCHEMA_FILE,
      content: schema,
      patch: (existing) =>
        existing === schema
          ? { text: existing, changes: [] }
          : { text: schema, changes: ["the schema of this ksail version"] },
      generated: true,
    },
  ];
}

/** ksail.yaml as init writes it, as a plain object. */
function ksailDocument(config: KsailConfig): object {
  const { spec } = config;
  return {
    apiVersion: config.apiVersion,
    kind: config.kind,
    metadata: { name: config.metadata.name },
    spec: {
      distribution: spec.distribution,
      distributionConfig: spec.distributionConfig,
      sourceDirectory: spec.sourceDirectory,
      gitOpsEngine: spec.gitOpsEngine,
      ...(spec.registry === undefined ? {} : { registry: spec.registry }),
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
 * Writes the files. Without `force`, refuses before writing anything when ksail.yaml or the
 * cluster config exists, so a refused init changes nothing. With `force`, an existing file is
 * patched — only ksail's wiring (name, registry, distribution settings), every comment and
 * other field kept — and a file that cannot be patched (not YAML) is replaced, its content kept
 * as <file>.bak. The manifest folder is the user's: init creates it when missing and writes
 * nothing into it; with no kustomization.yaml, Flux applies every manifest under it.
 */
export async function initProject(
  directory: string,
  config: KsailConfig,
  options: InitOptions = {},
): Promise<InitResult> {
  const root = resolve(directory);
  const files = scaffoldFiles(config, options);
  const existing: string[] = [];
  for (const file of files) if (await exists(join(root, file.path))) existing.push(file.path);
  const conflicts = existing.filter((path) => !files.find((f) => f.path === path)?.generated);
  if (conflicts.length > 0 && !options.force) {
    throw new KsailError(
      "conflict",
      `refusing to overwrite existing ${conflicts.join(", ")} in ${root}`,
      {
        hint: `Pass --force to patch ksail's settings into ${conflicts.join(" and ")} (your other fields and comments stay; ${config.spec.sourceDirectory}/ is never touched), or run init in another directory.`,
      },
    );
  }
  const done: InitFile[] = [];
  for (const file of files) {
    const target = join(root, file.path);
    await mkdir(dirname(target), { recursive: true });
    if (!existing.includes(file.path)) {
      await writeFile(target, file.content, { flag: "wx" });
      done.push({ path: file.path, action: "created" });
      continue;
    }
    const before = await readFile(target, "utf8");
    let patched: Patched;
    try {
      patched = file.patch(before);
    } catch (error) {
      if (!(error instanceof Unpatchable)) throw error;
      const backup = await keepBackup(target, before);
      await writeFile(target, file.content);
      done.push({
        path: file.path,
        action: "replaced",
        backup: relative(root, backup),
        reason: error.message,
      });
      continue;
    }
    if (patched.changes.length === 0) {
      done.push({ path: file.path, action: "unchanged" });
      continue;
    }
    await writeFile(target, patched.text);
    done.push({ path: file.path, action: "patched", changes: patched.changes });
  }
  const source = config.spec.sourceDirectory;
  const sourcePath = join(root, source);
  if (await exists(sourcePath)) {
    done.push({ path: `${source}/`, action: "skipped", reason: "yours: init never writes there" });
  } else {
    await mkdir(sourcePath, { recursive: true });
    done.push({ path: `${source}/`, action: "created" });
  }
  return { directory: root, files: done, sourceDirectory: source };
}

/** Copies `content` to <path>.bak (or .bak.1, .bak.2… when taken); returns that path. */
async function keepBackup(path: string, content: string): Promise<string> {
  for (let n = 0; ; n++) {
    const backup = n === 0 ? `${path}.bak` : `${path}.bak.${n}`;
    try {
      await writeFile(backup, content, { flag: "wx" });
      return backup;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
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
