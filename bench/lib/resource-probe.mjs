// Preloaded into the watched process (`NODE_OPTIONS=--expose-gc --import …/resource-probe.mjs`)
// by bench/watch.mjs: on SIGUSR2 it prints one line on stderr with its RSS, heap, open file
// descriptors and active timers/handles, so the bench can tell a leak over hundreds of cycles.
// RSS and heap are read twice: as they are (what a user sees) and after a full GC (what is still
// referenced: heap growth there is a leak, heap growth only before it is V8 sizing its heap).
// With KSAIL_PROBE_SNAPSHOTS=DIR each probe also writes a heap snapshot there (after the GC).
import { readFileSync, readdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import v8 from "node:v8";

/** Resident anonymous memory (malloc, V8 heap) and file-backed pages (code), from /proc. */
function rssParts() {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const kib = (name) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
    return { rssAnonBytes: kib("RssAnon"), rssFileBytes: kib("RssFile") };
  } catch {
    return {};
  }
}

/** Resident bytes of the brk heap (malloc's main arena) and of other anonymous mappings. */
function smapsSummary() {
  const text = readFileSync("/proc/self/smaps", "utf8");
  const out = { brkHeap: 0, anonMappings: 0, anonCount: 0 };
  let current = "";
  for (const line of text.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = head[1] === "[heap]" ? "brk" : head[1] === "" ? "anon" : "file";
      if (current === "anon") out.anonCount++;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current === "brk") out.brkHeap += Number(rss[1]) * 1024;
    if (rss && current === "anon") out.anonMappings += Number(rss[1]) * 1024;
  }
  return out;
}

let probes = 0;
process.on("SIGUSR2", () => {
  const resources = process.getActiveResourcesInfo();
  const before = process.memoryUsage();
  /** @type {Record<string, unknown>} */
  const probe = {
    rssBytes: before.rss,
    heapUsedBytes: before.heapUsed,
    heapTotalBytes: before.heapTotal,
    externalBytes: before.external,
    ...rssParts(),
    fds: readdirSync("/proc/self/fd").length,
    timers: resources.filter((r) => r === "Timeout").length,
    resources: resources.length,
    resourceKinds: resources.sort().join(","),
  };
  if (typeof globalThis.gc === "function") {
    globalThis.gc();
    const after = process.memoryUsage();
    probe.rssAfterGcBytes = after.rss;
    probe.heapUsedAfterGcBytes = after.heapUsed;
    probe.externalAfterGcBytes = after.external;
    probe.heapTotalAfterGcBytes = after.heapTotal;
    probe.arrayBuffersAfterGcBytes = after.arrayBuffers;
    probe.smaps = smapsSummary();
    // V8's spaces as sized (committed) and used: new_space doubling is V8 sizing its young
    // generation, not a leak.
    probe.spaces = Object.fromEntries(
      v8.getHeapSpaceStatistics().map((s) => [s.space_name, [s.space_size, s.space_used_size]]),
    );
  }
  probes++;
  const dir = process.env.KSAIL_PROBE_SNAPSHOTS;
  if (dir) probe.snapshot = v8.writeHeapSnapshot(join(dir, `probe-${probes}.heapsnapshot`));
  writeSync(2, `ksail-resource-probe ${JSON.stringify(probe)}\n`);
});
