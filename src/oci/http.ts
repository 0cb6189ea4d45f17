/** A small HTTP/1.1 transport on node:http(s): keep-alive pools, connect + idle timeouts, errors with Node's codes. */
import http from "node:http";
import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Socket idle time allowed while waiting for / reading the response. */
  timeoutMs: number;
  /** Time allowed to establish the TCP connection. */
  connectTimeoutMs: number;
  /** Skip TLS certificate verification (only for registries the user marked insecure). */
  insecureTls?: boolean;
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
  constructor(code: string, message: string, phase: "connect" | "response", cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "NetworkError";
    this.code = code;
    this.phase = phase;
  }
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

export class HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });

  send(req: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const isHttps = req.url.protocol === "https:";
      const lib = isHttps ? https : http;
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers["content-length"] = String(req.body.byteLength);
      else if (req.method === "PUT" || req.method === "POST" || req.method === "PATCH") {
        headers["content-length"] = "0";
      }
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      let connected = false;
      const fail = (error: NetworkError) => {
        if (settled) return;
        settled = true;
        if (connectTimer) clearTimeout(connectTimer);
        reject(error);
      };
      const options: https.RequestOptions = {
        method: req.method,
        protocol: req.url.protocol,
        hostname: req.url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: req.url.port || (isHttps ? 443 : 80),
        path: `${req.url.pathname}${req.url.search}`,
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
      };
      if (isHttps && req.insecureTls) options.rejectUnauthorized = false;
      const request = lib.request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
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
          new NetworkError("ETIMEDOUT", `no response data for ${req.timeoutMs} ms`, "response"),
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
    this.httpsAgent.destroy();
  }
}

function toNetworkError(
  error: NodeJS.ErrnoException,
  phase: "connect" | "response",
  url: URL,
): NetworkError {
  if (error instanceof NetworkError) return error;
  const code = error.code ?? "EUNKNOWN";
  // Node's messages name only host:port and the syscall, never headers.
  return new NetworkError(code, `${error.message} (${url.host})`, phase, error);
}
