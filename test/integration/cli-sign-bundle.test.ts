/**
 * Signing from the command line in the default format, cosign v3's bundle (issue 27): the built
 * CLI as a process against the Debian distribution 2.8 registry (no referrers API: the
 * `sha256-<hex>` tag) and lab/referrers-registry (referrers API) — `push --sign-key` writes a
 * bundle referrer, `--signature-format legacy` and `spec.options.signing.format` choose the
 * `.sig` tag, `verify` names the format, `versions` shows both, `prune` deletes the pruned
 * versions' bundles and indexes. The legacy CLI suite is cli-sign.test.ts.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { referrersTag } from "../../src/oci/referrers.js";
import { signatureTag } from "../../src/sign/cosign-format.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startReferrersRegistry } from "../../lab/referrers-registry.js";
import { startRegistry } from "../../lab/registry.js";

const PASSWORD = "bundle passphrase";
const env = { COSIGN_PASSWORD: PASSWORD };

interface PushJson {
  version: string;
  digest: string;
  signature?: {
    format: string;
    referrer?: string;
    via?: string;
    tag?: string;
    unchanged: boolean;
  };
}

const registries = [
  { name: "Debian distribution 2.8", via: "tag", start: () => startRegistry() },
  { name: "the referrers API registry", via: "api", start: () => startReferrersRegistry() },
];

for (const target of registries) {
  describe(`ksail signs cosign bundles by default (CLI, ${target.name})`, () => {
    let lab: { registry: string; stop(): Promise<void> };
    let project: string;
    const client = new RegistryClient();
    const url = () => `oci://${lab.registry}/cli/bundle`;
    const repo = () => ({ registry: lab.registry, repository: "cli/bundle" });
    const ksail = (args: string[]) => runKsail(args, { cwd: project, env });
    const push = async (value: string, ...args: string[]) => {
      await writeFile(
        join(project, "k8s", "cm.yaml"),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: "${value}"\n`,
      );
      return ksail(["workload", "push", "--registry", url(), "-o", "json", ...args]);
    };
    const pushed: PushJson[] = [];

    before(async () => {
      lab = await target.start();
      project = await mkdtemp(join(tmpdir(), "ksail-cli-bundle-"));
      const init = await ksail([
        "init",
        "--name",
        "bundle",
        "--gitops-engine",
        "Flux",
        "--registry-port",
        lab.registry.split(":")[1]!,
      ]);
      assert.equal(init.code, 0, init.stderr);
      await mkdir(join(project, "k8s"), { recursive: true });
      const keygen = await ksail(["workload", "keygen", "--output-dir", "keys"]);
      assert.equal(keygen.code, 0, keygen.stderr);
    });
    after(async () => {
      await lab?.stop();
      if (project) await rm(project, { recursive: true, force: true });
    });

    it("push --sign-key writes a bundle referrer; verify names it", async () => {
      const run = await push("1", "--sign-key", "keys/cosign.key");
      assert.equal(run.code, 0, run.stderr);
      const result = json<PushJson>(run);
      assert.equal(result.signature?.format, "bundle");
      assert.equal(result.signature?.via, target.via);
      assert.match(result.signature?.referrer ?? "", /^sha256:[a-f0-9]{64}$/);
      assert.equal(await client.tagDigest(repo(), signatureTag(result.digest)), undefined);
      pushed.push(result);
      const verify = await ksail([
        "workload",
        "verify",
        "--registry",
        url(),
        "--key",
        "keys/cosign.pub",
      ]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(
        verify.stdout,
        new RegExp(
          `verified 0\\.0\\.1 \\(latest\\) .*: cosign bundle ${result.signature!.referrer}`,
        ),
      );
    });

    it("--signature-format legacy and spec.options.signing.format: legacy write the .sig tag", async () => {
      const flag = await push("2", "--sign-key", "keys/cosign.key", "--signature-format", "legacy");
      assert.equal(flag.code, 0, flag.stderr);
      const byFlag = json<PushJson>(flag);
      assert.deepEqual(
        [byFlag.signature?.format, byFlag.signature?.tag],
        ["legacy", signatureTag(byFlag.digest)],
      );
      pushed.push(byFlag);
      const configPath = join(project, "ksail.yaml");
      const original = await readFile(configPath, "utf8");
      await writeFile(
        configPath,
        original.replace(
          /\n {2}options:\n/,
          "\n  options:\n    signing:\n      key: keys/cosign.key\n      format: legacy\n",
        ),
      );
      const config = await push("3");
      assert.equal(config.code, 0, config.stderr);
      const byConfig = json<PushJson>(config);
      assert.equal(byConfig.signature?.format, "legacy", config.stdout);
      pushed.push(byConfig);
      // The flag wins over the file.
      const bundle = await push("4", "--signature-format", "bundle");
      assert.equal(json<PushJson>(bundle).signature?.format, "bundle", bundle.stderr);
      pushed.push(json<PushJson>(bundle));
      await writeFile(configPath, original);

      const bad = await push("5", "--sign-key", "keys/cosign.key", "--signature-format", "v2");
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /Allowed choices are bundle, legacy/);
    });

    it("versions: SIGNED for both formats, the formats in JSON, verified with --key", async () => {
      const rows = json<{
        items: { version: string; signature: string; signatureFormats: string[] }[];
      }>(await ksail(["workload", "versions", "--registry", url(), "-o", "json"])).items;
      assert.deepEqual(
        rows.map((r) => [r.version, r.signature, r.signatureFormats]),
        [
          ["0.0.1", "unverified", ["bundle"]],
          ["0.0.2", "unverified", ["legacy"]],
          ["0.0.3", "unverified", ["legacy"]],
          ["0.0.4", "unverified", ["bundle"]],
        ],
      );
      const table = await ksail([
        "workload",
        "versions",
        "--registry",
        url(),
        "--key",
        "keys/cosign.pub",
      ]);
      assert.equal(table.code, 0, table.stderr);
      const signed = table.stdout
        .split("\n")
        .slice(1)
        .filter(Boolean)
        .map((line) => line.split(/\s{2,}/)[4]);
      assert.deepEqual(signed, ["verified", "verified", "verified", "verified"]);
    });

    it("prune deletes the pruned versions' bundles (and fallback indexes), keeps the kept ones'", async () => {
      const run = await ksail(["workload", "prune", "--registry", url(), "--keep", "1"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        new RegExp(
          `deleted signature bundle ${pushed[0]!.signature!.referrer} of ${pushed[0]!.digest.slice(0, 19)}`,
        ),
      );
      assert.match(run.stdout, new RegExp(`deleted signature ${signatureTag(pushed[1]!.digest)}`));
      if (target.via === "tag") {
        assert.match(
          run.stdout,
          new RegExp(`deleted referrers index ${referrersTag(pushed[0]!.digest)}`),
        );
        assert.equal(await client.tagDigest(repo(), referrersTag(pushed[0]!.digest)), undefined);
      }
      assert.equal(await client.resolve(repo(), pushed[0]!.signature!.referrer!), undefined);
      const kept = await ksail([
        "workload",
        "verify",
        "0.0.4",
        "--registry",
        url(),
        "--key",
        "keys/cosign.pub",
      ]);
      assert.equal(kept.code, 0, kept.stderr);
      assert.match(kept.stdout, /cosign bundle/);
    });
  });
}
