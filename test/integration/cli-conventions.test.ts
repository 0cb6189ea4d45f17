/**
 * CLI conventions, with the built CLI as a process: `ksail version`, `ksail completion` run in
 * real bash, zsh and fish, `-o json|yaml` shapes (lists as `{ items }`, errors as an object on
 * stdout), and progress that says what it waits for — piped, and on a real pseudo-terminal
 * (util-linux `script`) with colour on and off.
 */
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { PINNED_FLUX_VERSION, PINNED_REGISTRY_IMAGE } from "../../src/pins.js";
import { DEFAULT_FLUX_VERSION } from "../../src/flux/install.js";
import { freePort } from "../../lab/free-port.js";
import { json, runKsail, type KsailRun } from "../../lab/ksail.js";
import { startRegistry } from "../../lab/registry.js";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ksail.js", import.meta.url));
const ESC = "\x1b";

/** Fails (never skips) with the command that installs a missing shell or `script`. */
function requireTool(tool: string, install: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
  assert.ok(found, `${tool} is missing: ${install}`);
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs ksail on a pseudo-terminal (util-linux `script`): what a person at a terminal would see,
 * stdout and stderr together, with the escape sequences.
 */
function runInTerminal(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, BIN, ...args].map(quote).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      DOCKER_CONFIG: cwd,
      TERM: "xterm",
      XDG_CACHE_HOME: join(tmpdir(), `ksail-test-cache-${process.pid}`),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let screen = "";
  child.stdout.on("data", (chunk: Buffer) => (screen += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (screen += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, screen }));
  });
}

/** A TCP server that accepts connections and never answers: a registry that hangs. */
async function silentServer(): Promise<{ address: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("ksail version", () => {
  const cwd = tmpdir();

  it("prints `ksail <version>`; --version still prints the bare version", async () => {
    const plain = await runKsail(["version"], { cwd });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^ksail \d+\.\d+\.\d+\n$/);
    const flag = await runKsail(["--version"], { cwd });
    assert.equal(flag.code, 0);
    assert.equal(`ksail ${flag.stdout}`, plain.stdout);
  });

  it("-o json and -o yaml report ksail, Node and the pinned components", async () => {
    const asJson = await runKsail(["version", "-o", "json"], { cwd });
    assert.equal(asJson.code, 0, asJson.stderr);
    const info = json<{
      ksail: string;
      node: string;
      components: { flux: string; registryImage: string };
    }>(asJson);
    const plain = await runKsail(["version"], { cwd });
    assert.equal(`ksail ${info.ksail}\n`, plain.stdout);
    assert.match(info.node, /^v\d+\.\d+\.\d+$/);
    // The version that `flux install` really applies, not a copy.
    assert.equal(PINNED_FLUX_VERSION, DEFAULT_FLUX_VERSION);
    assert.equal(info.components.flux, DEFAULT_FLUX_VERSION);
    assert.equal(info.components.registryImage, PINNED_REGISTRY_IMAGE);
    const asYaml = await runKsail(["version", "-o", "yaml"], { cwd });
    assert.equal(asYaml.code, 0, asYaml.stderr);
    assert.deepEqual(parseYaml(asYaml.stdout), info);
  });
});

describe("ksail completion", () => {
  let dir: string;
  let scripts: Record<"bash" | "zsh" | "fish", string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-completion-"));
    await mkdir(join(dir, "k8s"));
    await writeFile(join(dir, "kind.yaml"), "");
    scripts = { bash: "", zsh: "", fish: "" };
    for (const shell of ["bash", "zsh", "fish"] as const) {
      const generated = await runKsail(["completion", shell], { cwd: dir });
      assert.equal(generated.code, 0, generated.stderr);
      scripts[shell] = join(dir, `ksail.${shell}`);
      await writeFile(scripts[shell], generated.stdout);
    }
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses an unknown shell with exit 2", async () => {
    const bad = await runKsail(["completion", "tcsh"], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bash, zsh, fish/);
  });

  /** COMPREPLY of the bash completion function for the words typed so far. */
  async function bashComplete(...words: string[]): Promise<string[]> {
    const { stdout } = await run(
      "bash",
      [
        "-c",
        'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _ksail; printf "%s\\n" "${COMPREPLY[@]}"',
        scripts.bash,
        "ksail",
        ...words,
      ],
      { cwd: dir },
    );
    return stdout.split("\n").filter(Boolean).sort();
  }

  it("bash: completes commands, subcommands, flags and flag values", async () => {
    requireTool("bash", "apt-get install -y bash");
    const top = await bashComplete("");
    for (const command of ["init", "workload", "flux", "registry", "cluster", "up", "down"]) {
      assert.ok(top.includes(command), `${command} in ${top.join(" ")}`);
    }
    assert.ok(top.includes("version") && top.includes("completion"));
    assert.deepEqual(await bashComplete("wor"), ["workload"]);
    assert.deepEqual(await bashComplete("workload", "p"), ["prune", "pull", "push"]);
    assert.deepEqual(await bashComplete("workload", "gen", ""), ["flux"]);
    assert.deepEqual(await bashComplete("workload", "push", "--bu"), ["--bump"]);
    assert.deepEqual(await bashComplete("workload", "push", "--bump", ""), [
      "major",
      "minor",
      "patch",
    ]);
    // Flags and their values before the subcommand do not confuse the command path.
    assert.deepEqual(await bashComplete("--config", "x.yaml", "registry", "st"), [
      "start",
      "status",
      "stop",
    ]);
    assert.deepEqual(await bashComplete("workload", "versions", "-o", ""), [
      "human",
      "json",
      "wide",
      "yaml",
    ]);
    assert.deepEqual(await bashComplete("workload", "versions", "--output", "=", "y"), ["yaml"]);
    assert.deepEqual(await bashComplete("cluster", "create", "--distribution", "K"), [
      "K3d",
      "Kind",
    ]);
    // Path flags complete file names.
    assert.deepEqual(await bashComplete("workload", "push", "--path", "k8"), ["k8s"]);
    assert.deepEqual(await bashComplete("--config", "ki"), ["kind.yaml"]);
  });

  it("zsh: the script parses and its completer offers the same words", async () => {
    requireTool("zsh", "apt-get install -y zsh");
    await run("zsh", ["-n", scripts.zsh]);
    // The completion system's builtins are replaced by functions that print what they get, so
    // the script's own logic runs in real zsh (its 1-based words, CURRENT, ${=…} splitting).
    const complete = async (...words: string[]) => {
      const { stdout } = await run(
        "zsh",
        [
          "-f",
          "-c",
          `compdef() { :; }
source "$1"; shift
_describe() { local -a described_words; described_words=("\${(@P)\${@[-1]}}"); print -rl -- "\${(@)described_words%%:*}"; }
compadd() { shift; print -rl -- "$@"; }
_files() { print -r -- "(files)"; }
words=(ksail "$@"); CURRENT=$#words; _ksail`,
          "zsh",
          scripts.zsh,
          ...words,
        ],
        { cwd: dir },
      );
      return stdout.split("\n").filter(Boolean).sort();
    };
    assert.deepEqual(await complete("workload", "gen", ""), ["flux"]);
    assert.ok((await complete("")).includes("workload"));
    assert.deepEqual(await complete("workload", "push", "--bump", ""), ["major", "minor", "patch"]);
    assert.ok((await complete("flux", "install", "--")).includes("--flux-version"));
    assert.deepEqual(await complete("workload", "pull", "--dest", ""), ["(files)"]);
  });

  it("fish: the script parses and `complete -C` offers the same words", async () => {
    requireTool("fish", "apt-get install -y fish");
    await run("fish", ["-n", scripts.fish]);
    const complete = async (line: string) => {
      const { stdout } = await run(
        "fish",
        ["-c", `source ${quote(scripts.fish)}; complete -C ${quote(line)}`],
        { cwd: dir, env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir } },
      );
      return stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0]!)
        .sort();
    };
    assert.deepEqual(await complete("ksail wor"), ["workload"]);
    assert.deepEqual(await complete("ksail workload gen "), ["flux"]);
    assert.deepEqual(await complete("ksail workload push --bump "), ["major", "minor", "patch"]);
    assert.deepEqual(await complete("ksail --config x.yaml registry st"), [
      "start",
      "status",
      "stop",
    ]);
    assert.ok((await complete("ksail flux install --")).includes("--flux-version"));
  });
});

describe("output formats and progress", () => {
  let lab: Awaited<ReturnType<typeof startRegistry>>;
  let project: string;
  let hanging: Awaited<ReturnType<typeof silentServer>>;
  const ksail = (args: string[], env?: NodeJS.ProcessEnv) =>
    runKsail(args, { cwd: project, ...(env ? { env } : {}) });

  before(async () => {
    lab = await startRegistry();
    hanging = await silentServer();
    project = await mkdtemp(join(tmpdir(), "ksail-conventions-"));
    const init = await ksail([
      "init",
      "--name",
      "conv",
      "--gitops-engine",
      "Flux",
      "--registry-port",
      lab.registry.split(":")[1]!,
    ]);
    assert.equal(init.code, 0, init.stderr);
    await writeFile(
      join(project, "k8s", "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
    );
    await writeFile(
      join(project, "k8s", "a.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    );
  });
  after(async () => {
    await lab?.stop();
    await hanging?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("piped: a plain line when a step starts and when it ends, no escape codes", async () => {
    const push = await ksail(["workload", "push"]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stderr, /^► Validate manifests$/m);
    assert.match(push.stderr, /^✓ Validated manifests \(\d+(ms|\.\ds)\)$/m);
    assert.ok(
      push.stderr.indexOf("► Upload blobs") < push.stderr.indexOf("✓ Uploaded"),
      push.stderr,
    );
    assert.ok(!push.stderr.includes(ESC), JSON.stringify(push.stderr));
    assert.ok(!push.stdout.includes(ESC));
  });

  it("lists are {items: [...]} in JSON and YAML alike", async () => {
    const asJson = await ksail(["workload", "versions", "-o", "json"]);
    assert.equal(asJson.code, 0, asJson.stderr);
    const listed = json<{ items: { version: string; latest: boolean }[] }>(asJson);
    assert.deepEqual(
      listed.items.map((v) => [v.version, v.latest]),
      [["0.0.1", true]],
    );
    const asYaml = await ksail(["workload", "versions", "-o", "yaml"]);
    assert.equal(asYaml.code, 0, asYaml.stderr);
    assert.deepEqual(parseYaml(asYaml.stdout), listed);
    const push = await ksail(["workload", "push", "-o", "yaml"]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal((parseYaml(push.stdout) as { unchanged: boolean }).unchanged, true);
  });

  it("an error under -o json|yaml is an object on stdout, and text on stderr", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    for (const format of ["json", "yaml"]) {
      const failed: KsailRun = await ksail([
        "workload",
        "versions",
        "--registry",
        `oci://${closed}/app`,
        "-o",
        format,
      ]);
      assert.equal(failed.code, 4, failed.stderr);
      const parsed = (format === "json" ? json(failed) : parseYaml(failed.stdout)) as {
        error: { kind: string; exitCode: number; message: string; hint?: string };
      };
      assert.equal(parsed.error.kind, "unreachable");
      assert.equal(parsed.error.exitCode, 4);
      assert.match(parsed.error.message, new RegExp(`cannot reach the registry at ${closed}`));
      assert.match(failed.stderr, /^error: cannot reach the registry/m);
    }
    // A usage error that a handler finds is data as well.
    const usage = await ksail(["workload", "prune", "--keep", "0", "-o", "json"]);
    assert.equal(usage.code, 2);
    assert.equal(json<{ error: { kind: string } }>(usage).error.kind, "usage");
  });

  it("piped: the line that says what is awaited comes before the wait ends", async () => {
    let seenWhileRunning = false;
    const waited = await runKsail(
      ["workload", "push", "--registry", `oci://${hanging.address}/app`],
      {
        cwd: project,
        env: { KSAIL_REQUEST_TIMEOUT: "2s" },
        onSpawn: (child) => {
          let text = "";
          child.stderr?.on("data", (chunk: Buffer) => {
            text += chunk.toString();
            if (text.includes(`► List versions of ${hanging.address}/app\n`)) {
              seenWhileRunning ||= child.exitCode === null;
            }
          });
        },
      },
    );
    assert.equal(waited.code, 10, waited.stderr);
    assert.ok(seenWhileRunning, waited.stderr);
    assert.match(waited.stderr, new RegExp(`^✗ List versions of ${hanging.address}/app \\(`, "m"));
  });

  it("on a terminal: a live ◎ line with the time waited, replaced by ✓/✗, in colour", async () => {
    requireTool("script", "apt-get install -y bsdutils");
    const waited = await runInTerminal(
      ["workload", "push", "--registry", `oci://${hanging.address}/app`],
      project,
      { KSAIL_REQUEST_TIMEOUT: "2s" },
    );
    assert.equal(waited.code, 10, waited.screen);
    const screen = waited.screen;
    // Drawn, then redrawn with the elapsed time while the registry does not answer.
    assert.match(screen, new RegExp(`◎ ${ESC}\\[0mList versions of ${hanging.address}/app…\\r`));
    assert.match(
      screen,
      new RegExp(`◎ ${ESC}\\[0mList versions of ${hanging.address}/app… \\d+\\.\\ds\\r${ESC}\\[2K`),
    );
    // Cleared and replaced by the final line: green ✓ for steps that ended, red ✗ and error:.
    assert.match(screen, new RegExp(`\\r${ESC}\\[2K${ESC}\\[32m✓ ${ESC}\\[0mValidated manifests`));
    assert.match(screen, new RegExp(`${ESC}\\[31m✗ ${ESC}\\[0mList versions of`));
    assert.match(screen, new RegExp(`${ESC}\\[31merror:${ESC}\\[0m the registry at`));
  });

  it("on a terminal with NO_COLOR: still live, no colour; FORCE_COLOR colours piped output", async () => {
    const plain = await runInTerminal(["workload", "push"], project, { NO_COLOR: "" });
    assert.equal(plain.code, 0, plain.screen);
    assert.match(plain.screen, /◎ Validate manifests…/);
    assert.match(plain.screen, new RegExp(`\\r${ESC}\\[2K✓ Validated manifests`));
    assert.doesNotMatch(plain.screen, new RegExp(`${ESC}\\[3\\dm`));
    const forced = await ksail(["workload", "push"], { FORCE_COLOR: "1" });
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, new RegExp(`${ESC}\\[32m✓ ${ESC}\\[0mValidated manifests`));
    assert.doesNotMatch(forced.stderr, new RegExp(`◎|${ESC}\\[2K`));
  });
});
