/**
 * `ksail schema`: ksail.yaml's JSON Schema beside the ksail.yaml this command finds (as every
 * command finds it: --config, $KSAIL_CONFIG, else here or the nearest parent), and that file's
 * `# yaml-language-server: $schema=` line pointed at it; `--stdout` prints it instead.
 */
import { relative } from "node:path";
import { findConfig } from "../../config/load.js";
import { KsailError } from "../../errors.js";
import { SCHEMA_FILE, schemaText, writeSchemaBeside } from "../../scaffold/schema-file.js";
import type { SchemaFlags } from "../commands/init.js";
import { createOutput } from "../context.js";
import type { Invocation } from "../seam.js";

export async function run({ ctx, flags, globals }: Invocation<SchemaFlags>): Promise<void> {
  if (flags.stdout) {
    ctx.stdout.write(schemaText());
    return;
  }
  const out = createOutput(ctx, globals, flags.output);
  const found = await findConfig(ctx.cwd, ctx.env, globals.config);
  const written = await writeSchemaBeside(found.path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new KsailError("config", `no ksail.yaml at ${relative(ctx.cwd, found.path)}`, {
      hint: `Run \`ksail init\` first (it writes ${SCHEMA_FILE} too), or print the schema with \`ksail schema --stdout\`.`,
    });
  });
  const shown = (path: string) => relative(ctx.cwd, path) || ".";
  const configShown = shown(found.path);
  out.result(
    {
      schema: shown(written.schemaPath),
      schemaAction: written.schema,
      config: configShown,
      schemaLine: written.line,
    },
    () =>
      [
        `${written.schema.padEnd(11)} ${shown(written.schemaPath)}`,
        written.line === "unchanged"
          ? `unchanged   ${configShown} (its $schema line points there)`
          : `patched     ${configShown} (schema comment ${written.line}: $schema=${SCHEMA_FILE})`,
      ].join("\n"),
  );
}
