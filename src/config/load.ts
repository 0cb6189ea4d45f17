/**
 * Loads ksail.yaml and merges it: defaults < file < KSAIL_* environment < flags.
 * Every validation error names where the bad value came from: file:line:column, the
 * environment variable, or the flag. The parsing and validation (parse.ts: yaml and zod) load
 * only when there is something to parse: a file, a KSAIL_* setting, a flag or a given base.
 */
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { KsailError } from "../errors.js";
import { readBoundedFile } from "../util/bounded-read.js";
import { API_VERSION, CONFIG_FILE, defaultConfig, KIND } from "./defaults.js";
import type { KsailConfig } from "./schema.js";
import type { AgeKeyPlaces } from "../secrets/age-keys.js";
import { parseDuration } from "../util/duration.js";
import { RUNTIME_SETTINGS, SETTINGS } from "./settings.js";

export { CONFIG_FILE };
export { SETTINGS, type Setting } from "./settings.js";

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
  const flags = options.flags ?? {};
  const overridden = SETTINGS.some(
    (s) => (s.env !== undefined && (env[s.env] ?? "") !== "") || flags[s.key] !== undefined,
  );
  if (text === undefined && options.base === undefined && !overridden) {
    return { config: defaultConfig(nameFromDirectory(baseDir)), path: undefined, baseDir };
  }
  const { parseConfig } = await import("./parse.js");
  const config = parseConfig({
    text,
    // As typed when named; found upward, relative to where ksail runs ("../ksail.yaml").
    displayPath: options.configPath ?? (found.named === undefined ? relative(cwd, path) : path),
    base: options.base ?? {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: nameFromDirectory(baseDir) },
    },
    env,
    flags,
    cwd,
    baseDir,
    resolvePaths: options.resolvePaths !== false,
  });
  return { config, path: text === undefined ? undefined : path, baseDir };
}

/** ksail.yaml is a few hundred bytes; 1 MiB is generous and keeps every command quick. */
export const MAX_CONFIG_FILE_SIZE = 1024 * 1024;

async function readConfigText(
  path: string,
  required: boolean,
  named: string | undefined,
  cwd: string,
): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(path, {
      maxBytes: MAX_CONFIG_FILE_SIZE,
      what: "config file",
      hint:
        named === undefined
          ? `Point --config at a ${CONFIG_FILE} (or set KSAIL_CONFIG), or move this file out of the way.`
          : `Check ${named}: it names a ${CONFIG_FILE} (\`ksail init\` writes one).`,
    });
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
            ? "Run `ksail init` to create a project, or pass --config PATH (or set KSAIL_CONFIG); workload commands also work without one given --registry oci://HOST/REPOSITORY (or KSAIL_REGISTRY) and --path DIR."
            : `Check ${named}, or run \`ksail init\` in ${dirname(path)}.`,
      },
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new KsailError("config", `config file ${path} is not UTF-8 text`, {
      hint: `${CONFIG_FILE} is YAML: save it as UTF-8.`,
    });
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

/** The run-time settings (settings.ts RUNTIME_SETTINGS), resolved: what the services are given. */
export interface Runtime {
  /** The directory of docker's config.json: $DOCKER_CONFIG, else ~/.docker. */
  dockerConfig: string;
  /** $KUBECONFIG's files (empty when unset): the kubeconfig when no flag or field names one. */
  kubeconfigFiles: string[];
  /** Whether ksail runs in a pod (client-node's in-cluster configuration then applies). */
  inCluster: boolean;
  /** The Docker network of Kind clusters: $KIND_EXPERIMENTAL_DOCKER_NETWORK, else "kind". */
  kindNetwork: string;
  /** The editor command line: $SOPS_EDITOR, else $EDITOR, else vi. */
  editor: string;
  /**
   * ksail's cache directory (Flux install manifests, the validation cache, lock files, temporary
   * files): $XDG_CACHE_HOME/ksail, else ~/.cache/ksail.
   */
  cacheDir: string;
}

/** Resolves the run-time settings that cannot be wrong (paths) from the environment. */
export function resolveRuntime(env: NodeJS.ProcessEnv): Runtime {
  const { dockerConfig, kubeconfigFiles, kindNetwork, editor, cacheHome } = RUNTIME_SETTINGS;
  return {
    dockerConfig: env[dockerConfig.env] || join(homedir(), ".docker"),
    kubeconfigFiles: (env[kubeconfigFiles.env] ?? "").split(delimiter).filter((p) => p !== ""),
    inCluster: env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBERNETES_SERVICE_HOST !== "",
    kindNetwork: env[kindNetwork.env] || kindNetwork.default,
    editor: env[editor.env] || env.EDITOR || "vi",
    cacheDir: join(env[cacheHome.env] || join(homedir(), ".cache"), "ksail"),
  };
}

/**
 * The signing key's password: $COSIGN_PASSWORD when set, even empty (as cosign allows), else
 * undefined (the signing commands then ask on a terminal). Kept out of Runtime so that the
 * password travels only to the key functions, never into an object that may be shown.
 */
export function resolveCosignPassword(env: NodeJS.ProcessEnv): string | undefined {
  return env[RUNTIME_SETTINGS.cosignPassword.env];
}

/**
 * Where the age identities are, as sops looks: $SOPS_AGE_KEY (the identities themselves; kept
 * out of Runtime like the password), else the file $SOPS_AGE_KEY_FILE, else sops/age/keys.txt
 * in the user's config directory ($XDG_CONFIG_HOME, else ~/.config).
 */
export function resolveAgeKeys(env: NodeJS.ProcessEnv): AgeKeyPlaces {
  const { sopsAgeKey, sopsAgeKeyFile } = RUNTIME_SETTINGS;
  const configDir = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return {
    key: env[sopsAgeKey.env] || undefined,
    keyFile: env[sopsAgeKeyFile.env] || join(configDir, "sops", "age", "keys.txt"),
  };
}

/**
 * --request-timeout, else $KSAIL_REQUEST_TIMEOUT, else 30 s, in milliseconds (for the commands
 * that talk to a registry). A bad value is a usage error from the flag (exit 2) and a config error
 * from the environment (exit 8), as for the ksail.yaml settings (parse.ts).
 */
export function resolveRequestTimeout(env: NodeJS.ProcessEnv, flag: string | undefined): number {
  const { requestTimeout } = RUNTIME_SETTINGS;
  return flag !== undefined
    ? parseRequestTimeout(flag, requestTimeout.flag)
    : parseRequestTimeout(env[requestTimeout.env]?.trim() || requestTimeout.default, undefined);
}

/** A positive duration; `flag` names the flag it came from, else it came from the environment. */
function parseRequestTimeout(text: string, flag: string | undefined): number {
  const ms = parseDuration(text);
  if (ms !== undefined && ms > 0) return ms;
  const { env, default: fallback } = RUNTIME_SETTINGS.requestTimeout;
  if (flag !== undefined) {
    throw new KsailError(
      "usage",
      `${flag} must be a duration such as 30s, 2m or 1h, got "${text}"`,
    );
  }
  throw new KsailError(
    "config",
    `${env}="${text}" is not a duration; write it like 30s, 2m or 1m30s`,
    {
      hint: `Set ${env} to a positive duration (e.g. 2m), or unset it for ${fallback}.`,
    },
  );
}

/**
 * The signature format a signing command writes: --signature-format, else
 * spec.options.signing.format, else undefined (the signer's default, "bundle").
 */
export function signatureFormat(
  loaded: LoadedConfig | undefined,
  flag: "bundle" | "legacy" | undefined,
): "bundle" | "legacy" | undefined {
  return flag ?? loaded?.config.spec.options.signing.format;
}

/**
 * The key file a signing command uses: its flag (relative to the working directory), else
 * spec.options.signing.key or .publicKey in ksail.yaml (relative to that file).
 */
export function keyFile(
  loaded: LoadedConfig | undefined,
  flag: string | undefined,
  field: "key" | "publicKey",
  cwd: string,
): string | undefined {
  if (flag !== undefined) return resolve(cwd, flag);
  const configured = loaded?.config.spec.options.signing[field];
  if (configured === undefined) return undefined;
  return isAbsolute(configured) ? configured : resolve(loaded!.baseDir, configured);
}
