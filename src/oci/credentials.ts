/**
 * Registry credentials as docker keeps them: config.json (`auths`, `credHelpers`, `credsStore`)
 * in the directory the caller resolved ($DOCKER_CONFIG, else ~/.docker), credential helpers
 * spoken to over their stdin/stdout protocol, and fixed credentials for tests and callers.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { KsailError } from "../errors.js";

export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token ("identitytoken" in config.json); exchanged at the token realm. */
  identityToken?: string;
  /** A ready bearer token sent as-is ("registrytoken" in config.json). */
  registryToken?: string;
}

export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;

/** The names docker uses for Docker Hub; config.json keys it under the first. */
const DOCKER_HUB_KEY = "https://index.docker.io/v1/";
const DOCKER_HUB_ALIASES = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/** Reduces a config.json key or registry address to "host[:port]" (lowercased host). */
export function normalizeRegistryKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, "");
  const slash = k.indexOf("/");
  if (slash >= 0) k = k.slice(0, slash);
  k = k.toLowerCase();
  return DOCKER_HUB_ALIASES.has(k) ? "docker.io" : k;
}

function isEmptyCredential(c: Credential): boolean {
  return !c.username && !c.password && !c.identityToken && !c.registryToken;
}

export function staticCredentials(map: Record<string, Credential>): CredentialProvider {
  const normalized = new Map<string, Credential>();
  for (const [key, value] of Object.entries(map)) normalized.set(normalizeRegistryKey(key), value);
  return async (registry) => normalized.get(normalizeRegistryKey(registry));
}

interface DockerConfigFile {
  auths?: Record<
    string,
    {
      auth?: string;
      username?: string;
      password?: string;
      identitytoken?: string;
      registrytoken?: string;
    }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** config.json in `dir` (the resolved $DOCKER_CONFIG, config/load.ts), else in ~/.docker. */
function defaultConfigPath(dir: string | undefined): string {
  return join(dir ?? join(homedir(), ".docker"), "config.json");
}

async function readConfig(path: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new KsailError("config", `cannot read docker credentials file ${path}`, {
      cause: error,
    });
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("not a JSON object");
    }
    return parsed as DockerConfigFile;
  } catch {
    // No cause: V8's JSON errors quote the text around the fault, which may be a secret.
    throw new KsailError("config", `docker credentials file ${path} is not valid JSON`, {
      hint: "Fix or remove the file, or run `docker login` again.",
    });
  }
}

function findEntry<T>(
  map: Record<string, T> | undefined,
  registry: string,
): { key: string; value: T } | undefined {
  if (!map) return undefined;
  const wanted = normalizeRegistryKey(registry);
  // Exact keys first (what docker itself writes), then any spelling that normalizes the same.
  for (const key of [registry, wanted === "docker.io" ? DOCKER_HUB_KEY : wanted]) {
    const value = map[key];
    if (value !== undefined) return { key, value };
  }
  for (const [key, value] of Object.entries(map)) {
    if (normalizeRegistryKey(key) === wanted) return { key, value };
  }
  return undefined;
}

function fromAuthEntry(
  entry: NonNullable<DockerConfigFile["auths"]>[string],
  registry: string,
  path: string,
): Credential | undefined {
  const credential: Credential = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) {
      throw new KsailError(
        "config",
        `the "auth" entry for ${registry} in ${path} is not base64 of "user:password"`,
        { hint: `Run \`docker login ${registry}\` again.` },
      );
    }
    credential.username = decoded.slice(0, colon);
    credential.password = decoded.slice(colon + 1);
  } else {
    if (entry.username) credential.username = entry.username;
    if (entry.password) credential.password = entry.password;
  }
  if (entry.identitytoken) credential.identityToken = entry.identitytoken;
  if (entry.registrytoken) credential.registryToken = entry.registrytoken;
  return isEmptyCredential(credential) ? undefined : credential;
}

/** Runs `docker-credential-<helper> get`, writing the server URL on stdin. */
export async function runCredentialHelper(
  helper: string,
  serverUrl: string,
): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  const { code, stdout, stderr, spawnError } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
    spawnError?: NodeJS.ErrnoException;
  }>((resolve) => {
    const child = spawn(program, ["get"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e: NodeJS.ErrnoException) =>
      resolve({ code: null, stdout: out, stderr: err, spawnError: e }),
    );
    child.on("close", (c) => resolve({ code: c, stdout: out, stderr: err }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(serverUrl);
  });
  if (spawnError) {
    throw new KsailError(
      "auth",
      `docker credential helper "${program}" could not be run (${spawnError.code ?? spawnError.message})`,
      {
        hint: `Install ${program} on PATH, or remove "${helper}" from credHelpers/credsStore in your docker config.`,
      },
    );
  }
  if (code !== 0) {
    // The helper protocol reports a missing entry as this message on stdout.
    if (/credentials not found/i.test(stdout) || /credentials not found/i.test(stderr)) {
      return undefined;
    }
    const reason = (stderr.trim() || stdout.trim()).split("\n")[0]?.slice(0, 200) ?? "";
    throw new KsailError(
      "auth",
      `docker credential helper "${program}" failed for ${serverUrl} (exit ${code})${reason ? `: ${reason}` : ""}`,
      { hint: `Run \`${program} get\` by hand to see what is wrong, or log in again.` },
    );
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
  } catch {
    throw new KsailError(
      "auth",
      `docker credential helper "${program}" printed something that is not JSON`,
    );
  }
  if (!parsed.Secret && !parsed.Username) return undefined;
  // "<token>" as user name marks an identity (refresh) token, as in docker's own client.
  if (parsed.Username === "<token>") return { identityToken: parsed.Secret ?? "" };
  return { username: parsed.Username ?? "", password: parsed.Secret ?? "" };
}

/**
 * Credentials from docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json),
 * resolved the way docker does: `credHelpers[host]`, else `credsStore` (falling back to the
 * `auths` entry when the store has nothing), else `auths`. The file is read on every call so
 * that a `docker login` in between is seen.
 */
export function dockerConfigCredentials(
  options: { configPath?: string; configDir?: string } = {},
): CredentialProvider {
  return async (registry) => {
    const path = options.configPath ?? defaultConfigPath(options.configDir);
    const config = await readConfig(path);
    if (!config) return undefined;
    const wanted = normalizeRegistryKey(registry);
    const serverUrl = wanted === "docker.io" ? DOCKER_HUB_KEY : registry;
    const helper = findEntry(config.credHelpers, registry);
    if (helper && helper.value) return runCredentialHelper(helper.value, serverUrl);
    if (config.credsStore) {
      const stored = await runCredentialHelper(config.credsStore, serverUrl);
      if (stored) return stored;
    }
    const entry = findEntry(config.auths, registry);
    return entry ? fromAuthEntry(entry.value, registry, path) : undefined;
  };
}
