/**
 * Servers on 127.0.0.1 that are not (good) registries, for ksail's defences:
 * - startHostileRegistry: answers /v2/ like a registry, then streams an oversized body (with
 *   or without an honest Content-Length) for manifests, blobs or tag lists;
 * - startPlainWebServer: an ordinary web server (HTML, 404 for /v2/...);
 * - startBannerServer: a TCP service that greets with non-HTTP bytes (an SSH banner).
 * Every body is written with backpressure and ends when the client goes away; stop() closes all.
 */
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { freePort } from "./free-port.js";

export interface HostileServer {
  /** "127.0.0.1:PORT" */
  registry: string;
  /** Bytes of oversized bodies written so far. */
  stats: { bodyBytes: number };
  stop(): Promise<void>;
}

export interface HostileRegistryOptions {
  /** Which answer is oversized: a manifest (GET .../manifests/...), a blob or the tag list. */
  oversized: "manifest" | "blob" | "tags";
  /** How much to send at most. Default 1.5 GiB. */
  bytes?: number;
  /** Announce the size in Content-Length (default: no length, chunked). */
  declareLength?: boolean;
}

const REGISTRY_HEADERS = { "docker-distribution-api-version": "registry/2.0" };

export async function startHostileRegistry(
  options: HostileRegistryOptions,
): Promise<HostileServer> {
  const total = options.bytes ?? 1.5 * 1024 * 1024 * 1024;
  const stats = { bodyBytes: 0 };
  const server = createHttpServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    req.resume();
    if (path === "/v2/") {
      res.writeHead(200, { ...REGISTRY_HEADERS, "content-type": "application/json" });
      res.end("{}");
      return;
    }
    const kind = /\/manifests\//.test(path)
      ? "manifest"
      : /\/blobs\//.test(path)
        ? "blob"
        : /\/tags\/list$/.test(path)
          ? "tags"
          : undefined;
    if (kind !== options.oversized) {
      res.writeHead(404, { ...REGISTRY_HEADERS, "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "NOT_FOUND", message: "nothing here" }] }));
      return;
    }
    const type =
      kind === "manifest"
        ? "application/vnd.oci.image.manifest.v1+json"
        : kind === "tags"
          ? "application/json"
          : "application/octet-stream";
    const headers: Record<string, string> = { ...REGISTRY_HEADERS, "content-type": type };
    if (options.declareLength) headers["content-length"] = String(total);
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    streamBody(req, res, kind, total, stats);
  });
  return listen(server, stats, () => server.closeAllConnections());
}

/** Writes `total` bytes: `{"name":"x","tags":["t0",...` for tags, JSON-ish padding otherwise. */
function streamBody(
  req: IncomingMessage,
  res: ServerResponse,
  kind: "manifest" | "blob" | "tags",
  total: number,
  stats: { bodyBytes: number },
): void {
  let sent = 0;
  let n = 0;
  const head = kind === "tags" ? '{"name":"x","tags":[' : '{"schemaVersion":2,"padding":"';
  const next = (): Buffer => {
    if (kind !== "tags") return Buffer.alloc(64 * 1024, "a");
    let text = "";
    while (text.length < 64 * 1024) text += `${n++ === 0 ? "" : ","}"v${n}"`;
    return Buffer.from(text);
  };
  let closed = false;
  res.on("close", () => (closed = true));
  req.socket.on("error", () => undefined);
  const pump = () => {
    while (!closed && sent < total) {
      let chunk = sent === 0 ? Buffer.concat([Buffer.from(head), next()]) : next();
      if (sent + chunk.length > total) chunk = chunk.subarray(0, total - sent);
      sent += chunk.length;
      stats.bodyBytes += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", pump);
        return;
      }
    }
    if (!closed) res.end();
  };
  pump();
}

/** An ordinary web server: a home page, and nginx-style HTML 404 pages for everything else. */
export async function startPlainWebServer(): Promise<HostileServer> {
  const stats = { bodyBytes: 0 };
  const server = createHttpServer((req, res) => {
    req.resume();
    const home = (req.url ?? "/") === "/";
    res.writeHead(home ? 200 : 404, { "content-type": "text/html", server: "plain-web" });
    res.end(
      home
        ? "<html><body><h1>Welcome</h1></body></html>"
        : "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>",
    );
  });
  return listen(server, stats, () => server.closeAllConnections());
}

/** A TCP service that greets every connection with `banner` (default: an SSH banner). */
export async function startBannerServer(
  banner = "SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n",
): Promise<HostileServer> {
  const stats = { bodyBytes: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.write(banner);
    // Like sshd: answer a bad greeting with a complaint, then hang up.
    socket.once("data", () => socket.end("Invalid SSH identification string.\r\n"));
  });
  return listen(server, stats, () => {
    for (const s of sockets) s.destroy();
  });
}

async function listen(
  server: Server,
  stats: { bodyBytes: number },
  closeAll: () => void,
): Promise<HostileServer> {
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    registry: `127.0.0.1:${port}`,
    stats,
    stop() {
      closeAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
