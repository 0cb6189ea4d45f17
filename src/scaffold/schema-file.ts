/**
 * The JSON Schema beside ksail.yaml, where its `# yaml-language-server: $schema=…` line points:
 * `.ksail/ksail.schema.json`, relative to ksail.yaml (the YAML language server resolves a relative
 * modeline against the file it is in), so the line is the same on every machine and in every
 * clone — no absolute path into one installation. `ksail init` writes both; `ksail schema`
 * writes the schema again (after an upgrade) and points an older ksail.yaml's line at it.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ksailJsonSchema } from "../config/json-schema.js";

/** Where the schema lives, relative to ksail.yaml's directory. */
export const SCHEMA_FILE = ".ksail/ksail.schema.json";

/** The modeline init writes (without "# "). */
export const SCHEMA_LINE = `yaml-language-server: $schema=${SCHEMA_FILE}`;

/** The schema as written: the same bytes as the package's schemas/ksail.schema.json. */
export function schemaText(): string {
  return `${JSON.stringify(ksailJsonSchema(), null, 2)}\n`;
}

/** ksail.yaml's text with its yaml-language-server line set to `schemaLine` (or added on top). */
export function withSchemaLine(
  text: string,
  schemaLine: string = SCHEMA_LINE,
): { text: string; change?: "schema comment updated" | "schema comment added" } {
  const wanted = `# ${schemaLine}`;
  const existing = /^#\s*yaml-language-server:.*$/m.exec(text);
  if (existing?.[0] === wanted) return { text };
  return existing
    ? { text: text.replace(existing[0], wanted), change: "schema comment updated" }
    : { text: `${wanted}\n${text}`, change: "schema comment added" };
}

export interface SchemaWritten {
  /** The schema file, absolute. */
  schemaPath: string;
  schema: "created" | "updated" | "unchanged";
  /** What happened to ksail.yaml's line. */
  line: "updated" | "added" | "unchanged";
}

/**
 * Writes .ksail/ksail.schema.json beside `configPath` and points that ksail.yaml's line at it;
 * only that comment line of ksail.yaml changes.
 */
export async function writeSchemaBeside(configPath: string): Promise<SchemaWritten> {
  const schemaPath = join(dirname(configPath), SCHEMA_FILE);
  const text = schemaText();
  const before = await readFile(schemaPath, "utf8").catch(() => undefined);
  if (before !== text) {
    await mkdir(dirname(schemaPath), { recursive: true });
    await writeFile(schemaPath, text);
  }
  const config = await readFile(configPath, "utf8");
  const patched = withSchemaLine(config);
  if (patched.change) await writeFile(configPath, patched.text);
  return {
    schemaPath,
    schema: before === undefined ? "created" : before === text ? "unchanged" : "updated",
    line:
      patched.change === "schema comment added"
        ? "added"
        : patched.change
          ? "updated"
          : "unchanged",
  };
}
