/**
 * A TCP proxy on 127.0.0.1 that injects faults between a client and a server (the registry):
 * connection resets (first N connections, every Nth, or with a seeded probability; at once or
 * after some bytes went upstream), latency, a total outage (every connection reset at accept),
 * hanging connections and stalled responses (some bytes, then silence). Bounded: at most `maxConnections` at a time; stop() closes all.
 */
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createConnection, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { freePort } from "./free-port.js";

export interface FaultOptions {
  /** Reset the first N connections. */
  resetFirst?: number;
  /** Reset every Nth connection (N, 2N, ...). */
  resetEvery?: number;
  /** Reset each connection with this probability (0..1), drawn from a seeded RNG. */
  resetProbability?: number;
  /** For the connections chosen above: reset after this many client→server bytes (default 0: at accept). */
  resetAfterBytes?: number;
  /** Delay each forwarded chunk by this many ms (both directions). */
  latencyMs?: number;
  /** Total outage: reset every connection at once. */
  outage?: boolean;
  /** Accept connections and never answer (for timeout tests). */
  hang?: boolean;
  /**
   * Stall: forward this many server→client bytes on a connection (e.g. a response's headers
   * and the start of its body), then forward nothing more and keep the connection open.
   */
  stallAfterResponseBytes?: number;
  /** With stallAfterResponseBytes: stall only the first N connections (default: all). */
  stallFirst?: number;
}

export interface FaultProxyOptions extends FaultOptions {
  /** "host:port" of the real server. */
  target: string;
  /** Seed of the RNG used by resetProbability. Default 1. */
  seed?: number;
  /** Upper bound of simultaneous connections; more are refused with a reset. Default 256. */
  maxConnections?: number;
}

export interface FaultProxy {
  /** "127.0.0.1:PORT": use it as the registry address. */
  registry: string;
  port: number;
  stats: { connections: number; resets: number; forwardedBytes: number; stalls: number };
  /** Replaces the fault settings (connection counting continues). */
  setFaults(faults: FaultOptions): void;
  stop(): Promise<void>;
}

/** mulberry32: small, fast, deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy sends RST (Node >= 18.3); fall back to destroy on older sockets.
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else socket.destroy();
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const i = options.target.lastIndexOf(":");
  const targetHost = options.target.slice(0, i);
  const targetPort = Number(options.target.slice(i + 1));
  const random = seededRandom(options.seed ?? 1);
  const maxConnections = options.maxConnections ?? 256;
  let faults: FaultOptions = { ...options };
  const sockets = new Set<Socket>();
  const stats = { connections: 0, resets: 0, forwardedBytes: 0, stalls: 0 };

  const chosenForReset = (n: number): boolean => {
    if (faults.outage) return true;
    if (faults.resetFirst !== undefined && n <= faults.resetFirst) return true;
    if (faults.resetEvery !== undefined && faults.resetEvery > 0 && n % faults.resetEvery === 0) {
      return true;
    }
    if (faults.resetProbability !== undefined && random() < faults.resetProbability) return true;
    return false;
  };

  const pipe = (from: Socket, to: Socket, onBytes?: (n: number) => boolean) => {
    from.on("data", (chunk: Buffer) => {
      if (onBytes && !onBytes(chunk.length)) return;
      stats.forwardedBytes += chunk.length;
      const latency = faults.latencyMs ?? 0;
      if (latency > 0) {
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, latency);
      } else if (!to.destroyed && !to.write(chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
    from.on("end", () => to.end());
  };

  const server: Server = createServer((client) => {
    stats.connections++;
    const n = stats.connections;
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => undefined);
    if (sockets.size > maxConnections) {
      stats.resets++;
      reset(client);
      return;
    }
    if (faults.hang) return; // accepted, never answered; stop() cleans up
    const doReset = chosenForReset(n);
    const after = faults.resetAfterBytes ?? 0;
    if (doReset && (faults.outage || after <= 0)) {
      stats.resets++;
      reset(client);
      return;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => reset(client));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => {
      if (!client.destroyed) client.end();
    });
    let sent = 0;
    pipe(client, upstream, (bytes) => {
      if (!doReset) return true;
      sent += bytes;
      if (sent > after) {
        stats.resets++;
        reset(client);
        upstream.destroy();
        return false;
      }
      return true;
    });
    const stallAt = faults.stallAfterResponseBytes;
    if (stallAt !== undefined && (faults.stallFirst === undefined || n <= faults.stallFirst)) {
      let forwarded = 0;
      upstream.on("data", (chunk: Buffer) => {
        if (forwarded >= stallAt) return; // silence from here on; the connection stays open
        const part = chunk.subarray(0, stallAt - forwarded);
        forwarded += part.length;
        stats.forwardedBytes += part.length;
        if (forwarded >= stallAt) stats.stalls++;
        if (!client.destroyed) client.write(part);
      });
    } else {
      pipe(upstream, client);
    }
  });
  server.maxConnections = maxConnections * 2;

  const port = await listenOnFreePort(server);
  return {
    registry: `127.0.0.1:${port}`,
    port,
    stats,
    setFaults(next) {
      faults = { ...next };
    },
    stop() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function listenOnFreePort(server: Server): Promise<number> {
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || tries >= 5) throw error;
    }
  }
}

// ------------------------------------------------------------------ HTTP-level faults

export interface HttpFaultProxyOptions {
  /** "host:port" of the real server (plain HTTP). */
  target: string;
  /** Answer the first N requests (matching `match`) with `status` instead of forwarding them. */
  failFirst?: number;
  /** Status for the injected failures. Default 503. */
  status?: number;
  /** Retry-After value sent with injected failures. */
  retryAfter?: string;
  /** Only requests for which this returns true count for failFirst. Default: all. */
  match?: (method: string, path: string) => boolean;
}

export interface HttpFaultProxy {
  registry: string;
  /** "METHOD /path?query STATUS" for every request, in order. */
  log: string[];
  stop(): Promise<void>;
}

/**
 * An HTTP/1.1 reverse proxy that answers chosen requests with an error status (429, 503...)
 * and forwards the rest to the real registry, rewriting nothing but logging every request.
 */
export async function startHttpFaultProxy(options: HttpFaultProxyOptions): Promise<HttpFaultProxy> {
  const i = options.target.lastIndexOf(":");
  const host = options.target.slice(0, i);
  const port = Number(options.target.slice(i + 1));
  const log: string[] = [];
  let failed = 0;
  const server = createHttpServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const matches = options.match ? options.match(method, path) : true;
    if (matches && failed < (options.failFirst ?? 0)) {
      failed++;
      const status = options.status ?? 503;
      log.push(`${method} ${path} ${status}`);
      req.resume();
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (options.retryAfter !== undefined) headers["retry-after"] = options.retryAfter;
      res.writeHead(status, headers);
      res.end(
        JSON.stringify({
          errors: [
            { code: status === 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE", message: "injected fault" },
          ],
        }),
      );
      return;
    }
    const upstream = httpRequest({ host, port, method, path, headers: req.headers }, (up) => {
      log.push(`${method} ${path} ${up.statusCode}`);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => {
      log.push(`${method} ${path} 502`);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  const proxyPort = await listenOnFreePort(server);
  return {
    registry: `127.0.0.1:${proxyPort}`,
    log,
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
