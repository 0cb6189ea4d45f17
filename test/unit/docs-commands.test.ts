/**
 * The documentation shows only commands that exist (issue 21.3): every `ksail …` line of a code
 * block in README.md and docs/*.md parses against the real command table (flags, choices,
 * arguments) and reaches a command; every inline `ksail …` names a real command and only flags
 * that command has.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CommanderError, type Command } from "commander";
import type { CliContext } from "../../src/cli/context.js";
import { createProgram } from "../../src/cli/main.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function context(): CliContext {
  const sink = new Writable({ write: (_c, _e, done) => done() });
  return { stdout: sink, stderr: sink, env: {}, cwd: "/", exitCode: 0 };
}

async function documents(): Promise<{ name: string; text: string }[]> {
  const docs = [{ name: "README.md", text: await readFile(`${ROOT}README.md`, "utf8") }];
  const names = await readdir(`${ROOT}docs`).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith(".md")).sort()) {
    docs.push({ name: `docs/${name}`, text: await readFile(`${ROOT}docs/${name}`, "utf8") });
  }
  return docs;
}

/** Splits on blanks, honouring single and double quotes. */
function shellWords(text: string): string[] {
  return [...text.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** The `ksail …` invocations of shell code blocks: one per line, split at `&&`, `|`, `;`, `>`. */
function blockInvocations(markdown: string): { line: number; argv: string[] }[] {
  const found: { line: number; argv: string[] }[] = [];
  let inBlock = false;
  let shell = false;
  let continued = "";
  for (const [index, raw] of markdown.split("\n").entries()) {
    const fence = /^\s*```(\w*)/.exec(raw);
    if (fence) {
      inBlock = !inBlock;
      shell = inBlock && ["sh", "bash", "shell", "console", ""].includes(fence[1]!);
      continue;
    }
    if (!inBlock || !shell) continue;
    let line = continued + raw.replace(/^\s*\$ /, "").replace(/\s+#.*$/, "");
    if (line.endsWith("\\")) {
      continued = `${line.slice(0, -1)} `;
      continue;
    }
    continued = "";
    line = line.replace(/<\(/g, " ").replace(/\)/g, " ");
    for (const part of line.split(/&&|\|\||\||;|>/)) {
      const words = shellWords(part.trim());
      const at = words.indexOf("ksail");
      if (at === 0 || (at > 0 && ["npx", "--no-install", "source", "time"].includes(words[0]!))) {
        found.push({ line: index + 1, argv: words.slice(at + 1) });
      }
    }
  }
  return found;
}

/** Inline code spans that start with `ksail `, outside code blocks. */
function inlineInvocations(markdown: string): { line: number; text: string }[] {
  const found: { line: number; text: string }[] = [];
  let inBlock = false;
  for (const [index, line] of markdown.split("\n").entries()) {
    if (/^\s*```/.test(line)) inBlock = !inBlock;
    if (inBlock) continue;
    for (const match of line.matchAll(/`(ksail [^`]+)`/g)) {
      found.push({ line: index + 1, text: match[1]! });
    }
  }
  return found;
}

/** Parses argv against the real command table with every action replaced by a recorder. */
async function parses(argv: string[]): Promise<string> {
  const program = createProgram(context());
  let ran = "";
  const stub = (command: Command, path: string) => {
    if (command.commands.length === 0) command.action(() => void (ran = path));
    for (const sub of command.commands) stub(sub, `${path} ${sub.name()}`.trim());
  };
  stub(program, "");
  const silence = (command: Command) => {
    command.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    command.commands.forEach(silence);
  };
  silence(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return "(help)";
      throw new Error(error.message, { cause: error });
    }
    throw error;
  }
  return ran;
}

/**
 * An inline mention such as `ksail workload push [--version X.Y.Z | --bump patch|minor|major]`
 * or `ksail registry create \| start`: the command path must exist (each alternative of the
 * last word too), and every --flag or -f named must be one of that command's options.
 */
function checkMention(text: string): string | undefined {
  const program = createProgram(context());
  const words = text
    .replace(/\\\|/g, "|")
    .replace(/[[\]]/g, " ")
    .split(/\s+/)
    .filter(Boolean)
    .slice(1);
  let commands: Command[] = [program];
  let i = 0;
  for (; i < words.length; i++) {
    const alternatives = words[i]!.split("|").filter(Boolean);
    const next = commands.flatMap((c) =>
      alternatives.map((a) => c.commands.find((s) => s.name() === a || s.aliases().includes(a))),
    );
    if (next.length === 0 || next.some((c) => c === undefined)) break;
    // `a | b` written with spaces: the next words are more alternatives of this position.
    commands = next as Command[];
    while (words[i + 1] === "|" && words[i + 2] !== undefined) {
      const more = commands[0]!.parent!.commands.find((s) => s.name() === words[i + 2]);
      if (!more) return `${text}: no command ${words[i + 2]}`;
      commands.push(more);
      i += 2;
    }
  }
  if (commands.length === 1 && commands[0] === program && words.length > 0) {
    const first = words[0]!;
    if (!first.startsWith("-")) return `${text}: no command "${first}"`;
  }
  for (const word of words.slice(i)) {
    const flag = /^(--?[a-zA-Z][\w-]*)/.exec(word)?.[1];
    if (!flag) continue;
    for (const command of commands) {
      const known =
        command.options.some((o) => o.long === flag || o.short === flag) ||
        ["-h", "--help"].includes(flag) ||
        (command === program && flag === "--version");
      if (!known) return `${text}: \`${command.name()}\` has no ${flag}`;
    }
  }
  return undefined;
}

describe("commands in README.md and docs/", () => {
  it("every ksail line of a shell block parses and reaches a command", async () => {
    const problems: string[] = [];
    let count = 0;
    for (const doc of await documents()) {
      for (const { line, argv } of blockInvocations(doc.text)) {
        count++;
        try {
          const ran = await parses(argv);
          if (ran === "")
            problems.push(`${doc.name}:${line}: ksail ${argv.join(" ")} runs nothing`);
        } catch (error) {
          problems.push(
            `${doc.name}:${line}: ksail ${argv.join(" ")}: ${(error as Error).message}`,
          );
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(count >= 10, `only ${count} command lines found`);
  });

  it("every inline `ksail …` names real commands and their flags", async () => {
    const problems: string[] = [];
    let count = 0;
    for (const doc of await documents()) {
      for (const { line, text } of inlineInvocations(doc.text)) {
        count++;
        const problem = checkMention(text);
        if (problem) problems.push(`${doc.name}:${line}: ${problem}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(count >= 20, `only ${count} inline mentions found`);
  });

  it("the check can fail: wrong flags and commands are found", async () => {
    assert.equal(checkMention("ksail workload push --bump minor"), undefined);
    assert.match(checkMention("ksail up --registry-port 5001") ?? "", /has no --registry-port/);
    assert.match(checkMention("ksail workload gen flux -o yaml") ?? "", /has no -o/);
    assert.match(checkMention("ksail workload push --max-file-size 2") ?? "", /--max-file-size/);
    assert.match(checkMention("ksail wrkload push") ?? "", /no command/);
    await assert.rejects(parses(["workload", "push", "--bump", "huge"]));
    assert.deepEqual(
      blockInvocations(
        "```sh\n$ ksail push --bump minor # next\nsource <(ksail completion bash)\n```\n",
      ).map((i) => i.argv),
      [
        ["push", "--bump", "minor"],
        ["completion", "bash"],
      ],
    );
  });
});
