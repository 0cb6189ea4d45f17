/**
 * Loads ksail.yaml and merges it: defaults < file < KSAIL_* environment < flags.
 * Every validation error names where the bad value came from: file:line:column, the
 * environment variable, or the flag.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod/v4";
import { KsailError } from "../errors.js";
import { DISTRIBUTIONS, GITOPS_ENGINES, TOGGLES } from "./enums.js";
import {
  API_VERSION,
  KIND,
  ksailConfigSchema,
  resolveDerivedDefaults,
  type KsailConfig,
} from "./schema.js";

export const CONFIG_FILE = "ksail.yaml";

/** A config value that can also come from the environment or a flag. */
export interface Setting {
  /** commander's camelCase option key, e.g. "registryPort" for --registry-port. */
  key: string;
  flag: string;
  env: string;
  path: readonly string[];
  numeric?: boolean;
  /** A closed set of values, matched without regard to case ("kind" → "Kind"). */
  choices?: readonly string[];
}

export const SETTINGS: readonly Setting[] = [
  { key: "name", flag: "--name", env: "KSAIL_NAME", path: ["metadata", "name"] },
  {
    key: "distribution",
    flag: "--distribution",
    env: "KSAIL_DISTRIBUTION",
    path: ["spec", "distribution"],
    choices: DISTRIBUTIONS,
  },
  {
    key: "distributionConfig",
    flag: "--distribution-config",
    env: "KSAIL_DISTRIBUTION_CONFIG",
    path: ["spec", "distributionConfig"],
  },
  {
    key: "sourceDirectory",
    flag: "--source-directory",
    env: "KSAIL_SOURCE_DIRECTORY",
    path: ["spec", "sourceDirectory"],
  },
  {
    key: "gitopsEngine",
    flag: "--gitops-engine",
    env: "KSAIL_GITOPS_ENGINE",
    path: ["spec", "gitOpsEngine"],
    choices: GITOPS_ENGINES,
  },
  {
    key: "localRegistry",
    flag: "--local-registry",
    env: "KSAIL_LOCAL_REGISTRY",
    path: ["spec", "localRegistry"],
    choices: TOGGLES,
  },
  {
    key: "registryPort",
    flag: "--registry-port",
    env: "KSAIL_REGISTRY_PORT",
    path: ["spec", "options", "localRegistry", "hostPort"],
    numeric: true,
  },
  {
    key: "fluxInterval",
    flag: "--flux-interval",
    env: "KSAIL_FLUX_INTERVAL",
    path: ["spec", "options", "flux", "interval"],
  },
  {
    key: "kubeconfig",
    flag: "--kubeconfig",
    env: "KSAIL_KUBECONFIG",
    path: ["spec", "connection", "kubeconfig"],
  },
  {
    key: "context",
    flag: "--context",
    env: "KSAIL_CONTEXT",
    path: ["spec", "connection", "context"],
  },
  {
    key: "timeout",
    flag: "--timeout",
    env: "KSAIL_TIMEOUT",
    path: ["spec", "connection", "timeout"],
  },
];

export interface LoadConfigOptions {
  /**
   * Explicit config path (--config). Default: $KSAIL_CONFIG, else ksail.yaml in cwd or the
   * nearest parent directory that has one (as git and docker compose look for theirs).
   */
  configPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag values keyed by Setting.key; undefined values are ignored. */
  flags?: Record<string, unknown>;
  /**
   * When true, a missing file is an error; otherwise defaults (plus env/flags) are used. A path
   * named by --config or KSAIL_CONFIG must always exist.
   */
  required?: boolean;
  /** When false, any existing file is ignored and `base` is used instead (init). */
  readFile?: boolean;
  /** The values under env and flags when no file is read (default: a name from the directory). */
  base?: Record<string, unknown>;
  /** When false, a relative spec.connection.kubeconfig from the file is kept as written. */
  resolvePaths?: boolean;
}

export interface LoadedConfig {
  config: KsailConfig;
  /** Absolute path of the file read, or undefined when none existed. */
  path: string | undefined;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
}

type Origin = { kind: "env"; name: string } | { kind: "flag"; name: string };

/** Where ksail.yaml is: --config, else $KSAIL_CONFIG, else the nearest one from cwd upward. */
export async function findConfig(
  cwd: string,
  env: NodeJS.ProcessEnv,
  configPath?: string,
): Promise<{ path: string; named: string | undefined }> {
  if (configPath !== undefined) return { path: resolve(cwd, configPath), named: "--config" };
  const fromEnv = env.KSAIL_CONFIG;
  if (fromEnv) return { path: resolve(cwd, fromEnv), named: "KSAIL_CONFIG" };
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = resolve(dir, CONFIG_FILE);
    if (await isFile(candidate)) return { path: candidate, named: undefined };
    if (dirname(dir) === dir) return { path: resolve(cwd, CONFIG_FILE), named: undefined };
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const found =
    options.readFile === false
      ? { path: resolve(cwd, CONFIG_FILE), named: undefined }
      : await findConfig(cwd, env, options.configPath);
  const path = found.path;
  const text =
    options.readFile === false
      ? undefined
      : await readConfigText(
          path,
          options.required === true || found.named !== undefined,
          found.named,
          cwd,
        );
  const baseDir = text === undefined ? cwd : dirname(path);
  // As typed when named; found upward, relative to where ksail runs ("../ksail.yaml").
  const displayPath =
    options.configPath ?? (found.named === undefined ? relative(cwd, path) : path);

  const lineCounter = new LineCounter();
  const doc =
    text === undefined ? undefined : parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc && doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const at = lineCounter.linePos(first.pos[0]);
    throw new KsailError(
      "config",
      `${displayPath}:${at.line}:${at.col}: ${first.message.split("\n")[0]}`,
      {
        hint: "Fix the YAML syntax at that line.",
      },
    );
  }
  const raw: Record<string, unknown> =
    doc === undefined
      ? structuredClone(
          options.base ?? {
            apiVersion: API_VERSION,
            kind: KIND,
            metadata: { name: nameFromDirectory(baseDir) },
          },
        )
      : ((doc.toJS() as Record<string, unknown> | null) ?? {});
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new KsailError(
      "config",
      `${displayPath}: expected a mapping with apiVersion, kind, metadata and spec`,
    );
  }

  const origins = new Map<string, Origin>();
  for (const setting of SETTINGS) {
    const value = env[setting.env];
    if (value !== undefined && value !== "") {
      setIn(raw, setting.path, coerce(setting, value));
      origins.set(setting.path.join("."), { kind: "env", name: setting.env });
    }
  }
  for (const setting of SETTINGS) {
    const value = options.flags?.[setting.key];
    if (value !== undefined) {
      setIn(raw, setting.path, typeof value === "string" ? coerce(setting, value) : value);
      origins.set(setting.path.join("."), { kind: "flag", name: setting.flag });
    }
  }

  for (const setting of SETTINGS) if (setting.choices) normalizeChoice(raw, setting);

  const result = ksailConfigSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({
      origin: originOf(issue, origins),
      text: describeIssue(issue, displayPath, doc, lineCounter, origins),
    }));
    // A bad flag value is a usage error (exit 2); a bad ksail.yaml or KSAIL_* value is config (8).
    const badFlags = issues.filter((i) => i.origin?.kind === "flag");
    if (badFlags.length > 0) {
      throw new KsailError("usage", `invalid ${badFlags[0]!.text}`, {
        details: badFlags.slice(1).map((i) => i.text),
      });
    }
    throw new KsailError("config", `invalid configuration: ${issues[0]!.text}`, {
      details: issues.slice(1).map((i) => i.text),
      hint: `See schemas/ksail.schema.json for every field; \`ksail init\` writes a valid ${CONFIG_FILE}.`,
    });
  }
  const config = resolveDerivedDefaults(result.data);
  const kubeconfig = config.spec.connection.kubeconfig;
  if (
    options.resolvePaths !== false &&
    kubeconfig !== undefined &&
    !isAbsolute(kubeconfig) &&
    !/^~(?=$|\/)/.test(kubeconfig)
  ) {
    // Relative paths in the file mean "next to ksail.yaml"; from a flag or KSAIL_*, the cwd.
    const fromFile = !origins.has("spec.connection.kubeconfig");
    config.spec.connection.kubeconfig = resolve(fromFile ? baseDir : cwd, kubeconfig);
  }
  return { config, path: text === undefined ? undefined : path, baseDir };
}

/** "kind" → "Kind": the closed sets are matched without regard to case. */
function normalizeChoice(raw: Record<string, unknown>, setting: Setting): void {
  let node: unknown = raw;
  for (const key of setting.path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== "object" || node === null) return;
  const last = setting.path[setting.path.length - 1]!;
  const value = (node as Record<string, unknown>)[last];
  if (typeof value !== "string") return;
  const match = setting.choices!.find((c) => c.toLowerCase() === value.toLowerCase());
  if (match !== undefined) (node as Record<string, unknown>)[last] = match;
}

function originOf(issue: z.core.$ZodIssue, origins: Map<string, Origin>): Origin | undefined {
  const path = issue.path.map(String);
  for (let i = path.length; i > 0; i--) {
    const origin = origins.get(path.slice(0, i).join("."));
    if (origin) return origin;
  }
  return undefined;
}

async function readConfigText(
  path: string,
  required: boolean,
  named: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    if (!required) return undefined;
    throw new KsailError(
      "config",
      named === undefined
        ? `no ${CONFIG_FILE} found in ${cwd} or any parent directory`
        : `no ${basename(path)} found at ${path} (named by ${named})`,
      {
        hint:
          named === undefined
            ? "Run `ksail init` to create a project, or pass --config PATH (or set KSAIL_CONFIG)."
            : `Check ${named}, or run \`ksail init\` in ${dirname(path)}.`,
      },
    );
  }
}

/** A DNS-1123 name from a directory name, e.g. "My App" → "my-app". */
export function nameFromDirectory(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return name || "ksail";
}

function coerce(setting: Setting, value: string): unknown {
  if (!setting.numeric) return value;
  const number = Number(value);
  return Number.isFinite(number) && value.trim() !== "" ? number : value;
}

function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  displayPath: string,
  doc: Document | undefined,
  lineCounter: LineCounter,
  origins: Map<string, Origin>,
): string {
  const path = issue.path.map(String);
  const field = path.join(".") || "(root)";
  const message =
    issue.code === "unrecognized_keys"
      ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`
      : issue.message;
  for (let i = path.length; i > 0; i--) {
    const origin = origins.get(path.slice(0, i).join("."));
    if (origin)
      return `${origin.kind === "env" ? `environment variable ${origin.name}` : `flag ${origin.name}`} (${field}): ${message}`;
  }
  return `${locate(displayPath, doc, lineCounter, path)}: ${field}: ${message}`;
}

/** file:line:col of the deepest existing node on the path (the key itself when the value is missing). */
function locate(
  displayPath: string,
  doc: Document | undefined,
  lineCounter: LineCounter,
  path: string[],
): string {
  if (!doc) return displayPath;
  for (let i = path.length; i >= 0; i--) {
    const node = doc.getIn(path.slice(0, i), true) as
      { range?: [number, number, number] } | undefined;
    const parent = i > 0 ? doc.getIn(path.slice(0, i - 1), true) : doc.contents;
    let offset = node && (isScalar(node) || isMap(node)) ? node.range?.[0] : undefined;
    if (i > 0 && isMap(parent)) {
      const pair = parent.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === path[i - 1],
      );
      if (pair && isScalar(pair.key) && pair.key.range)
        offset = isScalar(pair.value) ? pair.value.range?.[0] : pair.key.range[0];
    }
    if (offset !== undefined) {
      const { line, col } = lineCounter.linePos(offset);
      return `${displayPath}:${line}:${col}`;
    }
  }
  return displayPath;
}
