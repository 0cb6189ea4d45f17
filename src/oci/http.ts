/**
 * A small HTTP/1.1 transport on node:http(s): keep-alive pools, a connect timeout, an
 * inactivity timeout (no bytes either way for `timeoutMs`, however long the whole exchange
 * takes), a cap on the response body, and errors with Node's codes.
 */
import http from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import type { Agent as HttpsAgent, RequestOptions } from "node:https";
import { formatDuration } from "../util/duration.js";

/** Responses without a larger limit of their own (errors, upload answers, tokens): 4 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Inactivity allowed (no bytes sent or received) while sending, waiting and reading. */
  timeoutMs: number;
  /** Time allowed to establish the TCP connection. */
  connectTimeoutMs: number;
  /** Skip TLS certificate verification (only for registries the user marked insecure). */
  insecureTls?: boolean;
  /** Largest response body accepted; more (declared or streamed) ends with BodyTooLargeError. */
  maxBodyBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  url: URL;
}

/** A failure below HTTP: refused, reset, DNS, TLS, timeouts. `code` is Node's error code. */
export class NetworkError extends Error {
  readonly code: string;
  readonly phase: "connect" | "response";
  /** The first bytes the server sent, when they were not HTTP (Node's parser keeps them). */
  readonly received: Buffer | undefined;
  constructor(
    code: string,
    message: string,
    phase: "connect" | "response",
    cause?: unknown,
    received?: Buffer,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "NetworkError";
    this.code = code;
    this.phase = phase;
    this.received = received;
  }
}

/** The server sent (or announced) a response body larger than the request allowed. */
export class BodyTooLargeError extends Error {
  readonly limit: number;
  /** Content-Length, when the server announced the size. */
  readonly declared: number | undefined;
  constructor(limit: number, declared: number | undefined) {
    super(
      declared === undefined
        ? `the response body went past ${limit} bytes`
        : `the response body is announced as ${declared} bytes, more than ${limit}`,
    );
    this.name = "BodyTooLargeError";
    this.limit = limit;
    this.declared = declared;
  }
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

export class HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  /** node:https (and TLS with it) loads with the first https:// request: loopback registries speak HTTP. */
  private https: Promise<{ request: typeof http.request; agent: HttpsAgent }> | undefined;

  private loadHttps() {
    this.https ??= import("node:https").then(({ default: https }) => ({
      request: https.request,
      agent: new https.Agent({ keepAlive: true, maxSockets: 16 }),
    }));
    return this.https;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const isHttps = req.url.protocol === "https:";
    const tls = isHttps ? await this.loadHttps() : undefined;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers["content-length"] = String(req.body.byteLength);
      else if (req.method === "PUT" || req.method === "POST" || req.method === "PATCH") {
        headers["content-length"] = "0";
      }
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      let connected = false;
      const fail = (error: NetworkError | BodyTooLargeError) => {
        if (settled) return;
        settled = true;
        if (connectTimer) clearTimeout(connectTimer);
        reject(error);
      };
      const options: RequestOptions = {
        method: req.method,
        protocol: req.url.protocol,
        hostname: req.url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: req.url.port || (isHttps ? 443 : 80),
        path: `${req.url.pathname}${req.url.search}`,
        headers,
        agent: tls ? tls.agent : this.httpAgent,
      };
      if (isHttps && req.insecureTls) options.rejectUnauthorized = false;
      const limit = req.maxBodyBytes ?? Number.POSITIVE_INFINITY;
      const request = (tls ? tls.request : http.request)(options, (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const tooLarge = (declared: number | undefined) => {
          fail(new BodyTooLargeError(limit, declared));
          request.destroy();
        };
        const declared = Number(res.headers["content-length"]);
        if (req.method !== "HEAD" && Number.isFinite(declared) && declared > limit) {
          tooLarge(declared);
          return;
        }
        res.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > limit) {
            tooLarge(undefined);
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", (error: NodeJS.ErrnoException) =>
          fail(toNetworkError(error, "response", req.url)),
        );
        res.on("aborted", () =>
          fail(
            new NetworkError(
              "ECONNRESET",
              "connection reset while reading the response",
              "response",
            ),
          ),
        );
        res.on("end", () => {
          if (settled) return;
          if (!res.complete) {
            fail(
              new NetworkError(
                "ECONNRESET",
                "connection closed before the response ended",
                "response",
              ),
            );
            return;
          }
          settled = true;
          if (connectTimer) clearTimeout(connectTimer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            url: req.url,
          });
        });
      });
      request.on("socket", (socket) => {
        const markConnected = () => {
          connected = true;
          if (connectTimer) clearTimeout(connectTimer);
        };
        if (socket.connecting) {
          connectTimer = setTimeout(() => {
            request.destroy(
              new NetworkError(
                "ETIMEDOUT",
                `no connection within ${req.connectTimeoutMs} ms`,
                "connect",
              ),
            );
          }, req.connectTimeoutMs);
          socket.once("connect", markConnected);
        } else {
          markConnected();
        }
      });
      request.setTimeout(req.timeoutMs, () => {
        request.destroy(
          new NetworkError("ETIMEDOUT", `no data for ${formatDuration(req.timeoutMs)}`, "response"),
        );
      });
      request.on("error", (error: NodeJS.ErrnoException) =>
        fail(toNetworkError(error, connected ? "response" : "connect", req.url)),
      );
      if (req.body !== undefined && req.body.byteLength > 0) {
        request.end(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength));
      } else {
        request.end();
      }
    });
  }

  close(): void {
    this.httpAgent.destroy();
    void this.https?.then(({ agent }) => agent.destroy());
  }
}

function toNetworkError(
  error: NodeJS.ErrnoException,
  phase: "connect" | "response",
  url: URL,
): NetworkError {
  if (error instanceof NetworkError) return error;
  const code = error.code ?? "EUNKNOWN";
  const raw = (error as { rawPacket?: unknown }).rawPacket;
  // Node's messages name only host:port and the syscall, never headers.
  return new NetworkError(
    code,
    `${error.message} (${url.host})`,
    phase,
    error,
    Buffer.isBuffer(raw) ? raw.subarray(0, 64) : undefined,
  );
}
