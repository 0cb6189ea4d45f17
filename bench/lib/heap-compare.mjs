#!/usr/bin/env node
// Compares two V8 heap snapshots (e.g. the watch process after cycle 20 and after cycle 300, from
// `bench/watch.mjs --heap-snapshots DIR`): objects and bytes per constructor / node kind, the
// largest growth first. Usage: node bench/lib/heap-compare.mjs A.heapsnapshot B.heapsnapshot [N]
import { readFileSync } from "node:fs";

function summarize(path) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(path, "utf8"));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[fields.indexOf("type")];
  const width = fields.length;
  const at = { type: fields.indexOf("type"), name: fields.indexOf("name") };
  const size = fields.indexOf("self_size");
  const groups = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + at.type]];
    const name = strings[nodes[i + at.name]];
    // Strings and code are grouped by kind only; objects by constructor name.
    const key =
      type === "object" || type === "closure" || type === "native"
        ? `${type}:${name.slice(0, 80)}`
        : type;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + size];
    groups.set(key, g);
  }
  return groups;
}

const [a, b, top = "30"] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: node bench/lib/heap-compare.mjs A.heapsnapshot B.heapsnapshot [N]");
  process.exit(2);
}
const before = summarize(a);
const after = summarize(b);
const rows = [];
for (const key of new Set([...before.keys(), ...after.keys()])) {
  const x = before.get(key) ?? { count: 0, bytes: 0 };
  const y = after.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: y.count - x.count, bytes: y.bytes - x.bytes, total: y.bytes });
}
rows.sort((p, q) => q.bytes - p.bytes);
const total = (m) => [...m.values()].reduce((s, g) => s + g.bytes, 0);
console.log(
  `heap: ${(total(before) / 1048576).toFixed(2)} MiB → ${(total(after) / 1048576).toFixed(2)} MiB`,
);
for (const r of rows.slice(0, Number(top))) {
  console.log(
    `${(r.bytes / 1024).toFixed(1).padStart(10)} KiB ${String(r.count).padStart(8)} objects  ${r.key}`,
  );
}
