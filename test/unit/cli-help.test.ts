/**
 * The help teaches: every command's `--help` ends with an `Examples:` block, every example is an
 * invocation the command table accepts (flags, choices, arguments), and no help text carries
 * requirement IDs (FR-0nn).
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { CommanderError, type Command } from "commander";
import type { CliContext } from "../../src/cli/context.js";
import { createProgram, main } from "../../src/cli/main.js";

function context(): CliContext & { out: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stdout: sink, stderr: sink, env: {}, cwd: "/", exitCode: 0, out: () => text };
}

/** Every command path below the program: ["init"], ["workload", "push"], … */
function commandPaths(): string[][] {
  const paths: string[][] = [];
  const visit = (command: Command, path: string[]) => {
    paths.push(path);
    for (const sub of command.commands) visit(sub, [...path, sub.name()]);
  };
  for (const command of createProgram(context()).commands) visit(command, [command.name()]);
  return paths;
}

async function help(path: string[]): Promise<string> {
  const ctx = context();
  const code = await main([...path, "--help"], ctx);
  assert.equal(code, 0, ctx.out());
  return ctx.out();
}

/** The `ksail …` invocations of an Examples block, split at `&&`, `|` and `>`, as argv. */
function exampleInvocations(text: string): string[][] {
  const block = text.slice(text.indexOf("\nExamples:\n"));
  const invocations: string[][] = [];
  for (const line of block.split("\n").slice(2)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    for (const part of trimmed.split(/&&|\||>/)) {
      const words = shellWords(part.trim());
      if (words[0] === "ksail") invocations.push(words.slice(1));
      else if (words.includes("ksail")) invocations.push(words.slice(words.indexOf("ksail") + 1));
    }
  }
  return invocations;
}

/** Splits on blanks, honouring single and double quotes (enough for the examples). */
function shellWords(text: string): string[] {
  return [...text.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** Parses argv against the real command table with every action replaced by a recorder. */
async function parses(argv: string[]): Promise<string> {
  const program = createProgram(context());
  let ran = "";
  const stub = (command: Command, path: string) => {
    if (command.commands.length === 0) {
      command.action(() => {
        ran = path;
      });
    }
    for (const sub of command.commands) stub(sub, `${path} ${sub.name()}`.trim());
  };
  stub(program, "");
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      throw new Error(`\`ksail ${argv.join(" ")}\` is refused: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  return ran;
}

describe("help", () => {
  const paths = commandPaths();

  it("covers every command (sanity check of the walk)", () => {
    const names = paths.map((p) => p.join(" "));
    for (const expected of ["init", "workload push", "workload gen flux", "flux sync", "up"]) {
      assert.ok(names.includes(expected), expected);
    }
    assert.ok(names.includes("version") && names.includes("completion"));
  });

  it("gives every command, and the program, an Examples block", async () => {
    const missing: string[] = [];
    for (const path of [[], ...paths]) {
      if (!/\nExamples:\n {2}# .+\n {2}\S/.test(await help(path))) missing.push(path.join(" "));
    }
    assert.deepEqual(missing, [], "commands without examples");
  });

  it("shows only examples that the command table accepts, each reaching a command", async () => {
    let count = 0;
    for (const path of [[], ...paths]) {
      for (const argv of exampleInvocations(await help(path))) {
        const ran = await parses(argv);
        assert.ok(ran !== "", `\`ksail ${argv.join(" ")}\` runs no command`);
        count++;
      }
    }
    assert.ok(count >= paths.length, `only ${count} examples`);
  });

  it("the example check can fail: an unknown flag or choice is refused", async () => {
    await assert.rejects(parses(["workload", "push", "--bump", "huge"]), /is refused/);
    await assert.rejects(parses(["workload", "push", "--no-such-flag"]), /is refused/);
  });

  it("carries no requirement IDs", async () => {
    for (const path of [[], ...paths]) {
      assert.doesNotMatch(await help(path), /\b(FR|SC)-\d{3}\b/, path.join(" "));
    }
  });
});

/** What `argv` prints and returns when parsed by `program` (help and errors end in CommanderError). */
async function outcome(program: Command, ctx: { out: () => string }, argv: string[]) {
  let code = 0;
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = error.exitCode;
  }
  return { code, text: ctx.out() };
}

describe("a program built for its argv (only the group argv names)", () => {
  const paths = commandPaths();
  /** Parses with every action replaced, so that only commander's own behaviour is compared. */
  const parsedBy = async (argv: string[], forArgv: boolean) => {
    const ctx = context();
    const program = createProgram(ctx, forArgv ? argv : undefined);
    const stub = (command: Command) => {
      if (command.commands.length === 0) command.action(() => {});
      command.commands.forEach(stub);
    };
    stub(program);
    return outcome(program, ctx, argv);
  };

  it("registers one group for a group's command, every group otherwise", () => {
    const names = (argv: string[]) => createProgram(context(), argv).commands.map((c) => c.name());
    assert.deepEqual(names(["workload", "push"]), ["workload"]);
    assert.deepEqual(names(["--config", "x.yaml", "-q", "flux", "status"]), ["flux"]);
    assert.deepEqual(names(["up"]), ["cluster", "up", "down"]);
    const all = names([]);
    assert.ok(all.length > 5);
    for (const argv of [["completion", "bash"], ["help", "workload"], ["wrkload"], ["--", "x"]]) {
      assert.deepEqual(names(argv), all, argv.join(" "));
    }
  });

  it("helps, and refuses bad input, exactly as the whole command table does", async () => {
    const cases: string[][] = [["--help"], ["--version"], []];
    for (const path of paths) {
      cases.push(
        [...path, "--help"],
        ["--config", "k.yaml", ...path, "--help"],
        [...path, "--no-such-flag"],
        [...path, "nosuchcommand"],
        path,
      );
    }
    cases.push(["workload", "push", "--bump", "huge"], ["workload", "pussh"], ["wrkload"]);
    for (const argv of cases) {
      assert.deepEqual(await parsedBy(argv, true), await parsedBy(argv, false), argv.join(" "));
    }
  });
});
