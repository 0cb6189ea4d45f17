/**
 * Image builds and pushes through the engine's Docker API (`POST /build`, `/images/{name}/tag`,
 * `/images/{name}/push`): Docker's classic builder, or Podman's buildah behind the same API.
 * Both stream JSON messages; a failure can come as HTTP 200 with `error` inside the stream, so
 * every message is read. Aborting the signal ends the HTTP request, which cancels the build.
 */
import type { Readable } from "node:stream";
import { KsailError } from "../errors.js";
import { isLoopbackRegistry } from "../oci/reference.js";
import type { Engine } from "./docker.js";

/** Build output lines kept for the error message of a failed build. */
export const FAILED_BUILD_LINES = 15;

export interface EngineBuildInput {
  /** The build context as a tar stream. */
  context: Readable;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  target?: string | undefined;
  buildArgs?: Record<string, string> | undefined;
  /** Labels put on the image. */
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** Each line of build output, as it comes. */
  onLine?: (line: string) => void;
}

interface StreamMessage {
  stream?: unknown;
  status?: unknown;
  id?: unknown;
  error?: unknown;
  errorDetail?: { message?: unknown };
  aux?: { ID?: unknown; Digest?: unknown; Tag?: unknown };
}

/** Reads a JSON-lines progress stream to its end; `onMessage` sees each message. */
function followStream(
  engine: Engine,
  stream: Readable,
  onMessage: (message: StreamMessage) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      stream.destroy();
      reject(signal?.reason ?? new Error("aborted"));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    engine.docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) return; // already rejected
        if (error) reject(error);
        else resolve();
      },
      (message: StreamMessage) => onMessage(message),
    );
  });
}

function messageError(message: StreamMessage): string | undefined {
  if (typeof message.error === "string") return message.error;
  if (typeof message.errorDetail?.message === "string") return message.errorDetail.message;
  return undefined;
}

/** Splits streamed text into lines, keeping an unfinished line for the next chunk. */
function lineSplitter(emit: (line: string) => void): { push(text: string): void; end(): void } {
  let pending = "";
  return {
    push(text) {
      const parts = (pending + text).split(/\r?\n/);
      pending = parts.pop() ?? "";
      for (const part of parts) if (part.trim() !== "") emit(part.trimEnd());
    },
    end() {
      if (pending.trim() !== "") emit(pending.trimEnd());
      pending = "";
    },
  };
}

/**
 * Builds an image and returns its ID. No tag is given to the build, so a build that fails or
 * is stopped leaves no name behind. A failed build is KsailError("failed") carrying the last
 * build lines.
 */
export async function buildImage(engine: Engine, input: EngineBuildInput): Promise<string> {
  const lines: string[] = [];
  const split = lineSplitter((line) => {
    lines.push(line);
    if (lines.length > FAILED_BUILD_LINES) lines.shift();
    input.onLine?.(line);
  });
  let imageId: string | undefined;
  let failure: string | undefined;
  const options: Record<string, unknown> = {
    dockerfile: input.dockerfile,
    rm: true,
    forcerm: true,
    ...(input.target ? { target: input.target } : {}),
    ...(input.buildArgs && Object.keys(input.buildArgs).length > 0
      ? { buildargs: JSON.stringify(input.buildArgs) }
      : {}),
    ...(input.labels ? { labels: JSON.stringify(input.labels) } : {}),
    ...(input.signal ? { abortSignal: input.signal } : {}),
  };
  const stream = await engine.call("build an image", async () => {
    input.signal?.throwIfAborted();
    return (await engine.docker.buildImage(
      input.context as unknown as NodeJS.ReadableStream,
      options,
    )) as Readable;
  });
  try {
    await followStream(
      engine,
      stream,
      (message) => {
        if (typeof message.stream === "string") split.push(message.stream);
        const error = messageError(message);
        if (error !== undefined) {
          failure ??= error;
          split.push(`${error}\n`);
        }
        if (typeof message.aux?.ID === "string") imageId = message.aux.ID;
      },
      input.signal,
    );
  } finally {
    split.end();
  }
  // Docker's classic builder ends with "Successfully built <short id>" when aux is missing.
  if (imageId === undefined && failure === undefined) {
    const built = lines
      .map((l) => /^Successfully built ([0-9a-f]{12,64})$/.exec(l)?.[1])
      .findLast((id) => id);
    if (built) imageId = built;
  }
  if (failure !== undefined || imageId === undefined) {
    throw new KsailError(
      "failed",
      `the image build failed: ${failure ?? "no image was produced"}`,
      {
        details: lines,
        hint: "Fix the Dockerfile or the build context, then build again. Nothing was pushed.",
      },
    );
  }
  return imageId;
}

/** Names an image `repository:tag` in the engine. */
export async function tagImage(
  engine: Engine,
  image: string,
  repository: string,
  tag: string,
): Promise<void> {
  await engine.call(`tag image ${image} as ${repository}:${tag}`, () =>
    engine.docker.getImage(image).tag({ repo: repository, tag }),
  );
}

/** Removes a name from the engine (the image stays while other names or containers use it). */
export async function untagImage(engine: Engine, reference: string): Promise<void> {
  await engine.docker
    .getImage(reference)
    .remove({ noprune: true })
    .catch(() => undefined);
}

export interface PushedImage {
  /** The digest the engine reported, when it did (the registry is the truth). */
  digest?: string;
  /**
   * Layers sent, and layers the registry already had; undefined when the engine does not
   * report layers (Podman 4's Docker API sends only the final digest line).
   */
  layersPushed?: number;
  layersExisting?: number;
}

export interface EnginePushInput {
  /** Registry credentials for X-Registry-Auth (none for ksail's local registry). */
  auth?: { username?: string; password?: string; identitytoken?: string; serveraddress: string };
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

/**
 * Pushes `repository:tag` from the engine to its registry. A loopback registry is plain HTTP:
 * Docker allows 127.0.0.0/8 without TLS by default, Podman is told so (`tlsVerify=false`).
 */
export async function pushImage(
  engine: Engine,
  repository: string,
  tag: string,
  input: EnginePushInput = {},
): Promise<PushedImage> {
  const registry = repository.slice(0, repository.indexOf("/"));
  const plainHttp = isLoopbackRegistry(registry);
  const options: Record<string, unknown> = {
    tag,
    ...(plainHttp ? { tlsVerify: false } : {}),
    ...(input.auth ? { authconfig: input.auth } : {}),
    ...(input.signal ? { abortSignal: input.signal } : {}),
  };
  const stream = await engine.call(`push ${repository}:${tag}`, async () => {
    input.signal?.throwIfAborted();
    return (await engine.docker.getImage(repository).push(options)) as Readable;
  });
  const pushed = new Set<string>();
  const existing = new Set<string>();
  let digest: string | undefined;
  let failure: string | undefined;
  let reportsLayers = false;
  await followStream(
    engine,
    stream,
    (message) => {
      const error = messageError(message);
      if (error !== undefined) failure ??= error;
      const id = typeof message.id === "string" ? message.id : undefined;
      const status = typeof message.status === "string" ? message.status : undefined;
      if (id && status === "Pushed") pushed.add(id);
      if (id && status === "Layer already exists") existing.add(id);
      if (typeof message.aux?.Digest === "string") digest = message.aux.Digest;
      const final = status === undefined ? null : /digest: (sha256:[0-9a-f]{64})/.exec(status);
      if (final) digest ??= final[1];
      if (id) reportsLayers = true;
      if (status && !id) input.onLine?.(status);
      if (typeof message.stream === "string" && message.stream.trim() !== "")
        input.onLine?.(message.stream.trimEnd());
    },
    input.signal,
  );
  if (failure !== undefined) {
    throw new KsailError("registry", `could not push ${repository}:${tag}: ${failure}`, {
      hint: plainHttp
        ? "Is the registry running? `ksail registry status` shows it."
        : "Log in to the registry (docker login) or check the repository name.",
    });
  }
  return {
    ...(digest === undefined ? {} : { digest }),
    ...(reportsLayers ? { layersPushed: pushed.size, layersExisting: existing.size } : {}),
  };
}
