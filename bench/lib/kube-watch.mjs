// A bench-side watch on the lab's API server: every event on one object is timestamped with
// performance.now() when it arrives, so a run's timeline (request annotation written, controller
// handled it, ConfigMap changed) can be read against the spawn/exit times of the CLI under test.
// Plain node:https, nothing from the CLI under test, so both tools are observed the same way.
import { request } from "node:https";
import { URLSearchParams } from "node:url";

/**
 * One GET as the lab's admin.
 * @param {{server: string, token: string, caPem: string}} lab
 * @param {string} path
 * @returns {Promise<{status: number, json: any, body: string}>}
 */
export function kubeGet(lab, path) {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(lab.server + path),
      {
        method: "GET",
        ca: lab.caPem,
        headers: { authorization: `Bearer ${lab.token}`, accept: "application/json" },
        timeout: 10_000,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, body });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: GET ${path}`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Watches one named object of a collection and keeps every event as
 * `{ t, type, object }` (t = performance.now() at arrival). Reconnects from the last
 * resourceVersion when the server ends the watch, from scratch on 410 Gone.
 *
 * @param {{server: string, token: string, caPem: string}} lab
 * @param {string} collectionPath e.g. /apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/ocirepositories
 * @param {string} name
 * @param {(event: {t: number, type: string, object: any}) => void} [onEvent]
 */
export function watchObject(lab, collectionPath, name, onEvent) {
  const events = [];
  let rv = "";
  let stopped = false;
  let current = null;
  let errors = 0;
  let resolveReady;
  const ready = new Promise((r) => (resolveReady = r));

  const connect = () => {
    if (stopped) return;
    const q = new URLSearchParams({
      watch: "1",
      fieldSelector: `metadata.name=${name}`,
      allowWatchBookmarks: "true",
      timeoutSeconds: "1800",
    });
    if (rv) q.set("resourceVersion", rv);
    const req = request(
      new URL(`${lab.server}${collectionPath}?${q}`),
      {
        method: "GET",
        ca: lab.caPem,
        headers: { authorization: `Bearer ${lab.token}`, accept: "application/json" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          errors++;
          rv = "";
          setTimeout(connect, 200);
          return;
        }
        resolveReady();
        let buf = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          const t = performance.now();
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            let ev;
            try {
              ev = JSON.parse(line);
            } catch {
              continue;
            }
            if (ev.type === "ERROR") {
              // 410 Gone: the resourceVersion is too old; start again from the current state.
              if (ev.object?.code === 410) rv = "";
              continue;
            }
            rv = ev.object?.metadata?.resourceVersion ?? rv;
            if (ev.type === "BOOKMARK") continue;
            const e = { t, type: ev.type, object: ev.object };
            current = ev.type === "DELETED" ? null : ev.object;
            events.push(e);
            onEvent?.(e);
          }
        });
        res.on("end", () => setTimeout(connect, 0));
        res.on("error", () => setTimeout(connect, 200));
      },
    );
    activeReq = req;
    req.on("error", () => {
      if (stopped) return;
      errors++;
      setTimeout(connect, 200);
    });
    req.end();
  };
  let activeReq = null;
  connect();

  return {
    events,
    /** Resolves once the first watch stream is open (its initial ADDED event follows). */
    ready,
    get current() {
      return current;
    },
    get reconnectErrors() {
      return errors;
    },
    stop() {
      stopped = true;
      activeReq?.destroy();
    },
  };
}
