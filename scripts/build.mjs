// Bundles the CLI into dist/ with esbuild. Commands are split into chunks that load on demand,
// so `ksail --help` never parses the Docker or Kubernetes clients.
import { build } from "esbuild";
import { readFile, rm, writeFile } from "node:fs/promises";

const dist = new URL("../dist/", import.meta.url);
await rm(dist, { recursive: true, force: true });
const result = await build({
  entryPoints: { cli: "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  // dockerode pulls in ssh2 / cpu-features native add-ons that cannot be bundled; @parcel/watcher
  // loads its prebuilt add-on (an optional dependency per platform) by a computed name.
  external: ["dockerode", "ssh2", "cpu-features", "@parcel/watcher"],
  metafile: true,
  logLevel: "warning",
});

// Bundled CommonJS packages call `require` only through esbuild's `__require` helper, which
// looks for a module-scoped `require` where it is defined. Only that chunk gets one: giving every
// chunk its own (an esbuild banner) costs each one an import.meta and a createRequire at load.
const REQUIRE_LINE =
  "import { createRequire as __ksailCreateRequire } from 'node:module'; const require = __ksailCreateRequire(import.meta.url);\n";
const helpers = [];
for (const output of Object.keys(result.metafile.outputs)) {
  if (!output.endsWith(".js")) continue;
  const file = new URL(output.replace(/^dist\//, ""), dist);
  const text = await readFile(file, "utf8");
  if (!/^var __require = /m.test(text)) continue;
  helpers.push(output);
  await writeFile(file, REQUIRE_LINE + text);
  // The source map's generated lines move down by one: an empty first line in its mappings.
  const mapFile = new URL(`${file.href}.map`);
  const map = JSON.parse(await readFile(mapFile, "utf8"));
  map.mappings = `;${map.mappings}`;
  await writeFile(mapFile, JSON.stringify(map));
}
if (helpers.length !== 1) {
  throw new Error(
    `expected esbuild's __require helper in one chunk, found it in ${helpers.length}`,
  );
}
