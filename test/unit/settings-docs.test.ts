/**
 * The settings table (src/config/settings.ts) and the README's Configuration section list the
 * same settings: every environment variable a setting declares, and the run-time settings' flags,
 * are documented there.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { CONFIG_SETTINGS, RUNTIME_SETTINGS, type Setting } from "../../src/config/settings.js";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

it("every setting's environment variable and flag is in the README's Configuration section", async () => {
  const text = await readFile(README, "utf8");
  const start = text.indexOf("## Configuration");
  assert.notEqual(start, -1, "README.md has a Configuration section");
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  // Every environment variable; the flags of the run-time settings (the ksail.yaml fields' flags
  // are in the table above it, with the commands that take them).
  const names = [
    ...[...Object.values(CONFIG_SETTINGS), ...Object.values(RUNTIME_SETTINGS)].map(
      (s: Setting) => s.env,
    ),
    ...Object.values(RUNTIME_SETTINGS).map((s: Setting) => s.flag),
  ];
  const missing = names
    .filter((name): name is string => name !== undefined)
    .filter((name) => !section.includes(`\`${name}\``));
  assert.deepEqual(missing, [], "documented in README.md › Configuration");
});
