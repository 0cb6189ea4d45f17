/**
 * Completion from the world (issue 21.7): kube contexts for --context and the repository's
 * versions for the arguments of pull, diff, verify and rollback — the generated bash, zsh and
 * fish scripts run in the real shells, calling the built CLI (as `ksail` on PATH) against a real
 * distribution registry. A registry that is down or never answers completes nothing, prints
 * nothing into the shell, and gives the prompt back.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/ksail.js", import.meta.url));
const CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  a: b\n";
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: alpha
    cluster: { server: "https://127.0.0.1:6443" }
users:
  - name: alpha
    user: {}
contexts:
  - name: kind-alpha
    context: { cluster: alpha, user: alpha }
  - name: k3d-beta
    context: { cluster: alpha, user: alpha }
current-context: kind-alpha
`;

let lab: LabRegistry;
let dir: string;
let env: NodeJS.ProcessEnv;
let silent: Server;
const sockets = new Set<Socket>();
const scripts = { bash: "", zsh: "", fish: "" };

before(async () => {
  lab = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), "ksail-complete-"));
  // The shells call `ksail`, as a user's do: the built CLI on PATH.
  await mkdir(join(dir, "bin"));
  await writeFile(
    join(dir, "bin", "ksail"),
    `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`,
  );
  await chmod(join(dir, "bin", "ksail"), 0o755);
  await writeFile(join(dir, "kubeconfig"), KUBECONFIG);
  env = {
    PATH: `${join(dir, "bin")}:${process.env.PATH}`,
    HOME: dir,
    XDG_CONFIG_HOME: dir,
    KUBECONFIG: join(dir, "kubeconfig"),
  };
  const project = join(dir, "k8s");
  await mkdir(project);
  await writeFile(join(project, "cm.yaml"), CONFIGMAP);
  for (const version of ["0.1.0", "0.2.0"]) {
    const push = await runKsail(
      ["push", "--registry", `oci://${lab.registry}/app`, "--path", project, "--version", version],
      { cwd: dir },
    );
    assert.equal(push.code, 0, push.stderr);
  }
  for (const shell of ["bash", "zsh", "fish"] as const) {
    const generated = await runKsail(["completion", shell], { cwd: dir });
    assert.equal(generated.code, 0, generated.stderr);
    scripts[shell] = join(dir, `ksail.${shell}`);
    await writeFile(scripts[shell], generated.stdout);
  }
  // A "registry" that accepts connections and never answers.
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  await lab?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** COMPREPLY of the bash completion function, and what it printed on stderr. */
async function bash(...words: string[]): Promise<{ words: string[]; stderr: string }> {
  const { stdout, stderr } = await run(
    "bash",
    [
      "-c",
      'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _ksail; printf "%s\\n" "${COMPREPLY[@]}"',
      scripts.bash,
      "ksail",
      ...words,
    ],
    { cwd: dir, env },
  );
  return { words: stdout.split("\n").filter(Boolean).sort(), stderr };
}

const registry = () => `oci://${lab.registry}/app`;

describe("dynamic completion", () => {
  it("bash: versions for pull, diff, verify and rollback; contexts for --context", async () => {
    for (const command of [
      ["workload", "pull"],
      ["workload", "diff"],
      ["diff"],
      ["workload", "verify"],
      ["workload", "rollback"],
    ]) {
      const got = await bash(...command, "--registry", registry(), "");
      assert.deepEqual(got.words, ["0.1.0", "0.2.0", "latest"], command.join(" "));
    }
    // The second argument of diff too, and the prefix typed so far.
    assert.deepEqual(
      (await bash("workload", "diff", "--registry", registry(), "0.1.0", "0.")).words,
      ["0.1.0", "0.2.0"],
    );
    // Not for a command whose arguments are no versions.
    assert.deepEqual((await bash("workload", "push", "--registry", registry(), "")).words, []);
    assert.deepEqual((await bash("status", "--context", "")).words, ["k3d-beta", "kind-alpha"]);
    assert.deepEqual((await bash("workload", "reconcile", "--context", "kind")).words, [
      "kind-alpha",
    ]);
    // --kubeconfig on the line names the file to read.
    await writeFile(
      join(dir, "other"),
      KUBECONFIG.replace("kind-alpha", "other-one").replace("k3d-beta", "other-two"),
    );
    assert.deepEqual(
      (await bash("status", "--kubeconfig", join(dir, "other"), "--context", "")).words,
      ["other-one", "other-two"],
    );
  });

  it("a registry that is down or never answers: nothing offered, nothing printed", async () => {
    const port = (silent.address() as { port: number }).port;
    for (const address of [`127.0.0.1:1`, `127.0.0.1:${port}`]) {
      const got = await bash("workload", "pull", "--registry", `oci://${address}/app`, "");
      assert.deepEqual(got.words, [], address);
      assert.equal(got.stderr, "", address);
    }
    // No ksail.yaml and no --registry: the same.
    const none = await bash("workload", "pull", "");
    assert.deepEqual(none, { words: [], stderr: "" });
  });

  it("zsh and fish offer the same versions and contexts", async () => {
    const zsh = async (...words: string[]) => {
      const { stdout } = await run(
        "zsh",
        [
          "-f",
          "-c",
          `compdef() { :; }
source "$1"; shift
_describe() { :; }
compadd() { shift; print -rl -- "$@"; }
words=(ksail "$@"); CURRENT=$#words; _ksail`,
          "zsh",
          scripts.zsh,
          ...words,
        ],
        { cwd: dir, env },
      );
      return stdout.split("\n").filter(Boolean).sort();
    };
    assert.deepEqual(await zsh("workload", "pull", "--registry", registry(), ""), [
      "0.1.0",
      "0.2.0",
      "latest",
    ]);
    assert.deepEqual(await zsh("status", "--context", ""), ["k3d-beta", "kind-alpha"]);

    const fish = async (line: string) => {
      const { stdout } = await run(
        "fish",
        ["-c", `source '${scripts.fish}'; complete -C '${line}'`],
        { cwd: dir, env },
      );
      return stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0]!)
        .sort();
    };
    assert.deepEqual(await fish(`ksail workload rollback --registry ${registry()} `), [
      "0.1.0",
      "0.2.0",
      "latest",
    ]);
    assert.deepEqual(await fish("ksail status --context "), ["k3d-beta", "kind-alpha"]);
  });
});
