/**
 * A thin layer over @kubernetes/client-node: server-side apply, get, merge-patch, delete, list
 * and watch-until, with errors turned into KsailErrors a person can act on.
 * Every request is bounded: no answer (connect, TLS handshake, response headers) within
 * `requestTimeoutMs` (10 s, like kubectl's TLS handshake limit) ends it, and a deadline set by
 * the command (`--timeout`) aborts whatever is still running when it passes.
 * Load it with `await import()` only in commands that talk to a cluster.
 */
import { createHash } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import {
  ApiException,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { KsailError } from "../errors.js";
import { ObjectWatch } from "./object-watch.js";

export type { KubernetesObject };

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ConnectionOptions extends RequestLimits {
  /** Path to the kubeconfig; "~" is expanded. Default: `kubeconfigFiles`, else ~/.kube/config. */
  kubeconfig?: string;
  /** $KUBECONFIG's files, merged as kubectl merges them (resolved by config/load.ts). */
  kubeconfigFiles?: string[];
  /** In a pod without a kubeconfig, client-node's in-cluster configuration applies. */
  inCluster?: boolean;
  context?: string;
}

export interface RequestLimits {
  /** How long one request may go without an answer (connect, TLS, headers). Default 10 s. */
  requestTimeoutMs?: number;
  /** Told once when a call has waited `slowAfterMs` (default 2 s): say what it waits for. */
  onWaiting?: (message: string) => void;
  slowAfterMs?: number;
}

export const FIELD_MANAGER = "ksail";
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** How long a pooled connection may stay idle before ksail closes it (before the server does). */
const IDLE_CONNECTION_MS = 15_000;

/** The agent options that make two connections to the API server interchangeable. */
const TLS_OPTIONS = [
  "ca",
  "cert",
  "key",
  "pfx",
  "passphrase",
  "rejectUnauthorized",
  "servername",
] as const;

/** A digest of the TLS options (certificates may be Buffers, strings or arrays of them). */
function tlsFingerprint(options: Record<string, unknown>): string {
  const hash = createHash("sha256");
  const add = (value: unknown): void => {
    if (Array.isArray(value)) {
      hash.update("[");
      value.forEach(add);
      hash.update("]");
    } else if (Buffer.isBuffer(value) || typeof value === "string") {
      hash.update(`${value.length}:`).update(value);
    } else hash.update(`<${String(value)}>`);
  };
  for (const name of TLS_OPTIONS) {
    hash.update(`${name}=`);
    add(options[name]);
  }
  return hash.digest("hex");
}

/** KubernetesObjectApi with the resource-path lookup (discovery) made reachable. */
class ObjectApi extends KubernetesObjectApi {
  collectionPath(ref: ObjectRef): Promise<string> {
    return this.specUriPath(
      {
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: ref.namespace ? { namespace: ref.namespace } : {},
      },
      "list",
    );
  }

  /** Discovery (cached): whether the kind is namespaced; undefined when the server lacks it. */
  async namespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      return (await this.resource(apiVersion, kind))?.namespaced;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }
}

export class KubeClient {
  readonly server: string;
  readonly context: string;
  private readonly objects: ObjectApi;
  private readonly requestTimeoutMs: number;
  private deadline: number | undefined;
  private warnedSlow = false;
  /** When the client was made, and whether the server has answered anything since. */
  private readonly createdAt = Date.now();
  private answered = false;
  /** The keep-alive agent every request shares (see pooled), and what it was made for. */
  private pool: { fingerprint: string; agent: HttpAgent } | undefined;

  constructor(
    private readonly config: KubeConfig,
    private readonly limits: RequestLimits = {},
  ) {
    this.server = config.getCurrentCluster()?.server ?? "(unknown server)";
    this.context = config.getCurrentContext();
    this.requestTimeoutMs = limits.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // As config.makeApiClient does, plus a signal on every request that bounds it in time.
    this.objects = new ObjectApi(
      createConfiguration({
        baseServer: new ServerConfiguration(this.server, {}),
        authMethods: { default: config },
        promiseMiddleware: [
          {
            pre: (context) => {
              context.setSignal(this.requestSignal());
              context.setAgent(this.pooled(context.getAgent()));
              return Promise.resolve(context);
            },
            post: (response) => {
              this.answered = true;
              return Promise.resolve(response);
            },
          },
        ],
      }),
    );
  }

  /**
   * Ends every request still running at `deadline` (ms since the epoch) with a timeout error:
   * the command's --timeout bounds the whole command, not only its waits. Returns the deadline
   * it replaces, for the caller to put back (undefined: none).
   */
  setDeadline(deadline: number | undefined): number | undefined {
    const previous = this.deadline;
    this.deadline = deadline;
    return previous;
  }

  /**
   * One keep-alive agent for every request of this client. client-node makes a new agent for
   * each request: a new TCP connection, TLS handshake and TLS context (the kubeconfig's CA and
   * certificates parsed again), which costs a few milliseconds of CPU per call and native memory
   * a long-running watch hands back slowly. The pool is made again when the TLS options change
   * (an exec plugin's rotated client certificate); a proxy's agent (kubeconfig proxy-url) is
   * used as client-node made it.
   */
  private pooled(made: HttpAgent | undefined): HttpAgent {
    if (made && this.config.getCurrentCluster()?.proxyUrl) return made;
    const options = (made as { options?: Record<string, unknown> } | undefined)?.options ?? {};
    const fingerprint = tlsFingerprint(options);
    if (this.pool?.fingerprint !== fingerprint) {
      this.pool?.agent.destroy();
      const tls: Record<string, unknown> = {};
      for (const name of TLS_OPTIONS) if (options[name] !== undefined) tls[name] = options[name];
      const keepAlive = { keepAlive: true, timeout: IDLE_CONNECTION_MS };
      const agent = this.server.startsWith("http:")
        ? new HttpAgent(keepAlive)
        : new HttpsAgent({ ...tls, ...keepAlive });
      this.pool = { fingerprint, agent };
    }
    return this.pool.agent;
  }

  /** Closes the pooled connections (they do not keep the process alive either way). */
  close(): void {
    this.pool?.agent.destroy();
    this.pool = undefined;
  }

  /** Aborts at the request limit or the command's deadline, whichever comes first. */
  private requestSignal(): AbortSignal {
    const remaining =
      this.deadline === undefined ? Infinity : Math.max(0, this.deadline - Date.now());
    return AbortSignal.timeout(Math.min(this.requestTimeoutMs, remaining));
  }

  private timedOut(what: string, cause?: unknown): KsailError {
    const pastDeadline = this.deadline !== undefined && Date.now() >= this.deadline - 50;
    const seconds = Math.round(
      (pastDeadline ? Date.now() - this.createdAt : this.requestTimeoutMs) / 1000,
    );
    const silent = `It accepts connections but does not respond. Is the cluster overloaded, starting or paused? Check it with \`kubectl --context ${this.context} get --raw /readyz\`.`;
    if (!this.answered) {
      return new KsailError(
        "timeout",
        `the Kubernetes API server at ${this.server} did not answer within ${seconds} s (${what})`,
        { hint: silent, ...(cause === undefined ? {} : { cause }) },
      );
    }
    return new KsailError(
      "timeout",
      pastDeadline
        ? `timed out waiting for the Kubernetes API server at ${this.server} (${what})`
        : `the Kubernetes API server at ${this.server} stopped answering: no answer within ${seconds} s (${what})`,
      {
        hint: pastDeadline ? "Raise --timeout if the cluster is just slow." : silent,
        ...(cause === undefined ? {} : { cause }),
      },
    );
  }

  static connect(options: ConnectionOptions = {}): KubeClient {
    const config = new KubeConfig();
    const path = options.kubeconfig?.replace(/^~(?=$|\/)/, homedir());
    const files = options.kubeconfigFiles ?? [];
    assertKubeconfigExists(path, files, options.inCluster === true);
    try {
      if (path) config.loadFromFile(path);
      else if (files.length > 0) {
        config.loadFromFile(files[0]!);
        for (const file of files.slice(1)) {
          const more = new KubeConfig();
          more.loadFromFile(file);
          config.mergeConfig(more);
        }
      } else if (existsSync(join(homedir(), ".kube", "config"))) {
        config.loadFromFile(join(homedir(), ".kube", "config"));
      } else config.loadFromCluster();
    } catch (error) {
      throw new KsailError(
        "config",
        `cannot read kubeconfig ${path ?? "(default)"}: ${(error as Error).message}`,
        {
          hint: "Set spec.connection.kubeconfig in ksail.yaml or pass --kubeconfig.",
          cause: error,
        },
      );
    }
    if (options.context) {
      if (!config.getContexts().some((c) => c.name === options.context)) {
        const known = config.getContexts().map((c) => c.name);
        throw new KsailError(
          "not-found",
          `context "${options.context}" is not in kubeconfig ${path ?? "(default)"}`,
          {
            hint: `${known.length > 0 ? `Its contexts: ${known.join(", ")}. ` : ""}\`ksail up\` creates the cluster and its context; or pass --context / set spec.connection.context.`,
          },
        );
      }
      config.setCurrentContext(options.context);
    }
    if (!config.getCurrentCluster()) {
      throw new KsailError(
        "not-found",
        `kubeconfig ${path ?? "(default)"} has no current cluster`,
        {
          hint: "Create a cluster with `ksail up`, or pass --context.",
        },
      );
    }
    const { kubeconfig: _path, context: _context, ...limits } = options;
    return new KubeClient(config, limits);
  }

  /**
   * Server-side apply (field manager "ksail"), keeping fields other managers own.
   * The object is sent exactly as given: client-node's typed serializer drops fields such as
   * a CRD schema's `default` (Flux's OCIRepository `spec.timeout: 60s`), which broke Flux.
   */
  async apply<T extends KubernetesObject>(
    object: T,
    options: { force?: boolean } = {},
  ): Promise<T> {
    return this.call(describe(object), async () => {
      const ref = refOf(object);
      const path = `${await this.objects.collectionPath(ref)}/${encodeURIComponent(ref.name)}`;
      const query = `?fieldManager=${FIELD_MANAGER}&force=${options.force ?? true}`;
      const body = JSON.stringify(object);
      return (await this.raw("PATCH", path + query, body, PatchStrategy.ServerSideApply)) as T;
    });
  }

  /** One request with the kubeconfig's credentials; API errors become ApiExceptions. */
  private async raw(
    method: string,
    path: string,
    body: string,
    contentType: string,
  ): Promise<unknown> {
    const url = new URL(path, this.server);
    const options: RequestOptions = {
      method,
      signal: this.requestSignal(),
      headers: {
        "content-type": contentType,
        accept: "application/json",
        "content-length": Buffer.byteLength(body),
      },
    };
    await this.config.applyToHTTPSOptions(options);
    options.agent = this.pooled(options.agent instanceof HttpAgent ? options.agent : undefined);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>(
      (resolve, reject) => {
        const request = send(url, options, (response) => {
          this.answered = true;
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              text: Buffer.concat(chunks).toString("utf8"),
            }),
          );
          response.on("error", reject);
        });
        request.on("error", reject);
        request.end(body);
      },
    );
    if (status >= 300) throw new ApiException(status, `HTTP ${status}`, text, {});
    return JSON.parse(text) as unknown;
  }

  /** The object, or undefined when it (or its kind) does not exist. */
  async get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.call(describeRef(ref), () => this.objects.read<T>(header(ref) as never));
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return undefined;
      throw error;
    }
  }

  async mergePatch<T extends KubernetesObject>(
    ref: ObjectRef,
    patch: Record<string, unknown>,
  ): Promise<T> {
    return this.call(describeRef(ref), () =>
      this.objects.patch(
        {
          ...patch,
          ...header(ref),
          metadata: { ...(patch.metadata as object | undefined), ...header(ref).metadata },
        } as T,
        undefined,
        undefined,
        FIELD_MANAGER,
        undefined,
        PatchStrategy.MergePatch,
      ),
    );
  }

  /** Deletes the object; true when it existed. */
  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      await this.call(describeRef(ref), () =>
        this.objects.delete(header(ref), undefined, undefined, undefined, undefined, "Background"),
      );
      return true;
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return false;
      throw error;
    }
  }

  async list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    options: { namespace?: string; labelSelector?: string } = {},
  ): Promise<T[]> {
    try {
      const list = await this.call(`${kind} list`, () =>
        this.objects.list<T>(
          apiVersion,
          kind,
          options.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          options.labelSelector,
        ),
      );
      return list.items;
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return [];
      throw error;
    }
  }

  /**
   * The object, kept up to date by a watch (see ObjectWatch) until closed. Rejects when it
   * cannot be read; a missing object is `latest: undefined`, watched until it appears.
   */
  async observe<T extends KubernetesObject>(ref: ObjectRef): Promise<ObjectWatch<T>> {
    const what = describeRef(ref);
    const path = await this.call(what, () => this.objects.collectionPath(ref));
    return ObjectWatch.open<T>(
      {
        read: () => this.get<T>(ref),
        watch: (resourceVersion, onEvent, onEnd) =>
          this.watch<T>(
            path,
            {
              fieldSelector: `metadata.name=${ref.name}`,
              resourceVersion,
              allowWatchBookmarks: true,
            },
            onEvent,
            onEnd,
            what,
          ),
      },
      what,
    );
  }

  /**
   * Watches one object until `done` returns a value (or throws), starting from its current state.
   * No polling: the API server pushes every change. Re-establishes the watch when it ends early.
   */
  async waitFor<T extends KubernetesObject, R>(
    ref: ObjectRef,
    done: (object: T | undefined) => R | undefined,
    options: { timeoutMs: number; describeTimeout: () => string },
  ): Promise<R> {
    const deadline = Date.now() + options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new KsailError("timeout", options.describeTimeout())),
        options.timeoutMs,
      );
    });
    const opening = this.observe<T>(ref);
    let watch: ObjectWatch<T> | undefined;
    try {
      watch = await Promise.race([opening, timedOut]);
      return await watch.until(done, {
        timeoutMs: Math.max(0, deadline - Date.now()),
        describeTimeout: options.describeTimeout,
      });
    } finally {
      clearTimeout(timer);
      if (watch) watch.close();
      else opening.then((late) => late.close()).catch(() => undefined);
    }
  }

  /**
   * A watch request on `path`: events go to `onEvent`, the end (null: closed normally) to
   * `onEnd`, once. Headers must arrive within the request limit; then the stream may stay quiet
   * as long as the caller wants. The returned handle aborts it.
   */
  private watch<T>(
    path: string,
    query: Record<string, string | boolean | undefined>,
    onEvent: (phase: string, object: T) => void,
    onEnd: (error: unknown) => void,
    what: string,
  ): { abort(): void } {
    const url = new URL(path, this.server);
    url.searchParams.set("watch", "true");
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, String(value));
    const controller = new AbortController();
    let ended = false;
    const end = (error: unknown) => {
      if (ended) return;
      ended = true;
      clearTimeout(headersTimer);
      controller.abort();
      onEnd(error);
    };
    const headersTimer = setTimeout(
      () => end(this.timedOut(`watch ${what}`)),
      Math.min(
        this.requestTimeoutMs,
        this.deadline === undefined ? Infinity : Math.max(0, this.deadline - Date.now()),
      ),
    );
    const slow = this.slowNotice(`watch ${what}`);
    void (async () => {
      const options: RequestOptions = {
        method: "GET",
        signal: controller.signal,
        headers: { accept: "application/json" },
      };
      await this.config.applyToHTTPSOptions(options);
      options.agent = this.pooled(options.agent instanceof HttpAgent ? options.agent : undefined);
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const request = send(url, options, (response: IncomingMessage) => {
        this.answered = true;
        clearTimeout(headersTimer);
        clearTimeout(slow);
        if (response.statusCode !== 200) {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            end(
              toKsailError(
                new ApiException(
                  response.statusCode ?? 0,
                  `HTTP ${response.statusCode}`,
                  Buffer.concat(chunks).toString("utf8").slice(0, 4096),
                  {},
                ),
                `watch ${what}`,
                this.server,
              ),
            ),
          );
          return;
        }
        const lines = createInterface({ input: response, crlfDelay: Infinity });
        // Aborting (the wait is over) or a reset ends the stream; `end` below reports it once.
        lines.on("error", () => undefined);
        lines.on("line", (line) => {
          if (ended || line.trim() === "") return;
          try {
            const event = JSON.parse(line) as { type: string; object: T };
            onEvent(event.type, event.object);
          } catch {
            // not an event line
          }
        });
        response.on("end", () => end(null));
        response.on("error", (error) => end(error));
      });
      request.on("error", (error) => {
        clearTimeout(slow);
        end(ended ? null : toKsailError(error, `watch ${what}`, this.server));
      });
      request.end();
    })().catch((error: unknown) => end(error));
    return {
      abort: () => {
        clearTimeout(slow);
        end(null);
      },
    };
  }

  /** Whether the API server serves `kind` per namespace; undefined when it does not serve it. */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    return this.call(`discovery of ${kind} (${apiVersion})`, () =>
      this.objects.namespaced(apiVersion, kind),
    );
  }

  /** The object exactly as the API server serves it (plain JSON, no typed conversion). */
  async getRaw<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.call(
        describeRef(ref),
        async () =>
          (await this.raw("GET", await this.objectPath(ref), "", "application/json")) as T,
      );
    } catch (error) {
      if (error instanceof KsailError && error.kind === "not-found") return undefined;
      throw error;
    }
  }

  /**
   * Server-side apply as `fieldManager` with dryRun=All: the object as that manager's apply
   * would leave it (defaults, admission, merged fields of other managers); nothing is stored.
   */
  async dryRunApply<T extends KubernetesObject>(object: T, fieldManager: string): Promise<T> {
    return this.call(describe(object), async () => {
      const query = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true&dryRun=All`;
      const path = (await this.objectPath(refOf(object))) + query;
      return (await this.raw(
        "PATCH",
        path,
        JSON.stringify(object),
        PatchStrategy.ServerSideApply,
      )) as T;
    });
  }

  private async objectPath(ref: ObjectRef): Promise<string> {
    return `${await this.objects.collectionPath(ref)}/${encodeURIComponent(ref.name)}`;
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    const slow = this.slowNotice(what);
    try {
      return await run();
    } catch (error) {
      if (isAbort(error)) throw this.timedOut(what, error);
      throw toKsailError(error, what, this.server);
    } finally {
      clearTimeout(slow);
    }
  }

  /** Tells onWaiting (once per client) when `what` has not been answered after a while. */
  private slowNotice(what: string): NodeJS.Timeout | undefined {
    const { onWaiting } = this.limits;
    if (!onWaiting || this.warnedSlow) return undefined;
    const timer = setTimeout(() => {
      if (this.warnedSlow) return;
      this.warnedSlow = true;
      onWaiting(
        `Waiting for the Kubernetes API server at ${this.server} (context ${this.context}) to answer: ${what}…`,
      );
    }, this.limits.slowAfterMs ?? 2000);
    timer.unref();
    return timer;
  }
}

function isAbort(error: unknown): boolean {
  const e = error as { name?: string; code?: string; type?: string } | undefined;
  return e?.name === "AbortError" || e?.code === "ABORT_ERR" || e?.type === "aborted";
}

function header(ref: ObjectRef): KubernetesObject {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

export function refOf(object: KubernetesObject): ObjectRef {
  return {
    apiVersion: object.apiVersion ?? "v1",
    kind: object.kind ?? "",
    name: object.metadata?.name ?? "",
    ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
  };
}

function describe(object: KubernetesObject): string {
  return describeRef(refOf(object));
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind}/${ref.name}${ref.namespace ? ` in namespace ${ref.namespace}` : ""}`;
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "EAI_AGAIN",
]);

export function toKsailError(error: unknown, what: string, server: string): KsailError {
  if (error instanceof KsailError) return error;
  if (error instanceof ApiException) {
    const body = parseBody(error.body);
    const message = body?.message ?? `HTTP ${error.code}`;
    const kind =
      error.code === 404
        ? "not-found"
        : error.code === 401 || error.code === 403
          ? "auth"
          : error.code === 409
            ? "conflict"
            : error.code === 422
              ? "validation"
              : "failed";
    return new KsailError(kind, `${what}: ${message}`, {
      ...(body?.reason ? { code: body.reason } : {}),
      ...(kind === "auth" ? { hint: "Check the kubeconfig user and its RBAC permissions." } : {}),
      cause: error,
    });
  }
  const code =
    (error as { code?: string } | undefined)?.code ??
    (error as { cause?: { code?: string } })?.cause?.code;
  if (code && UNREACHABLE.has(code)) {
    return new KsailError(
      "unreachable",
      `cannot reach the Kubernetes API server at ${server} (${code})`,
      {
        hint: "Is the cluster running? `ksail cluster info` shows it; check spec.connection in ksail.yaml.",
        cause: error,
      },
    );
  }
  if (error instanceof Error && /Unrecognized API version and kind/.test(error.message)) {
    return new KsailError(
      "not-found",
      `${what}: the API server does not serve this kind (${error.message.replace(/^.*kind: /, "")})`,
      {
        hint: "Are the CRDs installed? For Flux objects run `ksail flux install`.",
        cause: error,
      },
    );
  }
  return new KsailError(
    "failed",
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

function parseBody(body: unknown): { message?: string; reason?: string } | undefined {
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as { message?: string; reason?: string };
    } catch {
      return { message: body };
    }
  }
  return (body as { message?: string; reason?: string } | undefined) ?? undefined;
}

/**
 * A missing kubeconfig is "not found", said plainly with where ksail looked — client-node would
 * otherwise make up a "loaded-context" for http://localhost:8080. In a pod, client-node's
 * in-cluster configuration applies.
 */
function assertKubeconfigExists(
  path: string | undefined,
  fromEnv: string[],
  inCluster: boolean,
): void {
  const hint =
    "Create a cluster with `ksail up` (it writes the kubeconfig), or point --kubeconfig, spec.connection.kubeconfig or KUBECONFIG at an existing one.";
  if (path !== undefined) {
    if (!existsSync(path)) {
      throw new KsailError(
        "not-found",
        `kubeconfig ${path} does not exist (named by --kubeconfig, KSAIL_KUBECONFIG or spec.connection.kubeconfig)`,
        { hint },
      );
    }
    return;
  }
  if (fromEnv.length > 0) {
    if (!fromEnv.some((p) => existsSync(p))) {
      throw new KsailError(
        "not-found",
        `no kubeconfig: KUBECONFIG names ${fromEnv.join(delimiter)}, and ${fromEnv.length === 1 ? "it does not exist" : "none of them exists"}`,
        { hint },
      );
    }
    return;
  }
  const home = join(homedir(), ".kube", "config");
  if (!existsSync(home) && !inCluster) {
    throw new KsailError(
      "not-found",
      `no kubeconfig: ${home} does not exist (no --kubeconfig, spec.connection.kubeconfig or KUBECONFIG was given)`,
      { hint },
    );
  }
}
