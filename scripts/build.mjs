// Bundles the CLI into dist/ with esbuild. Commands are split into chunks that load on demand,
// so `ksail --help` never parses the Docker or Kubernetes clients.
import { build } from "esbuild";
import { rm } from "node:fs/promises";

await rm(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { cli: "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  // dockerode pulls in ssh2 / cpu-features native add-ons that cannot be bundled.
  external: ["dockerode", "ssh2", "cpu-features"],
  banner: {
    js: "import { createRequire as __ksailCreateRequire } from 'node:module'; const require = __ksailCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});
