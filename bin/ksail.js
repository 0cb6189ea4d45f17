#!/usr/bin/env node
// Thin launcher: enable Node's compile cache where available, then run the bundled CLI.
import module from "node:module";

module.enableCompileCache?.();
// Output into a closed pipe (`ksail --help | head -1`) ends the process quietly, as a Go or C
// program ends by SIGPIPE: shells report 141 (128 + SIGPIPE), and no stack trace is printed.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error?.code !== "EPIPE") throw error;
    process.exit(141);
  });
}
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
