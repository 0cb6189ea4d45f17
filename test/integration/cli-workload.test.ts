/**
 * The workload commands end to end: the built CLI as a process, against a real distribution
 * registry started for this file (lab/registry.ts).
 */
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { startRegistry } from "../../lab/registry.js";
import { json, runKsail } from "../../lab/ksail.js";

type Lab = Awaited<ReturnType<typeof startRegistry>>;

const configMap = (name: string, value: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  value: "${value}"
`;

describe("ksail init + workload push/versions/pull/diff against a real registry", () => {
  let lab: Lab;
  let project: string;
  const client = new RegistryClient();

  before(async () => {
    lab = await startRegistry();
    project = await mkdtemp(join(tmpdir(), "ksail-cli-"));
  });
  after(async () => {
    await lab?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  const port = () => lab.registry.split(":")[1] as string;
  const repo = () => ({ registry: lab.registry, repository: "demo" });
  const ksail = (...args: string[]) => runKsail(args, { cwd: project });

  it("init writes the project and refuses to overwrite without --force", async () => {
    const first = await ksail(
      "init",
      "--name",
      "demo",
      "--gitops-engine",
      "Flux",
      "--registry-port",
      port(),
      "-o",
      "json",
    );
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      json<{ files: { path: string }[] }>(first).files.map((f) => f.path),
      ["ksail.yaml", "kind.yaml", ".ksail/ksail.schema.json", "k8s/"],
    );
    const ksailYaml = await readFile(join(project, "ksail.yaml"), "utf8");
    assert.match(ksailYaml, /gitOpsEngine: Flux/);
    assert.match(ksailYaml, /localRegistry: Enabled/);
    assert.match(ksailYaml, new RegExp(`hostPort: ${port()}`));
    assert.match(
      await readFile(join(project, "kind.yaml"), "utf8"),
      /config_path = "\/etc\/containerd\/certs\.d"/,
    );

    await writeFile(join(project, "ksail.yaml"), `${ksailYaml}# edited\n`);
    const again = await ksail("init", "--name", "demo");
    assert.equal(again.code, 7);
    assert.match(
      again.stderr,
      // k8s/ is the user's: never a reason to refuse, never overwritten (issue 11).
      /refusing to overwrite existing ksail\.yaml, kind\.yaml in /,
    );
    assert.match(again.stderr, /--force/);
    assert.match(await readFile(join(project, "ksail.yaml"), "utf8"), /# edited/);

    const forced = await ksail(
      "init",
      "--name",
      "demo",
      "--gitops-engine",
      "Flux",
      "--registry-port",
      port(),
      "--force",
    );
    assert.equal(forced.code, 0, forced.stderr);
    // --force patches ksail's settings in; the user's comments stay (issue 21).
    assert.match(await readFile(join(project, "ksail.yaml"), "utf8"), /# edited/);
  });

  it("push validates, uploads the blobs, tags the next patch version and latest", async () => {
    await writeFile(join(project, "k8s", "app.yaml"), configMap("app", "one"));
    await writeFile(
      join(project, "k8s", "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - app.yaml\n",
    );
    const run = await ksail("workload", "push", "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    const result = json(run);
    assert.equal(result.version, "0.0.1");
    assert.equal(result.repository, `${lab.registry}/demo`);
    assert.deepEqual(result.blobs, { uploaded: 2, existing: 0, mounted: 0 });
    assert.equal(result.unchanged, false);
    assert.match(run.stderr, /✓ Validated manifests/);
    assert.match(run.stderr, /✓ Pushed .*demo:0\.0\.1 \(\d+(ms|\.\ds)\)/);
    assert.deepEqual((await client.listTags(repo())).sort(), ["0.0.1", "latest"]);
    assert.equal((await client.resolve(repo(), "latest"))?.digest, result.digest);
  });

  it("pushing unchanged content uploads nothing and says so", async () => {
    const run = await ksail("workload", "push", "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    const result = json(run);
    assert.equal(result.unchanged, true);
    assert.equal(result.version, "0.0.1");
    assert.deepEqual(result.blobs, { uploaded: 0, existing: 0, mounted: 0 });
    assert.match(run.stderr, /No changes since 0\.0\.1/);
    assert.deepEqual((await client.listTags(repo())).sort(), ["0.0.1", "latest"]);

    const tagged = await ksail("workload", "push", "--version", "0.0.1", "-o", "json");
    assert.equal(tagged.code, 0, tagged.stderr);
    assert.equal(json(tagged).unchanged, true);
  });

  it("an explicit version that exists with other content is refused (versions are immutable)", async () => {
    await writeFile(join(project, "k8s", "app.yaml"), configMap("app", "two"));
    const run = await ksail("workload", "push", "--version", "0.0.1");
    assert.equal(run.code, 7);
    assert.match(run.stderr, /version 0\.0\.1 of .*demo already exists with other content/);
  });

  it("a changed directory becomes the next version", async () => {
    const run = await ksail("workload", "push", "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    const result = json(run);
    assert.equal(result.version, "0.0.2");
    // The Flux config blob names the layer's diff_id, so both blobs are new.
    assert.deepEqual(result.blobs, { uploaded: 2, existing: 0, mounted: 0 });
    const both = await ksail("workload", "push", "--bump", "minor", "--version", "1.0.0");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--version and --bump cannot be used together/);
  });

  it("versions lists every version with metadata, in semver order", async () => {
    const run = await ksail("workload", "versions", "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    const versions = json<{
      items: {
        version: string;
        latest: boolean;
        digest: string;
        source: string;
        revision: string;
      }[];
    }>(run).items;
    assert.deepEqual(
      versions.map((v) => [v.version, v.latest]),
      [
        ["0.0.1", false],
        ["0.0.2", true],
      ],
    );
    assert.equal(versions[0]!.source, join(project, "k8s"));
    assert.match(versions[0]!.revision, /^sha256:[0-9a-f]{64}$/);
    // Within 100 columns by default (issue 21.7); every column with -o wide.
    const table = await ksail("workload", "versions");
    assert.match(
      table.stdout,
      /^VERSION\s+DIGEST\s+AGE\s+SIZE\s+SIGNED\n0\.0\.1 .*\n0\.0\.2 \(latest\) +sha256:[0-9a-f]{12} +\d+s +\d+ B +no\n$/,
    );
    for (const line of table.stdout.split("\n")) assert.ok(line.length <= 100, line);
    const wide = await ksail("workload", "versions", "-o", "wide");
    assert.match(
      wide.stdout,
      /^VERSION\s+DIGEST\s+AGE\s+SIZE\s+SIGNED\s+CREATED\s+SOURCE\s+REVISION\n0\.0\.1 .*\n0\.0\.2 \(latest\)/,
    );
  });

  it("pull extracts a version byte for byte and refuses a non-empty destination", async () => {
    const dest = join(project, "pulled");
    const run = await ksail("workload", "pull", "0.0.1", "--dest", dest, "-o", "json");
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(dest)).sort(), ["app.yaml", "kustomization.yaml"]);
    assert.equal(await readFile(join(dest, "app.yaml"), "utf8"), configMap("app", "one"));
    const again = await ksail("workload", "pull", "0.0.1", "--dest", dest);
    assert.equal(again.code, 7, again.stderr);
    assert.equal(await readFile(join(dest, "app.yaml"), "utf8"), configMap("app", "one"));
  });

  it("diff exits 1 naming the changed objects when the directory differs, 0 when it matches", async () => {
    const same = await ksail("workload", "diff");
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /no object changes between latest and /);
    const objects = await ksail("workload", "diff", "0.0.1");
    assert.equal(objects.code, 1, objects.stderr);
    assert.match(
      objects.stdout,
      /^ConfigMap app changed\n {4}data:\n- {5}value: one\n\+ {5}value: two$/m,
    );
    const asJson = await ksail("workload", "diff", "0.0.1", "-o", "json");
    assert.equal(asJson.code, 1, asJson.stderr);
    assert.deepEqual(json<{ items: unknown[] }>(asJson).items, [
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: "",
        name: "app",
        change: "changed",
        fields: [{ path: "data.value", before: "one", after: "two" }],
      },
    ]);
  });

  it("diff --files exits 1 with a unified diff per changed file", async () => {
    const same = await ksail("workload", "diff", "--files");
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /no differences/);
    const old = await ksail("workload", "diff", "0.0.1", "--files");
    assert.equal(old.code, 1, old.stderr);
    assert.match(
      old.stdout,
      /--- a\/app\.yaml\t0\.0\.1\n\+\+\+ b\/app\.yaml\tlocal\n@@ -2,5 \+2,5 @@\n kind: ConfigMap\n/,
    );
    assert.match(old.stdout, /^- {2}value: "one"$/m);
    assert.match(old.stdout, /^\+ {2}value: "two"$/m);
  });

  it("a missing version is a not-found error (exit 6)", async () => {
    const run = await ksail("workload", "pull", "9.9.9", "--dest", join(project, "nothing"));
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /9\.9\.9/);
  });

  it("--registry and --path work without a ksail.yaml", async () => {
    const bare = await mkdtemp(join(tmpdir(), "ksail-bare-"));
    try {
      await mkdir(join(bare, "manifests"));
      await writeFile(join(bare, "manifests", "cm.yaml"), configMap("bare", "x"));
      const run = await runKsail(
        [
          "workload",
          "push",
          "--registry",
          `oci://${lab.registry}/team/bare`,
          "--path",
          "manifests",
          "--version",
          "2.0.0",
          "-o",
          "json",
        ],
        { cwd: bare },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(json(run).repository, `${lab.registry}/team/bare`);
      const noConfig = await runKsail(["workload", "push"], { cwd: bare });
      assert.equal(noConfig.code, 8);
      assert.match(noConfig.stderr, /no ksail\.yaml found/);
      assert.match(noConfig.stderr, /ksail init/);
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });

  it("an invalid directory is refused with file and line, and nothing reaches the registry", async () => {
    const bad = join(project, "bad");
    await cp(join(project, "k8s"), bad, { recursive: true });
    await writeFile(
      join(bad, "broken.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n",
    );
    // Listed in the kustomization, so Flux would read it (an unlisted file is never applied).
    await writeFile(
      join(bad, "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - app.yaml\n  - broken.yaml\n",
    );
    const run = await ksail(
      "workload",
      "push",
      "--path",
      bad,
      "--registry",
      `oci://${lab.registry}/never`,
    );
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /nothing was pushed/);
    assert.match(run.stderr, /broken\.yaml:\d+/);
    assert.deepEqual(await client.listTags({ registry: lab.registry, repository: "never" }), []);
  });

  it("--reproducible gives the same manifest digest for the same directory, with no created time; --created sets it", async () => {
    const bare = await mkdtemp(join(tmpdir(), "ksail-repro-"));
    try {
      await writeFile(join(bare, "cm.yaml"), configMap("repro", "x"));
      const push = (repository: string, ...extra: string[]) =>
        runKsail(
          [
            "workload",
            "push",
            "--registry",
            `oci://${lab.registry}/${repository}`,
            "--path",
            ".",
          ].concat(extra, ["-o", "json"]),
          { cwd: bare },
        );
      const a = await push("repro/a", "--reproducible");
      const b = await push("repro/b", "--reproducible");
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(json(a).digest, json(b).digest);
      assert.equal(json(a).created, undefined);
      const manifest = JSON.parse(
        (
          await client.fetchManifest({ registry: lab.registry, repository: "repro/a" }, "0.0.1")
        ).bytes.toString("utf8"),
      ) as { annotations: Record<string, string> };
      assert.equal(manifest.annotations["org.opencontainers.image.created"], undefined);

      const stamped = await push("repro/c", "--created", "2026-01-31T12:00:00Z");
      assert.equal(stamped.code, 0, stamped.stderr);
      assert.equal(json(stamped).created, "2026-01-31T12:00:00Z");
      assert.notEqual(json(stamped).digest, json(a).digest);

      const both = await push("repro/d", "--created", "2026-01-31T12:00:00Z", "--reproducible");
      assert.equal(both.code, 2, both.stderr);
      const bad = await push("repro/d", "--created", "yesterday");
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /RFC 3339/);
      assert.deepEqual(
        await client.listTags({ registry: lab.registry, repository: "repro/d" }),
        [],
      );
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});
