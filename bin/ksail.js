#!/usr/bin/env node
// Thin launcher: enable Node's compile cache where available, then run the bundled CLI.
import module from "node:module";

module.enableCompileCache?.();
const { main } = await import("../dist/cli.js");
process.exitCode = await main(process.argv.slice(2));
