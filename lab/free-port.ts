import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. The OS may hand it to someone else before
 * the caller binds it, so callers that start a server should retry on EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a listening socket"));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}
