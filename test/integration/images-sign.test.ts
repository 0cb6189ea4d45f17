/**
 * `--sign-key` signs the images a version pins (issue 25), in the artifact's format, and
 * `workload verify` checks them — with the cosign CLI as the oracle on the same registry: cosign
 * v2.6.5 verifies the legacy `.sig` signature of the image, cosign v3.1.3 the bundle. The built
 * CLI as a process, a real dockerd building the image, the distribution registry (Debian 2.8:
 * bundles go to the referrers fallback tag, which cosign v3 reads).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appDeployment, writeAppContext } from "../../lab/app-image.js";
import { cosign3Binary, cosignBinary, runCosign, type CosignRun } from "../../lab/cosign.js";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startWatch } from "../../lab/watch.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const PASSWORD = "image-signing-test";

interface SignatureJson {
  format: "bundle" | "legacy";
  tag?: string;
  referrer?: string;
  repository?: string;
  unchanged: boolean;
}
interface PushJson {
  version: string;
  digest: string;
  images?: Record<string, string>;
  signature?: SignatureJson;
  imageSignatures?: Record<string, SignatureJson>;
}
interface VerifyJson {
  ok: boolean;
  images?: { name: string; image: string; ok: boolean; format?: string; reason?: string }[];
}

describe(
  "--sign-key signs the pinned images; verify checks them; cosign agrees",
  {
    timeout: 600_000,
  },
  () => {
    let engine: TestEngine;
    let registry: LabRegistry;
    let project: string;
    let cosign2: string;
    let cosign3: string;

    const ksail = (...args: string[]) =>
      runKsail(args, {
        cwd: project,
        env: { DOCKER_HOST: engine.dockerHost, COSIGN_PASSWORD: PASSWORD },
      });
    const show = (r: { code: number | null; stdout: string; stderr: string }) =>
      `exit ${r.code}\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
    /** `localhost:<port>/web@sha256:…` (as the cluster pulls it) → the registry's own address. */
    const onRegistry = (image: string) =>
      `${registry.registry}/web${image.slice(image.indexOf("@"))}`;
    const cosignVerify = (binary: string, pub: string, image: string): Promise<CosignRun> =>
      runCosign(
        binary,
        [
          "verify",
          "--key",
          pub,
          "--insecure-ignore-tlog=true",
          "--allow-http-registry",
          "--allow-insecure-registry",
          "--output",
          "json",
          onRegistry(image),
        ],
        { home: project },
      );
    /** The digest cosign says its verified signature covers. */
    const signedDigest = (run: CosignRun) =>
      (
        JSON.parse(run.stdout) as { critical: { image: { "docker-manifest-digest": string } } }[]
      )[0]!.critical.image["docker-manifest-digest"];

    before(async () => {
      // Missing peers fail here with their build commands.
      cosign2 = cosignBinary();
      cosign3 = cosign3Binary();
      [engine, registry] = await Promise.all([startDockerEngine(), startRegistry()]);
      project = await mkdtemp(join(tmpdir(), "ksail-images-sign-"));
      mkdirSync(join(project, "k8s"));
      writeFileSync(join(project, "k8s", "deploy.yaml"), appDeployment());
      writeAppContext("signed v1", {}, join(project, "web"));
      writeFileSync(
        join(project, "ksail.yaml"),
        `apiVersion: ksail.dev/v1alpha1
kind: Cluster
metadata:
  name: signed
spec:
  localRegistry: Enabled
  options:
    localRegistry:
      hostPort: ${registry.registry.split(":")[1]}
  images:
    - name: web
      context: ./web
`,
      );
      for (const dir of ["keys", "other"]) {
        const keygen = await ksail("workload", "keygen", "--output-dir", dir);
        assert.equal(keygen.code, 0, show(keygen));
      }
    });
    after(async () => {
      await Promise.allSettled([engine?.stop(), registry?.stop()]);
      if (project) await rm(project, { recursive: true, force: true });
    });

    let legacyImage = "";

    test("legacy: push --sign-key signs the image's digest with a .sig tag; cosign v2 verifies it", async () => {
      const run = await ksail(
        "workload",
        "push",
        "--sign-key",
        "keys/cosign.key",
        "--signature-format",
        "legacy",
        "-o",
        "json",
      );
      assert.equal(run.code, 0, show(run));
      const pushed = json<PushJson>(run);
      legacyImage = pushed.images?.web ?? "";
      const digest = legacyImage.slice(legacyImage.indexOf("@") + 1);
      assert.match(digest, /^sha256:[0-9a-f]{64}$/);
      const signature = pushed.imageSignatures?.web;
      assert.equal(signature?.repository, `${registry.registry}/web`);
      assert.equal(signature?.format, "legacy");
      assert.equal(signature?.tag, `sha256-${digest.slice("sha256:".length)}.sig`);
      assert.equal(signature?.unchanged, false);

      const oracle = await cosignVerify(cosign2, "keys/cosign.pub", legacyImage);
      assert.equal(oracle.code, 0, show(oracle));
      assert.equal(signedDigest(oracle), digest);
      const wrongKey = await cosignVerify(cosign2, "other/cosign.pub", legacyImage);
      assert.notEqual(wrongKey.code, 0, show(wrongKey));

      const verify = await ksail("workload", "verify", "--key", "keys/cosign.pub", "-o", "json");
      assert.equal(verify.code, 0, show(verify));
      const result = json<VerifyJson>(verify);
      assert.equal(result.ok, true);
      assert.deepEqual(
        result.images?.map((i) => [i.name, i.image, i.ok, i.format]),
        [["web", legacyImage, true, "legacy"]],
      );
    });

    let bundleImage = "";

    test("bundle: after a code change, push signs the new image with a cosign bundle; cosign v3 verifies it", async () => {
      writeFileSync(join(project, "web", "www", "index.html"), "signed v2\n");
      const run = await ksail("workload", "push", "--sign-key", "keys/cosign.key", "-o", "json");
      assert.equal(run.code, 0, show(run));
      const pushed = json<PushJson>(run);
      bundleImage = pushed.images?.web ?? "";
      assert.notEqual(bundleImage, legacyImage, "a new digest");
      assert.equal(pushed.imageSignatures?.web?.format, "bundle");
      assert.match(pushed.imageSignatures?.web?.referrer ?? "", /^sha256:[0-9a-f]{64}$/);

      const oracle = await cosignVerify(cosign3, "keys/cosign.pub", bundleImage);
      assert.equal(oracle.code, 0, show(oracle));
      assert.equal(signedDigest(oracle), bundleImage.slice(bundleImage.indexOf("@") + 1));
      const wrongKey = await cosignVerify(cosign3, "other/cosign.pub", bundleImage);
      assert.notEqual(wrongKey.code, 0, show(wrongKey));

      const verify = await ksail("workload", "verify", "--key", "keys/cosign.pub");
      assert.equal(verify.code, 0, show(verify));
      assert.match(
        verify.stdout,
        new RegExp(
          `^verified image web \\(${bundleImage.replace(/[.]/g, "\\.")}\\): cosign bundle ${pushed.imageSignatures!.web!.referrer}$`,
          "m",
        ),
      );
      // Another key verifies neither the version nor its image.
      const other = await ksail("workload", "verify", "--key", "other/cosign.pub", "-o", "json");
      assert.equal(other.code, 1, show(other));
      assert.deepEqual(
        json<VerifyJson>(other).images?.map((i) => [i.name, i.ok]),
        [["web", false]],
      );
    });

    test("a version pushed without a key: verify fails (exit 1) for the version and names the unsigned image; cosign agrees", async () => {
      writeFileSync(join(project, "web", "www", "index.html"), "unsigned v3\n");
      const plain = await ksail("workload", "push", "-o", "json");
      assert.equal(plain.code, 0, show(plain));
      const pushed = json<PushJson>(plain);
      assert.equal(pushed.imageSignatures, undefined);
      const image = pushed.images?.web ?? "";
      assert.notEqual(image, bundleImage, "a new digest");
      const unsigned = await cosignVerify(cosign3, "keys/cosign.pub", image);
      assert.notEqual(unsigned.code, 0, `cosign calls it unsigned too:\n${show(unsigned)}`);

      const verify = await ksail("workload", "verify", "--key", "keys/cosign.pub");
      assert.equal(verify.code, 1, show(verify));
      assert.match(verify.stderr, /✗ latest \(sha256:[0-9a-f]{64}\) is not signed/);
      assert.match(
        verify.stderr,
        /✗ image web: sha256:[0-9a-f]{64} \(sha256:[0-9a-f]{64}\) is not signed/,
      );
      // The signed version before it still verifies, image included.
      const earlier = await ksail("workload", "verify", "0.0.2", "--key", "keys/cosign.pub");
      assert.equal(earlier.code, 0, show(earlier));
      assert.match(earlier.stdout, /^verified image web /m);
    });

    test("watch --sign-key: a code change pushes a version whose new image is signed too; cosign v3 verifies it", async () => {
      const watch = startWatch({
        project,
        args: ["--no-reconcile", "--sign-key", "keys/cosign.key"],
        env: { DOCKER_HOST: engine.dockerHost, COSIGN_PASSWORD: PASSWORD },
      });
      try {
        await watch.cycle(1, 120_000);
        writeFileSync(join(project, "web", "www", "index.html"), "watched v4\n");
        const cycle = await watch.cycle(2, 120_000);
        assert.equal(cycle.outcome, "pushed", watch.describe());
        assert.deepEqual(cycle.built, ["web"], watch.describe());
        assert.match(cycle.imageSignatures?.web ?? "", /^sha256:[0-9a-f]{64}$/, watch.describe());
      } finally {
        const stopped = await watch.stop("SIGINT");
        assert.equal(stopped.exitCode, 0, watch.describe());
      }
      const versions = await ksail("workload", "versions", "-o", "json");
      const latest = json<{ items: { images?: Record<string, string> }[] }>(versions).items.at(-1);
      const image = latest?.images?.web ?? "";
      const oracle = await cosignVerify(cosign3, "keys/cosign.pub", image);
      assert.equal(oracle.code, 0, show(oracle));
      assert.equal(signedDigest(oracle), image.slice(image.indexOf("@") + 1));
    });
  },
);
