// Preloaded into the watched process (`NODE_OPTIONS=--import …/resource-probe.mjs`) by
// bench/watch.mjs: on SIGUSR2 it prints one line on stderr with its RSS, open file descriptors
// and active timers/handles, so the bench can tell a leak over hundreds of cycles.
import { readdirSync, writeSync } from "node:fs";

process.on("SIGUSR2", () => {
  const resources = process.getActiveResourcesInfo();
  const probe = {
    rssBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    fds: readdirSync("/proc/self/fd").length,
    timers: resources.filter((r) => r === "Timeout").length,
    resources: resources.length,
  };
  writeSync(2, `ksail-resource-probe ${JSON.stringify(probe)}\n`);
});
