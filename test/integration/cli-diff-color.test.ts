/**
 * A coloured diff on a terminal (issue 21.7), as `git diff` shows it: `workload diff` (object by
 * object) and `--files` (unified), the built CLI as a process against a real registry. On a real
 * pseudo-terminal (`script`) and with FORCE_COLOR: removed lines red, added green, hunk headers
 * cyan; piped, or with NO_COLOR, not one escape.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const BIN = fileURLToPath(new URL("../../bin/ksail.js", import.meta.url));
const configMap = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: default\ndata:\n  a: ${value}\n`;
const ESC = "\x1b[";
/** The hunk header (`@@ -a,b +c,d @@`) of `text`, as cyan paints it. */
function cyanHunk(text: string): string {
  const hunk = /@@ -\d+,\d+ \+\d+,\d+ @@/.exec(text)?.[0];
  assert.ok(hunk, text);
  return `\x1b[36m${hunk}\x1b[0m`;
}
const red = (text: string) => `\x1b[31m${text}\x1b[0m`;
const green = (text: string) => `\x1b[32m${text}\x1b[0m`;

let lab: LabRegistry;
let dir: string;
let registry: string;

before(async () => {
  lab = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), "ksail-diff-color-"));
  registry = `oci://${lab.registry}/colors`;
  await writeFile(join(dir, "cm.yaml"), configMap("before"));
  const push = await runKsail(["push", "--registry", registry, "--path", dir], { cwd: dir });
  assert.equal(push.code, 0, push.stderr);
  await writeFile(join(dir, "cm.yaml"), configMap("after"));
});

after(async () => {
  await lab?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const diff = (env: Record<string, string>, ...args: string[]) =>
  runKsail(["diff", "--registry", registry, "--path", dir, ...args], { cwd: dir, env });

/** The command on a real pseudo-terminal (util-linux `script`); its output, \r\n made \n. */
function onTerminal(env: Record<string, string>, ...args: string[]): string {
  const command = [process.execPath, BIN, "diff", "--registry", registry, "--path", dir, ...args]
    .map((word) => `'${word}'`)
    .join(" ");
  const run = spawnSync("script", ["-qec", command, "/dev/null"], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: "xterm", ...env },
    encoding: "utf8",
  });
  assert.equal(run.error, undefined, "script (util-linux) runs the command on a terminal");
  assert.equal(run.status, 1, run.stdout + run.stderr);
  return run.stdout.replaceAll("\r\n", "\n");
}

describe("workload diff in colour on a terminal", () => {
  it("object diff: the removed field red, the added one green, the change named in colour", async () => {
    const run = await diff({ FORCE_COLOR: "1" });
    assert.equal(run.code, 1, run.stderr);
    assert.ok(
      run.stdout.includes("\x1b[1mConfigMap default/greeting\x1b[0m \x1b[33mchanged\x1b[0m\n"),
      JSON.stringify(run.stdout),
    );
    assert.ok(run.stdout.includes(red("-     a: before")), JSON.stringify(run.stdout));
    assert.ok(run.stdout.includes(green("+     a: after")), JSON.stringify(run.stdout));

    const terminal = onTerminal({});
    assert.ok(terminal.includes(red("-     a: before")), JSON.stringify(terminal));
    assert.ok(terminal.includes(green("+     a: after")), JSON.stringify(terminal));
  });

  it("--files: a unified diff with red, green and cyan hunk headers", async () => {
    const run = await diff({ FORCE_COLOR: "1" }, "--files");
    assert.equal(run.code, 1, run.stderr);
    assert.ok(run.stdout.includes(red("-  a: before")), JSON.stringify(run.stdout));
    assert.ok(run.stdout.includes(green("+  a: after")), JSON.stringify(run.stdout));
    assert.ok(run.stdout.includes(cyanHunk(run.stdout)), JSON.stringify(run.stdout));
    const terminal = onTerminal({}, "--files");
    assert.ok(terminal.includes(cyanHunk(terminal)), JSON.stringify(terminal));
    assert.ok(terminal.includes(red("-  a: before")), JSON.stringify(terminal));
  });

  it("piped, with NO_COLOR on a terminal, or as JSON: no escape at all", async () => {
    for (const args of [[], ["--files"], ["-o", "json"]]) {
      const piped = await diff({}, ...args);
      assert.equal(piped.code, 1, piped.stderr);
      assert.match(piped.stdout, /after/);
      assert.ok(!piped.stdout.includes(ESC), `${args.join(" ")}: ${JSON.stringify(piped.stdout)}`);
    }
    assert.ok(!(await diff({ FORCE_COLOR: "1" }, "-o", "json")).stdout.includes(ESC));
    const noColor = onTerminal({ NO_COLOR: "1" });
    assert.match(noColor, /^- {5}a: before$/m);
    assert.ok(!noColor.slice(noColor.indexOf("ConfigMap")).includes(ESC), JSON.stringify(noColor));
  });
});
