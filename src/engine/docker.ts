/**
 * The container engine, through the Docker Engine API (dockerode). Honours DOCKER_HOST
 * (unix://, tcp://, with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), works against Podman's
 * Docker-compatible socket, and turns "no engine" into one sentence within 5 s.
 * Prints nothing: callers pass a Progress when they want lines.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type Docker from "dockerode";
import { KsailError } from "../errors.js";
import { RUNTIME_SETTINGS } from "../config/settings.js";
import type { Progress } from "../progress.js";

/** How long `connectEngine` waits for the engine to answer its ping. */
export const ENGINE_PING_TIMEOUT_MS = 4000;

export interface EngineEndpoint {
  /** What a person would write in DOCKER_HOST, e.g. unix:///var/run/docker.sock. */
  address: string;
  /** Where the address came from: the DOCKER_HOST variable or a default socket. */
  source: "DOCKER_HOST" | "default";
  options: Docker.DockerOptions;
}

const ENGINE_HINT =
  "Start Docker (or Podman's API service: `podman system service --time=0 unix:///run/podman/podman.sock`), " +
  "or point DOCKER_HOST at your engine, e.g. DOCKER_HOST=unix:///var/run/docker.sock.";

/**
 * Decides where the engine is from `env` alone (never from process.env behind the caller's back):
 * DOCKER_HOST when set; otherwise the first socket that exists of /var/run/docker.sock,
 * ~/.docker/run/docker.sock (Docker Desktop) and $XDG_RUNTIME_DIR/podman/podman.sock.
 */
export function resolveEngineEndpoint(env: NodeJS.ProcessEnv): EngineEndpoint {
  // Explicit undefineds keep docker-modem from filling in values from process.env.
  const base: Docker.DockerOptions = { host: undefined, port: undefined, socketPath: undefined };
  const raw = env[RUNTIME_SETTINGS.dockerHost.env]?.trim();
  if (!raw) {
    const candidates = [
      "/var/run/docker.sock",
      join(homedir(), ".docker", "run", "docker.sock"),
      ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, "podman", "podman.sock")] : []),
    ];
    const socketPath = candidates.find((path) => existsSync(path)) ?? candidates[0]!;
    return { address: `unix://${socketPath}`, source: "default", options: { ...base, socketPath } };
  }
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length);
    if (!socketPath) throw badHost(raw);
    return { address: raw, source: "DOCKER_HOST", options: { ...base, socketPath } };
  }
  if (raw.startsWith("/")) {
    return {
      address: `unix://${raw}`,
      source: "DOCKER_HOST",
      options: { ...base, socketPath: raw },
    };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badHost(raw);
  }
  if (url.protocol === "tcp:" || url.protocol === "http:" || url.protocol === "https:") {
    const tls =
      url.protocol === "https:" ||
      env[RUNTIME_SETTINGS.dockerTlsVerify.env] === "1" ||
      (env[RUNTIME_SETTINGS.dockerTlsVerify.env] === undefined && url.port === "2376");
    const options: Docker.DockerOptions = {
      ...base,
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port || (tls ? "2376" : "2375"),
      protocol: tls ? "https" : "http",
    };
    const certPath = env[RUNTIME_SETTINGS.dockerCertPath.env];
    if (tls && certPath) {
      options.ca = readFileSync(join(certPath, "ca.pem"));
      options.cert = readFileSync(join(certPath, "cert.pem"));
      options.key = readFileSync(join(certPath, "key.pem"));
    }
    return { address: raw, source: "DOCKER_HOST", options };
  }
  if (url.protocol === "ssh:") {
    const options: Docker.DockerOptions = {
      ...base,
      host: url.hostname,
      port: url.port || "22",
      protocol: "ssh",
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      sshOptions: env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {},
    };
    return { address: `ssh://${url.host}`, source: "DOCKER_HOST", options };
  }
  throw badHost(raw);
}

function badHost(raw: string): KsailError {
  return new KsailError(
    "config",
    `DOCKER_HOST="${raw}" is not an engine address ksail understands`,
    {
      hint: "Use unix:///path/to/docker.sock or tcp://HOST:PORT.",
    },
  );
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A connected engine. `docker` is the raw dockerode client for what this class does not wrap. */
export class Engine {
  constructor(
    readonly docker: Docker,
    readonly endpoint: EngineEndpoint,
  ) {}

  /** The engine's own name and version, e.g. "Docker Engine 20.10.24" or "Podman Engine 4.3.1". */
  async describe(): Promise<string> {
    const version = await this.call("ask the engine for its version", () => this.docker.version());
    const platform = (version as { Platform?: { Name?: string } }).Platform?.Name;
    return `${platform || "container engine"} ${version.Version}`;
  }

  async inspectContainer(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    return this.orUndefined(`inspect container ${name}`, () =>
      this.docker.getContainer(name).inspect(),
    );
  }

  async inspectVolume(name: string): Promise<Docker.VolumeInspectInfo | undefined> {
    return this.orUndefined(`inspect volume ${name}`, () => this.docker.getVolume(name).inspect());
  }

  async inspectNetwork(name: string): Promise<Docker.NetworkInspectInfo | undefined> {
    return this.orUndefined(`inspect network ${name}`, () =>
      this.docker.getNetwork(name).inspect(),
    );
  }

  async imageExists(reference: string): Promise<boolean> {
    return (
      (await this.orUndefined(`inspect image ${reference}`, () =>
        this.docker.getImage(reference).inspect(),
      )) !== undefined
    );
  }

  /**
   * Pulls an image and reads the whole progress stream. Podman answers a failed pull with
   * HTTP 200 and puts the error inside the stream, so every message is checked for `error`.
   */
  async pullImage(reference: string, progress?: Progress): Promise<void> {
    const stream = await this.call(
      `pull ${reference}`,
      () => this.docker.pull(reference) as Promise<Readable>,
    );
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (error: Error | null, messages: Array<Record<string, unknown>>) => {
          const failure = error ?? pullStreamError(messages ?? []);
          if (failure) {
            reject(
              new KsailError("not-found", `could not pull image ${reference}: ${failure.message}`, {
                hint: `Check the image name, or load it into the engine yourself (docker pull / docker load) and retry.`,
                cause: failure,
              }),
            );
          } else resolve();
        },
        (event: Record<string, unknown>) => {
          if (progress && typeof event.status === "string" && event.id === undefined)
            progress.info(`  ${event.status}`);
        },
      );
    });
  }

  /** Makes sure an image is present: uses a local one, pulls otherwise. Returns whether it pulled. */
  async ensureImage(reference: string, progress?: Progress): Promise<boolean> {
    if (await this.imageExists(reference)) return false;
    await this.pullImage(reference, progress);
    return true;
  }

  /** A container's last `tail` log lines (empty when there are none or it is gone). */
  async logs(name: string, tail: number): Promise<string> {
    try {
      const buffer = (await this.docker
        .getContainer(name)
        .logs({ stdout: true, stderr: true, tail })) as unknown as Buffer;
      // Non-TTY logs are multiplexed: strip the 8-byte frame headers.
      const parts: string[] = [];
      for (let offset = 0; offset + 8 <= buffer.length;) {
        const size = buffer.readUInt32BE(offset + 4);
        parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
        offset += 8 + size;
      }
      return parts.join("");
    } catch {
      return "";
    }
  }

  /** Runs a command in a running container and collects its output and exit code. */
  async exec(container: string, cmd: string[]): Promise<ExecResult> {
    const what = `run \`${cmd.join(" ")}\` in container ${container}`;
    const exec = await this.call(what, () =>
      this.docker
        .getContainer(container)
        .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false }),
    );
    const stream = await this.call(what, () => exec.start({ hijack: true, stdin: false }));
    const stdout = collect();
    const stderr = collect();
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.demuxStream(stream, stdout.sink, stderr.sink);
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", reject);
    });
    const info = await this.call(what, () => exec.inspect());
    return { exitCode: info.ExitCode ?? -1, stdout: stdout.text(), stderr: stderr.text() };
  }

  /** Runs an engine call and turns its failure into a KsailError that says what was attempted. */
  async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw engineError(error, what, this.endpoint);
    }
  }

  private async orUndefined<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw engineError(error, what, this.endpoint);
    }
  }
}

function collect(): { sink: PassThrough; text: () => string } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => chunks.push(chunk));
  return { sink, text: () => Buffer.concat(chunks).toString("utf8") };
}

/** The first error inside a pull progress stream (Podman reports failures this way). */
export function pullStreamError(messages: Array<Record<string, unknown>>): Error | undefined {
  for (const message of messages) {
    const detail = message.errorDetail as { message?: unknown } | undefined;
    const text =
      typeof message.error === "string"
        ? message.error
        : typeof detail?.message === "string"
          ? detail.message
          : undefined;
    if (text) return new Error(text);
  }
  return undefined;
}

export function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The engine's own message ("port is already allocated", ...), without dockerode's prefix. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: unknown } | null)?.json;
  if (
    json &&
    typeof json === "object" &&
    typeof (json as { message?: unknown }).message === "string"
  ) {
    return (json as { message: string }).message;
  }
  if (typeof json === "string" && json.trim()) return json.trim();
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, "").trim();
}

const CONNECTION_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "EACCES",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "ENOTFOUND",
  "EPIPE",
]);

export function engineError(error: unknown, what: string, endpoint: EngineEndpoint): KsailError {
  if (error instanceof KsailError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CONNECTION_CODES.has(code))
    return unreachable(endpoint, code, error);
  const status = statusCodeOf(error);
  const message = `could not ${what}: ${engineMessage(error)}`;
  if (status === 404) return new KsailError("not-found", message, { cause: error });
  if (status === 409) return new KsailError("conflict", message, { cause: error });
  return new KsailError("failed", message, { cause: error });
}

function unreachable(endpoint: EngineEndpoint, code: string, cause: unknown): KsailError {
  const reason =
    code === "ENOENT"
      ? "no such socket"
      : code === "EACCES"
        ? "permission denied"
        : code === "ECONNREFUSED"
          ? "connection refused"
          : code === "ETIMEDOUT"
            ? "no answer"
            : code.toLowerCase();
  const from = endpoint.source === "DOCKER_HOST" ? " (from DOCKER_HOST)" : "";
  return new KsailError(
    "unreachable",
    `cannot reach the container engine at ${endpoint.address}${from}: ${reason} — is Docker or Podman running?`,
    {
      hint:
        code === "EACCES"
          ? "Add your user to the docker group (then log in again), or use a rootless engine's socket via DOCKER_HOST."
          : ENGINE_HINT,
      cause,
    },
  );
}

export interface ConnectOptions {
  /** Give up on the first ping after this long (default 4 s, inside SC-005's 5 s). */
  timeoutMs?: number;
}

/**
 * Connects to the engine named by `env` and pings it. A missing socket, a refused
 * connection or an engine that does not answer in time → KsailError("unreachable").
 */
export async function connectEngine(
  env: NodeJS.ProcessEnv,
  options: ConnectOptions = {},
): Promise<Engine> {
  const endpoint = resolveEngineEndpoint(env);
  const { default: Dockerode } = await import("dockerode");
  const docker = new Dockerode(endpoint.options);
  const timeoutMs = options.timeoutMs ?? ENGINE_PING_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    // dockerode's ping takes { abortSignal } at run time; its type definitions omit the overload.
    await (
      docker.ping as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>
    ).call(docker, {
      abortSignal: controller.signal,
    });
  } catch (error) {
    if (controller.signal.aborted) {
      throw new KsailError(
        "unreachable",
        `the container engine at ${endpoint.address} did not answer within ${timeoutMs / 1000} s — is Docker or Podman running?`,
        { hint: ENGINE_HINT, cause: error },
      );
    }
    throw engineError(error, "reach the container engine", endpoint);
  } finally {
    clearTimeout(timer);
  }
  return new Engine(docker, endpoint);
}

/** Connects on first use and then reuses the connection (commands that may not need the engine). */
export function lazyEngine(env: NodeJS.ProcessEnv): () => Promise<Engine> {
  let engine: Promise<Engine> | undefined;
  return () => (engine ??= connectEngine(env));
}
