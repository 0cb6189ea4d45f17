/**
 * Issue 22 (reliability, third pass), items 1 and 4–7, as a user meets them: the built CLI as a
 * process against the distribution registry (lab/registry.ts), with real FIFOs, devices,
 * directories, signals and a peer tool (the Flux CLI) writing tags.
 *
 *   1. one spelling per version: `--version v1.2.5` is 1.2.5, immutable against every tag that
 *      spells it (also ones the Flux CLI wrote), and `latest` never moves to a second spelling;
 *   4. files the user names are read bounded: FIFOs, devices, directories, huge files — exit 8
 *      naming the file, at once;
 *   5. a clear error instead of an internal one: alias bombs, a directory as --config, file names
 *      that are not UTF-8, `keygen --force` onto a directory (the old key survives);
 *   6. no temporary files left after SIGKILL (swept by the next push) or SIGHUP;
 *   7. impossible `--created` dates refused; `versions -o json` says none | valid | invalid.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { signatureTag } from "../../src/sign/cosign-format.js";
import { startFaultProxy, type FaultProxy } from "../../lab/fault-proxy.js";
import { fluxBinary } from "../../lab/flux-build.js";
import { json, runKsail, type KsailOptions, type KsailRun } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const temps: string[] = [];
async function tempDir(prefix = "ksail-reliab-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

/** A source directory with one ConfigMap whose data is `seed`. */
async function source(seed: string): Promise<string> {
  const dir = await tempDir("ksail-reliab-src-");
  await writeFile(
    join(dir, "cm.yaml"),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  seed: "${seed}"\n`,
  );
  return dir;
}

/**
 * runKsail with a bound on how long the process may run: a process that hangs (a FIFO that is
 * never written) is killed and shows up as `signal: SIGKILL` — a failure, not a stuck suite.
 */
function ksail(args: string[], options: KsailOptions, boundMs = 60_000): Promise<KsailRun> {
  let timer: NodeJS.Timeout | undefined;
  return runKsail(args, {
    ...options,
    onSpawn: (child) => {
      timer = setTimeout(() => child.kill("SIGKILL"), boundMs);
      options.onSpawn?.(child);
    },
  }).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("ksail reliability, third pass (issue 22)", () => {
  let lab: LabRegistry;
  const client = new RegistryClient();
  const repo = (repository: string) => ({ registry: lab.registry, repository });
  const push = (dir: string, repository: string, ...args: string[]) =>
    ksail(
      [
        "workload",
        "push",
        "--registry",
        `oci://${lab.registry}/${repository}`,
        "--path",
        ".",
        "-o",
        "json",
        ...args,
      ],
      { cwd: dir },
    );

  before(async () => {
    lab = await startRegistry();
  });
  after(async () => {
    client.close();
    await lab?.stop();
  });

  describe("1. a version has one spelling", () => {
    /** The Flux CLI (the peer tool) pushes `dir` as `tag`: a tag ksail did not write. */
    async function fluxPush(repository: string, tag: string, dir: string): Promise<void> {
      await promisify(execFile)(
        fluxBinary(),
        [
          "push",
          "artifact",
          `oci://${lab.registry}/${repository}:${tag}`,
          `--path=${dir}`,
          "--source=https://example.com/other-tool",
          "--revision=main@sha1:0000000000000000000000000000000000000000",
        ],
        { env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir }, timeout: 60_000 },
      );
    }

    it("--version v1.2.5 is version 1.2.5: other content is refused, the same content is unchanged", async () => {
      const first = await push(await source("a"), "spelling", "--version", "1.2.5");
      assert.equal(first.code, 0, first.stderr);
      const pushed = json<{ version: string; digest: string }>(first);

      const other = await push(await source("b"), "spelling", "--version", "v1.2.5");
      assert.equal(other.code, 7, `exit ${other.code}\n${other.stdout}\n${other.stderr}`);
      assert.match(other.stderr, /version 1\.2\.5 of .*spelling already exists with other content/);
      assert.deepEqual((await client.listTags(repo("spelling"))).sort(), ["1.2.5", "latest"]);
      assert.equal(await client.tagDigest(repo("spelling"), "latest"), pushed.digest);

      const same = await push(await source("a"), "spelling", "--version", "v1.2.5");
      assert.equal(same.code, 0, same.stderr);
      const again = json<{ version: string; unchanged: boolean; digest: string }>(same);
      assert.deepEqual(
        [again.version, again.unchanged, again.digest],
        ["1.2.5", true, pushed.digest],
      );
      assert.deepEqual((await client.listTags(repo("spelling"))).sort(), ["1.2.5", "latest"]);
    });

    it("a v-tag another tool wrote holds its version: --version 1.2.6 is refused, the next push takes 1.2.7", async () => {
      const first = await push(await source("a"), "peer", "--version", "1.2.5");
      assert.equal(first.code, 0, first.stderr);
      await fluxPush("peer", "v1.2.6", await source("flux"));

      const taken = await push(await source("b"), "peer", "--version", "1.2.6");
      assert.equal(taken.code, 7, `exit ${taken.code}\n${taken.stdout}\n${taken.stderr}`);
      assert.match(taken.stderr, /version 1\.2\.6 of .*peer already exists as tag v1\.2\.6/);
      assert.equal(await client.tagDigest(repo("peer"), "1.2.6"), undefined);

      const next = await push(await source("b"), "peer");
      assert.equal(next.code, 0, next.stderr);
      const result = json<{ version: string; digest: string }>(next);
      assert.equal(result.version, "1.2.7");
      assert.equal(await client.tagDigest(repo("peer"), "latest"), result.digest);
    });

    it("latest stays on the version's first spelling when another tool writes a second one", async () => {
      const first = await push(await source("a"), "second", "--version", "2.0.0");
      assert.equal(first.code, 0, first.stderr);
      const pushed = json<{ digest: string }>(first);
      await fluxPush("second", "v2.0.0", await source("flux"));
      const fluxDigest = await client.tagDigest(repo("second"), "v2.0.0");
      assert.ok(fluxDigest !== undefined && fluxDigest !== pushed.digest);

      // A push of the same content: nothing new, and `latest` is settled on 2.0.0 — not v2.0.0.
      const again = await push(await source("a"), "second");
      assert.equal(again.code, 0, again.stderr);
      const result = json<{ version: string; unchanged: boolean }>(again);
      assert.deepEqual([result.version, result.unchanged], ["2.0.0", true]);
      assert.equal(await client.tagDigest(repo("second"), "latest"), pushed.digest);
    });
  });

  describe("4. files the user names are read bounded (exit 8 naming the file)", () => {
    let dir: string;
    let fifo: string;
    before(async () => {
      dir = await source("bounded");
      fifo = join(dir, "pipe");
      execFileSync("mkfifo", [fifo]);
    });
    const expectConfigError = (run: KsailRun, file: string) => {
      assert.equal(run.signal, null, `killed by ${run.signal}: it hung or ran away\n${run.stderr}`);
      assert.equal(run.code, 8, `exit ${run.code}\n${run.stderr}`);
      assert.ok(run.stderr.includes(file), `stderr names ${file}:\n${run.stderr}`);
    };

    for (const [name, path, what] of [
      ["/dev/zero", "/dev/zero", /is a character device, not a file/],
      ["/dev/urandom", "/dev/urandom", /is a character device, not a file/],
      ["a FIFO", "pipe", /is a named pipe \(FIFO\), not a file/],
    ] as const) {
      it(`--config ${name}`, async () => {
        const run = await push(dir, "bounded", "--config", path);
        expectConfigError(run, path);
        assert.match(run.stderr, what);
      });
    }

    it("--sign-key, verify --key and versions --key naming a FIFO", async () => {
      const sign = await push(dir, "bounded", "--sign-key", "pipe");
      expectConfigError(sign, fifo);
      assert.equal(await client.tagDigest(repo("bounded"), "latest"), undefined, "nothing pushed");
      for (const command of ["verify", "versions"]) {
        const run = await ksail(
          ["workload", command, "--registry", `oci://${lab.registry}/bounded`, "--key", "pipe"],
          { cwd: dir },
        );
        expectConfigError(run, fifo);
      }
    });

    it("a .sourceignore that is a FIFO in the source directory", async () => {
      const tree = await source("ignore");
      execFileSync("mkfifo", [join(tree, ".sourceignore")]);
      const run = await push(tree, "bounded");
      expectConfigError(run, join(tree, ".sourceignore"));
      assert.match(run.stderr, /ignore file .* is a named pipe \(FIFO\), not a file/);
    });

    it("a 10 MB ksail.yaml in a parent directory", async () => {
      const parent = await tempDir();
      const child = join(parent, "k8s");
      await mkdir(child);
      await writeFile(
        join(child, "cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
      );
      let text = "apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: big\n";
      for (let i = 0; text.length < 10 * 1024 * 1024; i++) text += `key${i}: ${"x".repeat(100)}\n`;
      await writeFile(join(parent, "ksail.yaml"), text);
      const run = await ksail(["workload", "versions"], { cwd: child });
      expectConfigError(run, "ksail.yaml");
      assert.match(run.stderr, /is 10485\d+ bytes; ksail reads at most 1 MiB/);
    });

    it("a ksail.yaml of 90,000 keys under 1 MiB is parsed in linear time: its error comes at once", async () => {
      const parent = await tempDir();
      let text = "apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: keys\n";
      for (let i = 0; text.length < 1000 * 1024; i++) text += `k${i}: ${i}\n`;
      await writeFile(join(parent, "ksail.yaml"), text);
      // The bound only turns the quadratic parse (minutes for this file) into a failure.
      const run = await ksail(["workload", "versions"], { cwd: parent }, 120_000);
      expectConfigError(run, "ksail.yaml");
      assert.match(run.stderr, /k0: unknown field/);
      assert.match(run.stderr, /k10 and \d+ more unknown fields/);
    });
  });

  describe("5. a clear error where an internal one was", () => {
    it("a YAML alias bomb in ksail.yaml: exit 8 naming the file", async () => {
      const dir = await tempDir();
      const lol = ["a: &a [x, x, x, x, x, x, x, x, x]"];
      for (let level = 1; level < 9; level++) {
        const prev = String.fromCharCode(96 + level);
        const name = String.fromCharCode(97 + level);
        lol.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
      }
      await writeFile(
        join(dir, "ksail.yaml"),
        `apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lol\nlols:\n  ${lol.join("\n  ")}\n`,
      );
      const run = await ksail(["workload", "versions"], { cwd: dir });
      assert.equal(run.code, 8, `exit ${run.code}\n${run.stderr}`);
      assert.match(run.stderr, /ksail\.yaml: .*aliases that expand too much/);
    });

    it("--config naming a directory: exit 8", async () => {
      const dir = await source("dir");
      const run = await push(dir, "dir", "--config", ".");
      assert.equal(run.code, 8, `exit ${run.code}\n${run.stderr}`);
      assert.match(run.stderr, /config file .* is a directory, not a file/);
    });

    it("a file name that is not UTF-8: exit 3 naming it, nothing pushed", async () => {
      const dir = await source("names");
      await writeFile(
        Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from(".yaml")]),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cafe\n",
      );
      const run = await push(dir, "names");
      assert.equal(run.code, 3, `exit ${run.code}\n${run.stderr}`);
      assert.match(run.stderr, /caf\\xe9\.yaml: the name is not UTF-8/);
      assert.deepEqual(await client.listTags(repo("names")).catch(() => []), []);
    });

    it("keygen --force when cosign.pub is a directory: exit 7, the old key pair untouched", async () => {
      const dir = await tempDir();
      const env = { COSIGN_PASSWORD: "" };
      const keygen = (...args: string[]) =>
        ksail(["workload", "keygen", "--output-dir", "keys", ...args], { cwd: dir, env });
      const first = await keygen();
      assert.equal(first.code, 0, first.stderr);
      const oldKey = await readFile(join(dir, "keys", "cosign.key"));
      await rm(join(dir, "keys", "cosign.pub"));
      await mkdir(join(dir, "keys", "cosign.pub"));

      const forced = await keygen("--force");
      assert.equal(forced.code, 7, `exit ${forced.code}\n${forced.stderr}`);
      assert.match(forced.stderr, /cosign\.pub is a directory; nothing was written/);
      assert.deepEqual(await readFile(join(dir, "keys", "cosign.key")), oldKey, "old key kept");
      assert.deepEqual((await readdir(join(dir, "keys"))).sort(), ["cosign.key", "cosign.pub"]);
    });
  });

  describe("6. temporary files after SIGKILL and SIGHUP", () => {
    let hanging: FaultProxy;
    before(async () => {
      // Accepts connections and never answers: the push holds its layer file while it waits.
      hanging = await startFaultProxy({ target: lab.registry, hang: true });
    });
    after(async () => hanging?.stop());

    /** Temporary layer directories in the OS temp dir and ksail's cache. */
    async function layerDirs(osTemp: string, cache: string): Promise<string[]> {
      const found: string[] = [];
      for (const root of [osTemp, join(cache, "ksail", "tmp")]) {
        const names = await readdir(root).catch(() => [] as string[]);
        for (const name of names) if (name.startsWith("ksail-layer-")) found.push(join(root, name));
      }
      return found;
    }

    /** A push to the hanging registry, stopped by `signal` once its layer file exists. */
    async function interruptedPush(signal: NodeJS.Signals, osTemp: string, cache: string) {
      const dir = await source(`interrupted-${signal}`);
      let child: ChildProcess | undefined;
      const running = ksail(
        ["workload", "push", "--registry", `oci://${hanging.registry}/kill`, "--path", "."],
        {
          cwd: dir,
          env: { TMPDIR: osTemp, XDG_CACHE_HOME: cache },
          onSpawn: (c) => (child = c),
        },
      );
      const written = async () => {
        for (const layer of await layerDirs(osTemp, cache)) {
          if ((await readdir(layer).catch(() => [] as string[])).includes("layer.tar.gz"))
            return true;
        }
        return false;
      };
      for (let i = 0; i < 1200 && !(await written()); i++) await sleep(25);
      assert.ok(await written(), "the push's temporary layer file exists while it waits");
      child!.kill(signal);
      return running;
    }

    it("kill -9 mid-push leaves its layer file, and the next push removes it", async () => {
      const osTemp = await tempDir();
      const cache = await tempDir();
      const killed = await interruptedPush("SIGKILL", osTemp, cache);
      assert.equal(killed.signal, "SIGKILL");
      assert.equal((await layerDirs(osTemp, cache)).length, 1, "SIGKILL leaves the file");

      const next = await ksail(
        ["workload", "push", "--registry", `oci://${lab.registry}/kill`, "--path", "."],
        { cwd: await source("next"), env: { TMPDIR: osTemp, XDG_CACHE_HOME: cache } },
      );
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(await layerDirs(osTemp, cache), [], "the next push swept it");
    });

    it("SIGHUP (a closed terminal) mid-push removes the layer file, as Ctrl-C does", async () => {
      const osTemp = await tempDir();
      const cache = await tempDir();
      const hung = await interruptedPush("SIGHUP", osTemp, cache);
      assert.equal(hung.signal, "SIGHUP", "the process still ends by the signal");
      assert.deepEqual(await layerDirs(osTemp, cache), []);
    });
  });

  describe("7. honest data", () => {
    for (const created of [
      "2026-13-45T10:00:00Z",
      "2026-02-29T12:00:00Z",
      "2026-01-31T24:00:00Z",
    ]) {
      it(`--created ${created} is refused (exit 2), nothing pushed`, async () => {
        const run = await push(await source("created"), "created", "--created", created);
        assert.equal(run.code, 2, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
        assert.match(run.stderr, new RegExp(`--created must be an RFC 3339 time .*"${created}"`));
        assert.deepEqual(await client.listTags(repo("created")).catch(() => []), []);
      });
    }

    it("versions --key -o json: signature none | valid | invalid (with the reason)", async () => {
      const project = await tempDir();
      const env = { COSIGN_PASSWORD: "" };
      const keygen = await ksail(["workload", "keygen", "--output-dir", "keys"], {
        cwd: project,
        env,
      });
      assert.equal(keygen.code, 0, keygen.stderr);
      const key = join(project, "keys", "cosign.key");
      const pushAs = async (seed: string, ...args: string[]) => {
        const run = await ksail(
          [
            "workload",
            "push",
            "--registry",
            `oci://${lab.registry}/states`,
            "--path",
            ".",
            "-o",
            "json",
            ...args,
          ],
          { cwd: await source(seed), env },
        );
        assert.equal(run.code, 0, run.stderr);
        return json<{ version: string; digest: string }>(run);
      };
      // The legacy format: its signature tag is what another tool could overwrite.
      const legacy = ["--sign-key", key, "--signature-format", "legacy"];
      const signed = await pushAs("one", ...legacy);
      await pushAs("two");
      const tampered = await pushAs("three", ...legacy);
      // 0.0.3's signature tag now holds 0.0.1's genuine signature: it names another digest.
      const genuine = await client.fetchManifest(repo("states"), signatureTag(signed.digest));
      await client.pushManifest(
        repo("states"),
        signatureTag(tampered.digest),
        genuine.bytes,
        genuine.mediaType,
      );

      const versions = (...args: string[]) =>
        ksail(["workload", "versions", "--registry", `oci://${lab.registry}/states`, ...args], {
          cwd: project,
        });
      const rows = json<{
        items: { version: string; signature: string; signatureProblem?: string }[];
      }>(await versions("--key", "keys/cosign.pub", "-o", "json")).items;
      assert.deepEqual(
        rows.map((r) => [r.version, r.signature]),
        [
          ["0.0.1", "valid"],
          ["0.0.2", "none"],
          ["0.0.3", "invalid"],
        ],
      );
      assert.equal(rows[0]!.signatureProblem, undefined);
      assert.equal(rows[1]!.signatureProblem, undefined);
      assert.match(rows[2]!.signatureProblem ?? "", /signs sha256:[a-f0-9]{64}, not sha256:/);

      const unchecked = json<{ items: { signature: string }[] }>(await versions("-o", "json"));
      assert.deepEqual(
        unchecked.items.map((r) => r.signature),
        ["unverified", "none", "unverified"],
      );
      const table = await versions("--key", "keys/cosign.pub");
      const column = (version: string) =>
        table.stdout
          .split("\n")
          .find((line) => line.startsWith(version))
          ?.split(/\s{2,}/)[4];
      assert.deepEqual(["0.0.1", "0.0.2", "0.0.3"].map(column), ["verified", "no", "INVALID"]);
    });
  });
});
