/**
 * Signing from the command line (issue 14): the built CLI as a process against a real
 * distribution registry — `workload keygen`, `push --sign-key` (and spec.options.signing.key),
 * `workload verify`, the SIGNED column of `versions`, `prune` removing the pruned versions'
 * signatures, `gen flux --verify-key`, `watch --sign-key`; and the real cosign CLI verifying what `push --sign-key`
 * signed with a key from `workload keygen`.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { RegistryClient } from "../../src/oci/client.js";
import { signatureTag } from "../../src/sign/cosign-format.js";
import { readSigningKey } from "../../src/workload/sign.js";
import { cosignBinary, runCosign } from "../../lab/cosign.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { startWatch } from "../../lab/watch.js";

const PASSWORD = "correct horse battery staple";
const BIN = fileURLToPath(new URL("../../bin/ksail.js", import.meta.url));

const configMap = (value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: "${value}"\n`;

interface PushJson {
  version: string;
  digest: string;
  unchanged: boolean;
  signature?: { tag: string; digest: string; unchanged: boolean };
}

describe("ksail workload keygen / push --sign-key / verify / versions / prune (real registry)", () => {
  let lab: LabRegistry;
  let project: string;
  let cosign: string;
  const client = new RegistryClient();
  const repo = () => ({ registry: lab.registry, repository: "signed" });
  const ksail = (args: string[], env: NodeJS.ProcessEnv = {}, cwd = project) =>
    runKsail(args, { cwd, env });
  const withPassword = { COSIGN_PASSWORD: PASSWORD };
  const push = async (
    value: string,
    args: string[] = [],
    env: NodeJS.ProcessEnv = withPassword,
  ) => {
    await writeFile(join(project, "k8s", "cm.yaml"), configMap(value));
    return ksail(["workload", "push", "-o", "json", ...args], env);
  };
  const pushes: PushJson[] = [];

  before(async () => {
    cosign = cosignBinary(); // fails with the build command when missing
    lab = await startRegistry();
    project = await mkdtemp(join(tmpdir(), "ksail-cli-sign-"));
    const init = await ksail([
      "init",
      "--name",
      "signed",
      "--gitops-engine",
      "Flux",
      "--registry-port",
      lab.registry.split(":")[1]!,
    ]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await lab?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("keygen needs a password: no COSIGN_PASSWORD and no terminal is a usage error, nothing written", async () => {
    const run = await ksail(["workload", "keygen", "--output-dir", "keys"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /COSIGN_PASSWORD is not set and stdin is not a terminal/);
    await assert.rejects(stat(join(project, "keys")), { code: "ENOENT" });
  });

  it("keygen writes cosign.key (0600) and cosign.pub, prints the paths, never overwrites without --force", async () => {
    const made = await ksail(["workload", "keygen", "--output-dir", "keys", "-o", "json"], {
      COSIGN_PASSWORD: PASSWORD,
    });
    assert.equal(made.code, 0, made.stderr);
    const paths = json<{ privateKeyPath: string; publicKeyPath: string }>(made);
    assert.equal(paths.privateKeyPath, join(project, "keys", "cosign.key"));
    assert.equal(paths.publicKeyPath, join(project, "keys", "cosign.pub"));
    assert.equal((await stat(paths.privateKeyPath)).mode & 0o777, 0o600);
    const key = await readFile(paths.privateKeyPath, "utf8");
    assert.match(key, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    assert.ok(!key.includes(PASSWORD));
    assert.match(await readFile(paths.publicKeyPath, "utf8"), /^-----BEGIN PUBLIC KEY-----\n/);

    const again = await ksail(["workload", "keygen", "--output-dir", "keys"], withPassword);
    assert.equal(again.code, 7, again.stderr);
    assert.match(again.stderr, /cosign\.key already exists/);
    assert.equal(await readFile(paths.privateKeyPath, "utf8"), key);

    const human = await ksail(["workload", "keygen", "--output-dir", "other-keys"], {
      COSIGN_PASSWORD: "another password",
    });
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      new RegExp(`private key: ${join(project, "other-keys", "cosign.key")}`),
    );
    const forced = await ksail(["workload", "keygen", "--output-dir", "other-keys", "--force"], {
      COSIGN_PASSWORD: "another password",
    });
    assert.equal(forced.code, 0, forced.stderr);
    // An empty COSIGN_PASSWORD, set explicitly, makes a key without a password (as cosign does).
    const empty = await ksail(["workload", "keygen", "--output-dir", "empty-keys"], {
      COSIGN_PASSWORD: "",
    });
    assert.equal(empty.code, 0, empty.stderr);
  });

  it("push --sign-key with a wrong or missing password fails before pushing anything", async () => {
    const wrong = await push("1", ["--sign-key", "keys/cosign.key"], {
      COSIGN_PASSWORD: "not-the-password-7f3a",
    });
    assert.equal(wrong.code, 5, wrong.stderr);
    assert.match(
      wrong.stderr,
      /cannot decrypt key file .*keys\/cosign\.key: the password is wrong/,
    );
    assert.ok(!wrong.stderr.includes("not-the-password-7f3a") && !wrong.stderr.includes(PASSWORD));
    const missing = await push("1", ["--sign-key", "keys/cosign.key"], {});
    assert.equal(missing.code, 5, missing.stderr);
    assert.match(missing.stderr, /is encrypted and no password was given/);
    const public_ = await push("1", ["--sign-key", "keys/cosign.pub"]);
    assert.equal(public_.code, 2, public_.stderr);
    assert.match(public_.stderr, /is a public key; signing needs the private key/);
    const absent = await push("1", ["--sign-key", "keys/nope.key"]);
    assert.equal(absent.code, 6, absent.stderr);
    assert.match(absent.stderr, /key file .*keys\/nope\.key does not exist/);
    // Nothing reached the registry.
    assert.deepEqual(await client.listTags(repo()), []);
  });

  it("push --sign-key signs the pushed digest; an unchanged push keeps its signature", async () => {
    const first = await push("1", ["--sign-key", "keys/cosign.key"]);
    assert.equal(first.code, 0, first.stderr);
    const signed = json<PushJson>(first);
    assert.equal(signed.version, "0.0.1");
    assert.equal(signed.signature?.tag, signatureTag(signed.digest));
    assert.equal(signed.signature?.unchanged, false);
    assert.equal(await client.tagDigest(repo(), signed.signature.tag), signed.signature.digest);
    // Neither the key path nor the password is in the artifact.
    const manifest = (await client.fetchManifest(repo(), signed.digest)).bytes.toString();
    assert.ok(!manifest.includes("cosign.key") && !manifest.includes(PASSWORD), manifest);

    const unchanged = json<PushJson>(await push("1", ["--sign-key", "keys/cosign.key"]));
    assert.equal(unchanged.unchanged, true);
    assert.equal(unchanged.signature?.unchanged, true);
    assert.equal(unchanged.signature?.digest, signed.signature.digest);
    pushes.push(signed);
  });

  it("an unchanged push of an unsigned version signs it", async () => {
    const plain = json<PushJson>(await push("2"));
    assert.equal(plain.signature, undefined);
    assert.equal(await client.tagDigest(repo(), signatureTag(plain.digest)), undefined);
    const again = json<PushJson>(await push("2", ["--sign-key", "keys/cosign.key"]));
    assert.equal(again.unchanged, true);
    assert.equal(again.digest, plain.digest);
    assert.equal(again.signature?.unchanged, false);
    pushes.push(again);
  });

  it("spec.options.signing.key (relative to ksail.yaml) signs every push, from any working directory", async () => {
    const config = join(project, "ksail.yaml");
    const text = await readFile(config, "utf8");
    await writeFile(
      config,
      text.replace(/\n {2}options:\n/, "\n  options:\n    signing:\n      key: keys/cosign.key\n"),
    );
    assert.match(await readFile(config, "utf8"), /signing:\n {6}key: keys\/cosign\.key/);
    await writeFile(join(project, "k8s", "cm.yaml"), configMap("3"));
    const elsewhere = await mkdtemp(join(tmpdir(), "ksail-cli-sign-cwd-"));
    try {
      const run = await ksail(
        ["workload", "push", "--config", config, "-o", "json"],
        withPassword,
        elsewhere,
      );
      assert.equal(run.code, 0, run.stderr);
      const pushed = json<PushJson>(run);
      assert.equal(pushed.version, "0.0.3");
      assert.equal(pushed.signature?.tag, signatureTag(pushed.digest));
      pushes.push(pushed);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
      await writeFile(config, text);
    }
  });

  it("the real cosign CLI verifies what push --sign-key signed with keygen's key", async () => {
    const home = await mkdtemp(join(tmpdir(), "ksail-cli-sign-cosign-"));
    try {
      const verified = await runCosign(
        cosign,
        [
          "verify",
          "--key",
          join(project, "keys", "cosign.pub"),
          "--insecure-ignore-tlog=true",
          "--allow-insecure-registry",
          "--output",
          "json",
          `${lab.registry}/signed@${pushes[0]!.digest}`,
        ],
        { home },
      );
      assert.equal(verified.code, 0, `${verified.stdout}\n${verified.stderr}`);
      const claims = JSON.parse(verified.stdout) as {
        critical: { image: { "docker-manifest-digest": string } };
      }[];
      assert.equal(claims[0]!.critical.image["docker-manifest-digest"], pushes[0]!.digest);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("verify: exit 0 naming version, digest and key; exit 1 with the reason when unsigned or another key", async () => {
    const pub = join(project, "keys", "cosign.pub");
    const latest = await ksail(["workload", "verify", "--key", "keys/cosign.pub"]);
    assert.equal(latest.code, 0, latest.stderr);
    assert.equal(
      latest.stdout.trim(),
      `verified 0.0.3 (latest) (${pushes[2]!.digest}) with ${pub}: signature ${signatureTag(pushes[2]!.digest)}`,
    );
    const asJson = json<{ ok: boolean; digest: string; key: string; version: string }>(
      await ksail(["workload", "verify", "0.0.1", "--key", "keys/cosign.pub", "-o", "json"]),
    );
    assert.deepEqual(
      { ok: asJson.ok, digest: asJson.digest, key: asJson.key, version: asJson.version },
      { ok: true, digest: pushes[0]!.digest, key: pub, version: "0.0.1" },
    );

    await writeFile(join(project, "k8s", "cm.yaml"), configMap("4"));
    const unsignedPush = json<PushJson>(await ksail(["workload", "push", "-o", "json"]));
    assert.equal(unsignedPush.version, "0.0.4");
    const unsigned = await ksail(["workload", "verify", "0.0.4", "--key", "keys/cosign.pub"]);
    assert.equal(unsigned.code, 1, unsigned.stderr);
    assert.match(unsigned.stderr, /0\.0\.4 \(sha256:[a-f0-9]{64}\) is not signed: no tag sha256-/);
    assert.equal(unsigned.stdout, "");

    const other = await ksail(["workload", "verify", "0.0.1", "--key", "other-keys/cosign.pub"]);
    assert.equal(other.code, 1, other.stderr);
    assert.match(
      other.stderr,
      /no signature of 0\.0\.1 .* verifies with the given key: signature 1 of 1: the signature does not verify with the given public key/,
    );
    const failedJson = await ksail([
      "workload",
      "verify",
      "0.0.4",
      "--key",
      "keys/cosign.pub",
      "-o",
      "json",
    ]);
    assert.equal(failedJson.code, 1);
    assert.equal(json<{ ok: boolean }>(failedJson).ok, false);

    const missing = await ksail(["workload", "verify", "9.9.9", "--key", "keys/cosign.pub"]);
    assert.equal(missing.code, 6, missing.stderr);
    const noKey = await ksail(["workload", "verify", "0.0.1"]);
    assert.equal(noKey.code, 2, noKey.stderr);
    assert.match(noKey.stderr, /no public key to verify with/);
  });

  it("versions shows SIGNED (a signature tag), and with --key which verify with that key", async () => {
    const table = await ksail(["workload", "versions"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout.split("\n")[0]!, /VERSION +DIGEST +AGE +SIZE +SIGNED/);
    const signedCol = (out: string, version: string) =>
      out
        .split("\n")
        .find((line) => line.startsWith(version))
        ?.split(/\s{2,}/)[4];
    assert.equal(signedCol(table.stdout, "0.0.1"), "yes");
    assert.equal(signedCol(table.stdout, "0.0.4"), "no");

    const rows = json<{ items: { version: string; signature: string }[] }>(
      await ksail(["workload", "versions", "-o", "json"]),
    ).items;
    assert.deepEqual(
      rows.map((r) => [r.version, r.signature]),
      [
        ["0.0.1", "unverified"],
        ["0.0.2", "unverified"],
        ["0.0.3", "unverified"],
        ["0.0.4", "none"],
      ],
    );
    const mine = await ksail(["workload", "versions", "--key", "keys/cosign.pub"]);
    assert.equal(signedCol(mine.stdout, "0.0.1"), "verified");
    assert.equal(signedCol(mine.stdout, "0.0.4"), "no");
    const others = json<{
      items: { version: string; signature: string; signatureProblem?: string }[];
    }>(await ksail(["workload", "versions", "--key", "other-keys/cosign.pub", "-o", "json"])).items;
    assert.deepEqual(
      others.map((r) => r.signature),
      ["invalid", "invalid", "invalid", "none"],
    );
    assert.match(others[0]!.signatureProblem ?? "", /does not verify with the given public key/);
    const othersTable = await ksail(["workload", "versions", "--key", "other-keys/cosign.pub"]);
    assert.equal(signedCol(othersTable.stdout, "0.0.1"), "INVALID");
  });

  it("prune deletes the pruned versions' signatures and lists them, never a kept version's", async () => {
    // From a directory without ksail.yaml, with --registry: the lab registry is not ksail's
    // container, so prune leaves garbage collection to it (no Docker needed).
    const elsewhere = await mkdtemp(join(tmpdir(), "ksail-cli-sign-prune-"));
    after(() => rm(elsewhere, { recursive: true, force: true }));
    const prune = (...args: string[]) =>
      ksail(
        ["workload", "prune", "--registry", `oci://${lab.registry}/signed`, ...args],
        {},
        elsewhere,
      );
    const dry = await prune("--keep", "2", "--dry-run", "-o", "json");
    assert.equal(dry.code, 0, dry.stderr);
    const planned = json<{ signatures: { tag: string }[] }>(dry);
    const expected = [pushes[0]!, pushes[1]!].map((p) => signatureTag(p.digest)).sort();
    assert.deepEqual(planned.signatures.map((s) => s.tag).sort(), expected);
    for (const tag of expected) assert.ok(await client.tagDigest(repo(), tag), `${tag} kept`);

    const run = await prune("--keep", "2");
    assert.equal(run.code, 0, run.stderr);
    for (const tag of expected) {
      assert.match(run.stdout, new RegExp(`deleted signature ${tag}`));
      assert.equal(await client.tagDigest(repo(), tag), undefined, `${tag} is gone`);
    }
    // The kept, signed 0.0.3 keeps its signature and still verifies.
    const kept = await ksail(["workload", "verify", "0.0.3", "--key", "keys/cosign.pub"]);
    assert.equal(kept.code, 0, kept.stderr);
    const tags = await client.listTags(repo());
    assert.deepEqual(
      tags.filter((t) => t.endsWith(".sig")),
      [signatureTag(pushes[2]!.digest)],
    );
  });

  it("gen flux --verify-key (or spec.options.signing.publicKey) adds the Secret and spec.verify", async () => {
    const run = await ksail(["workload", "gen", "flux", "--verify-key", "keys/cosign.pub"]);
    assert.equal(run.code, 0, run.stderr);
    const pub = await readFile(join(project, "keys", "cosign.pub"));
    assert.match(run.stdout, /kind: Secret\n {2}metadata:|kind: Secret/);
    assert.ok(run.stdout.includes(`cosign.pub: ${pub.toString("base64")}`), run.stdout);
    assert.match(
      run.stdout,
      /verify:\n {4}provider: cosign\n {4}secretRef:\n {6}name: signed-cosign-pub/,
    );
    const config = join(project, "ksail.yaml");
    const text = await readFile(config, "utf8");
    await mkdir(join(project, "sub"), { recursive: true });
    try {
      await writeFile(
        config,
        text.replace(
          /\n {2}options:\n/,
          "\n  options:\n    signing:\n      publicKey: keys/cosign.pub\n",
        ),
      );
      const fromConfig = await ksail(
        ["workload", "gen", "flux", "--config", config],
        {},
        join(project, "sub"),
      );
      assert.equal(fromConfig.code, 0, fromConfig.stderr);
      assert.equal(fromConfig.stdout, run.stdout);
      const wrong = await ksail(["workload", "gen", "flux", "--verify-key", "keys/cosign.key"]);
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.match(wrong.stderr, /not a public key/);
    } finally {
      await writeFile(config, text);
    }
    assert.deepEqual((await readdir(join(project, "keys"))).sort(), ["cosign.key", "cosign.pub"]);
  });
  it("watch --sign-key signs every version it pushes, an unchanged unsigned one too", async () => {
    const wrong = await ksail(
      ["workload", "watch", "--no-reconcile", "--sign-key", "keys/cosign.key"],
      { COSIGN_PASSWORD: "not-the-password-7f3a" },
    );
    assert.equal(wrong.code, 5, wrong.stderr);
    assert.match(wrong.stderr, /the password is wrong/);
    const watch = startWatch({
      project,
      args: ["--no-reconcile", "--sign-key", "keys/cosign.key"],
      env: withPassword,
    });
    try {
      // The directory holds 0.0.4's content (pushed unsigned above): the first cycle signs it.
      const first = await watch.cycle(1);
      assert.equal(first.version, "0.0.4", watch.describe());
      assert.equal(first.signatureTag, signatureTag(first.digest!), watch.describe());
      await writeFile(join(project, "k8s", "cm.yaml"), configMap("5"));
      const second = await watch.cycle(2);
      assert.equal(second.outcome, "pushed", watch.describe());
      assert.equal(second.version, "0.0.5");
      assert.equal(second.signatureTag, signatureTag(second.digest!));
    } finally {
      await watch.stop();
    }
    const verify = await ksail(["workload", "verify", "0.0.5", "--key", "keys/cosign.pub"]);
    assert.equal(verify.code, 0, verify.stderr);
    const before = await ksail(["workload", "verify", "0.0.4", "--key", "keys/cosign.pub"]);
    assert.equal(before.code, 0, before.stderr);
  });
  it("on a terminal keygen asks twice without echo, and push asks once (util-linux script as the pty)", async () => {
    if (spawnSync("script", ["--version"]).status !== 0) {
      throw new Error("script(1) is missing: install it with `apt-get install -y bsdutils`");
    }
    const answers = async (args: string[], replies: string[]) => {
      // script(1) gives ksail a pseudo-terminal; each reply is typed once its prompt appears.
      const child = spawn(
        "script",
        ["-qec", [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(" "), "/dev/null"],
        {
          cwd: project,
          env: { PATH: process.env.PATH, HOME: project, DOCKER_CONFIG: project },
          stdio: ["pipe", "pipe", "pipe"],
        },
      );
      let output = "";
      let asked = 0;
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const prompts = output.match(/Enter password for private key[^:]*: /g)?.length ?? 0;
        while (asked < prompts && asked < replies.length)
          child.stdin.write(`${replies[asked++]}\r`);
      });
      const code = await new Promise<number | null>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", resolve);
      });
      child.stdin.destroy();
      return { code, output };
    };
    const made = await answers(
      ["workload", "keygen", "--output-dir", "tty-keys"],
      ["tty secret", "tty secret"],
    );
    assert.equal(made.code, 0, made.output);
    assert.match(made.output, /Enter password for private key: \r?\n.*again: /s);
    assert.ok(!made.output.includes("tty secret"), `echoed: ${made.output}`);
    const key = await readSigningKey(join(project, "tty-keys", "cosign.key"), "tty secret");
    assert.equal(key.privateKey.asymmetricKeyType, "ec");

    const mismatch = await answers(
      ["workload", "keygen", "--output-dir", "tty-keys-2"],
      ["one", "two"],
    );
    assert.equal(mismatch.code, 2, mismatch.output);
    assert.match(mismatch.output, /the passwords do not match/);
    await assert.rejects(stat(join(project, "tty-keys-2", "cosign.key")), { code: "ENOENT" });

    const pushed = await answers(
      ["workload", "push", "--sign-key", "tty-keys/cosign.key", "-o", "json"],
      ["tty secret"],
    );
    assert.equal(pushed.code, 0, pushed.output);
    assert.match(pushed.output, /"tag": "sha256-[a-f0-9]{64}\.sig"/);
    assert.ok(!pushed.output.includes("tty secret"), `echoed: ${pushed.output}`);
  });
});
