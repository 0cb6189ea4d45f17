#!/usr/bin/env node
// Thin launcher: enable Node's compile cache where available, then run the bundled CLI.
import module from "node:module";

module.enableCompileCache?.();
const bundle = new URL("../dist/cli.js", import.meta.url);
let main;
try {
  ({ main } = await import(bundle.href));
} catch (error) {
  // A fresh clone has no dist/ yet: say how to build it instead of printing a module stack.
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/cli.js"))
    throw error;
  process.stderr.write(
    "error: ksail is not built yet (dist/cli.js is missing)\n" +
      "hint: run `npm ci && npm run build` in the ksail directory first.\n",
  );
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
