/**
 * A thin layer over @kubernetes/client-node: server-side apply, get, merge-patch, delete, list
 * and watch-until, with errors turned into KsailErrors a person can act on.
 * Load it with `await import()` only in commands that talk to a cluster.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { homedir } from "node:os";
import {
  ApiException,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { KsailError } from "../errors.js";

export type { KubernetesObject };

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ConnectionOptions {
  /** Path to the kubeconfig; "~" is expanded. Default: KUBECONFIG / ~/.kube/config. */
  kubeconfig?: string;
  context?: string;
}

export const FIELD_MANAGER = "ksail";

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
  private readonly watcher: Watch;

  constructor(private readonly config: KubeConfig) {
    this.objects = config.makeApiClient(ObjectApi);
    this.watcher = new Watch(config);
    this.server = config.getCurrentCluster()?.server ?? "(unknown server)";
    this.context = config.getCurrentContext();
  }

  static connect(options: ConnectionOptions = {}): KubeClient {
    const config = new KubeConfig();
    const path = options.kubeconfig?.replace(/^~(?=$|\/)/, homedir());
    try {
      if (path) config.loadFromFile(path);
      else config.loadFromDefault();
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
        throw new KsailError(
          "config",
          `context "${options.context}" is not in kubeconfig ${path ?? "(default)"}`,
          {
            hint: `Known contexts: ${
              config
                .getContexts()
                .map((c) => c.name)
                .join(", ") || "none"
            }.`,
          },
        );
      }
      config.setCurrentContext(options.context);
    }
    if (!config.getCurrentCluster()) {
      throw new KsailError("config", `kubeconfig ${path ?? "(default)"} has no current cluster`, {
        hint: "Create a cluster with `ksail up`, or pass --context.",
      });
    }
    return new KubeClient(config);
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
      headers: {
        "content-type": contentType,
        accept: "application/json",
        "content-length": Buffer.byteLength(body),
      },
    };
    await this.config.applyToHTTPSOptions(options);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>(
      (resolve, reject) => {
        const request = send(url, options, (response) => {
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
   * Watches one object until `done` returns a value (or throws), starting from its current state.
   * No polling: the API server pushes every change. Re-establishes the watch when it ends early.
   */
  async waitFor<T extends KubernetesObject, R>(
    ref: ObjectRef,
    done: (object: T | undefined) => R | undefined,
    options: { timeoutMs: number; describeTimeout: () => string },
  ): Promise<R> {
    const path = await this.call(describeRef(ref), () => this.objects.collectionPath(ref));
    const deadline = Date.now() + options.timeoutMs;
    return new Promise<R>((resolve, reject) => {
      let abort: AbortController | undefined;
      let finished = false;
      const finish = (error: unknown, value?: R) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        abort?.abort();
        if (error) reject(error);
        else resolve(value as R);
      };
      const check = (object: T | undefined) => {
        try {
          const value = done(object);
          if (value !== undefined) finish(undefined, value);
        } catch (error) {
          finish(error);
        }
      };
      const timer = setTimeout(
        () => finish(new KsailError("timeout", options.describeTimeout())),
        Math.max(0, deadline - Date.now()),
      );
      const start = async () => {
        if (finished) return;
        try {
          const current = await this.get<T>(ref);
          check(current);
          if (finished) return;
          abort = await this.watcher.watch(
            path,
            {
              fieldSelector: `metadata.name=${ref.name}`,
              resourceVersion: current?.metadata?.resourceVersion,
              allowWatchBookmarks: true,
            },
            (phase, object: T) => {
              if (phase === "BOOKMARK") return;
              check(phase === "DELETED" ? undefined : object);
            },
            (error: unknown) => {
              // A watch ends on server timeouts and "resource version too old": start again.
              if (!finished) setTimeout(() => void start(), error ? 200 : 0);
            },
          );
        } catch (error) {
          finish(error);
        }
      };
      void start();
    });
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
    try {
      return await run();
    } catch (error) {
      throw toKsailError(error, what, this.server);
    }
  }
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
