// Preload (`node --import ./bench/lib/http-trace.mjs bin/ksail.js …`): times every node:http
// request the process makes and, at exit, writes one JSON line per kind of request (method and
// the path's shape: /v2/<repo>/manifests/<tag|digest>, /tags/list, /referrers/…) to the file
// named by KSAIL_BENCH_HTTP_TRACE: count, total and summed milliseconds, and the wall-clock span
// of the kind (first start to last end), so a profile shows where a command's time goes.
import http from "node:http";
import { appendFileSync } from "node:fs";

const out = process.env.KSAIL_BENCH_HTTP_TRACE;
/** @type {Map<string, {count: number, sumMs: number, first: number, last: number}>} */
const kinds = new Map();

/** @param {string} method @param {string} path */
function kindOf(method, path) {
  const p = path.split("?")[0] ?? "";
  let shape = p
    .replace(/\/manifests\/sha256:[0-9a-f]{64}$/, "/manifests/<digest>")
    .replace(/\/manifests\/sha256-[0-9a-f]{64}(\.\w+)?$/, "/manifests/<sha256-tag>")
    .replace(/\/manifests\/[^/]+$/, (m) => (m.includes("<") ? m : "/manifests/<tag>"))
    .replace(/\/referrers\/.*$/, "/referrers/<digest>")
    .replace(/\/blobs\/.*$/, "/blobs/<digest>");
  shape = shape.replace(/^\/v2\/.+?\/(manifests|tags|referrers|blobs)/, "/v2/<repo>/$1");
  return `${method} ${shape}`;
}

/** @type {(...args: any[]) => http.ClientRequest} */
const original = http.request;
/** @type {any} */ (http).request = function tracedRequest(/** @type {any[]} */ ...args) {
  const options = args[0];
  const method = (options && typeof options === "object" && options.method) || "GET";
  const path = (options && typeof options === "object" && options.path) || String(options);
  const started = performance.now();
  const req = original(...args);
  const done = () => {
    const ms = performance.now() - started;
    const kind = kindOf(method, path);
    const k = kinds.get(kind) ?? { count: 0, sumMs: 0, first: started, last: 0 };
    k.count++;
    k.sumMs += ms;
    k.first = Math.min(k.first, started);
    k.last = Math.max(k.last, started + ms);
    kinds.set(kind, k);
  };
  req.once("response", (res) => res.once("end", done));
  return req;
};

process.once("exit", () => {
  if (!out) return;
  for (const [kind, k] of kinds) {
    appendFileSync(
      out,
      JSON.stringify({
        kind,
        count: k.count,
        sumMs: Math.round(k.sumMs),
        spanMs: Math.round(k.last - k.first),
      }) + "\n",
    );
  }
});
