/**
 * Artifact history on a real distribution registry (lab/registry.ts): object-level diffs between
 * pushed versions and the local directory, the nearest versions of a missing one, the
 * ksail-pinned tag that a rollback leaves (prune keeps its version; resume removes only the tag),
 * and the peer check: ksail's "no change" against `flux diff artifact`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fluxBinary } from "../../lab/flux-build.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { KsailError } from "../../src/errors.js";
import { RegistryClient } from "../../src/oci/client.js";
import { silentProgress } from "../../src/progress.js";
import { diffSources } from "../../src/workload/diff.js";
import { PINNED_TAG, pinnedVersion, tagPinned, untagPinned } from "../../src/workload/pin-tag.js";
import { pruneWorkload } from "../../src/workload/prune.js";
import { pushWorkload } from "../../src/workload/push.js";

const configMap = (greeting: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  greeting: ${JSON.stringify(greeting)}
`;

const deployment = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
`;

/** The same objects as version 1, reformatted: key order, comments, one multi-document file. */
const reformatted = `# everything in one file now
kind: ConfigMap
apiVersion: v1
data: {greeting: "hello"}
metadata: {namespace: default, name: settings}
---
kind: Deployment
apiVersion: apps/v1
metadata:
  namespace: default
  name: web
spec:
  template:
    spec:
      containers:
        - image: "nginx:1.25"
          name: web
    metadata:
      labels: {app: web}
  selector:
    matchLabels: {app: web}
  replicas: 1
`;

describe("artifact history on a real registry", () => {
  let registry: LabRegistry;
  let work: string;
  const client = new RegistryClient();
  const repository = () => ({ registry: registry.registry, repository: "history" });
  const dir = (name: string) => join(work, name);

  async function writeDir(name: string, files: Record<string, string>): Promise<string> {
    await mkdir(dir(name), { recursive: true });
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(dir(name), path, ".."), { recursive: true });
      await writeFile(join(dir(name), path), text);
    }
    return dir(name);
  }

  const push = (name: string, version: string) =>
    pushWorkload(
      { client },
      { repository: repository(), sourceDir: dir(name), version, reproducible: true },
      silentProgress,
    );

  before(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "ksail-history-"));
    await writeDir("v1", {
      "app/settings.yaml": configMap("hello"),
      "app/web.yaml": deployment(1),
    });
    await writeDir("v2", { "all.yaml": reformatted });
    await writeDir("v3", {
      "all.yaml": reformatted.replace("replicas: 1", "replicas: 3"),
      "extra.yaml": configMap("extra").replace("name: settings", "name: extra"),
    });
    for (const [name, version] of [
      ["v1", "0.0.1"],
      ["v2", "0.0.2"],
      ["v3", "0.0.3"],
    ] as const) {
      await push(name, version);
    }
  });
  after(async () => {
    client.close();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reports reformatted, regrouped objects as no change between two versions", async () => {
    const result = await diffSources(
      { client },
      { repository: repository(), from: { version: "0.0.1" }, to: { version: "0.0.2" } },
    );
    assert.equal(result.identical, false);
    assert.deepEqual(result.items, []);
    assert.equal(result.unchanged, 2);
    assert.match(result.from.digest ?? "", /^sha256:/);
  });

  it("names changed and added objects with their changed fields between two versions", async () => {
    const result = await diffSources(
      { client },
      { repository: repository(), from: { version: "0.0.1" }, to: { version: "0.0.3" } },
    );
    assert.deepEqual(
      result.items.map((i) => ({
        kind: i.kind,
        namespace: i.namespace,
        name: i.name,
        change: i.change,
        fields: i.fields,
      })),
      [
        { kind: "ConfigMap", namespace: "default", name: "extra", change: "added", fields: [] },
        {
          kind: "Deployment",
          namespace: "default",
          name: "web",
          change: "changed",
          fields: [{ path: "spec.replicas", before: 1, after: 3 }],
        },
      ],
    );
  });

  it("compares a version with the local directory and `latest` with a version", async () => {
    const local = await diffSources(
      { client },
      { repository: repository(), from: { version: "0.0.3" }, to: { directory: dir("v3") } },
    );
    assert.equal(local.identical, true);
    assert.deepEqual(local.items, []);
    const latest = await diffSources(
      { client },
      { repository: repository(), from: { version: undefined }, to: { version: "0.0.2" } },
    );
    assert.equal(latest.from.label, "latest");
    assert.deepEqual(
      latest.items.map((i) => `${i.change} ${i.kind} ${i.name}`),
      ["removed ConfigMap extra", "changed Deployment web"],
    );
  });

  it("refuses a missing version with exit 6, naming the nearest versions", async () => {
    await assert.rejects(
      diffSources(
        { client },
        { repository: repository(), from: { version: "0.0.9" }, to: { version: "0.0.1" } },
      ),
      (error: unknown) =>
        error instanceof KsailError &&
        error.kind === "not-found" &&
        /version 0\.0\.9 not found in .*\/history; newest: 0\.0\.3 \(latest\); nearest: 0\.0\.1, 0\.0\.2, 0\.0\.3/.test(
          error.message,
        ),
    );
  });

  it("keeps the pinned version in a prune, and removes only the tag on resume", async () => {
    const first = await client.resolve(repository(), "0.0.1");
    await tagPinned(client, repository(), first!.digest);
    assert.deepEqual(await pinnedVersion(client, repository()), {
      digest: first!.digest,
      versions: ["0.0.1"],
    });
    const dry = await pruneWorkload(
      { client },
      { repository: repository(), keep: 1, dryRun: true },
      silentProgress,
    );
    assert.deepEqual(
      dry.kept.map((k) => [k.version, k.reason]),
      [
        ["0.0.1", "pinned"],
        ["0.0.3", "newest"],
      ],
    );
    assert.deepEqual(
      dry.deleted.map((v) => v.version),
      ["0.0.2"],
    );
    // Debian's distribution 2.8 cannot delete a tag alone: the tag is moved away and dropped.
    await untagPinned(client, repository());
    assert.equal(await client.tagDigest(repository(), PINNED_TAG), undefined);
    assert.equal((await client.resolve(repository(), "0.0.1"))?.digest, first!.digest);
    assert.equal(await pinnedVersion(client, repository()), undefined);
  });

  it("agrees with `flux diff artifact` on Flux's own artifacts: no change when byte-equal, object-equal beyond it", async () => {
    const flux = fluxBinary();
    const fluxRun = (args: string[]) =>
      new Promise<{ code: number; output: string }>((resolve) => {
        execFile(flux, args, { timeout: 60_000 }, (error, stdout, stderr) =>
          resolve({
            code: error ? ((error as { code?: number }).code ?? 1) : 0,
            output: `${stdout}${stderr}`,
          }),
        );
      });
    // Flux's checksum compares its own build of the directory with the pulled layer, so the
    // artifacts of this check are pushed by `flux push artifact`.
    const fluxRepository = { registry: registry.registry, repository: "history-flux" };
    const url = (version: string) => `oci://${registry.registry}/history-flux:${version}`;
    for (const [name, version] of [
      ["v1", "0.0.1"],
      ["v3", "0.0.3"],
    ] as const) {
      const pushed = await fluxRun([
        "push",
        "artifact",
        url(version),
        `--path=${dir(name)}`,
        "--source=test",
        "--revision=test",
        "--insecure-registry",
      ]);
      assert.equal(pushed.code, 0, pushed.output);
    }
    const fluxDiff = (version: string, path: string) =>
      fluxRun(["diff", "artifact", url(version), `--path=${path}`, "--insecure-registry"]);
    const ksailDiff = (version: string, path: string) =>
      diffSources(
        { client },
        { repository: fluxRepository, from: { version }, to: { directory: path } },
      );
    // Byte-equal: both say no change.
    const same = await fluxDiff("0.0.3", dir("v3"));
    assert.equal(same.code, 0, same.output);
    const ours = await ksailDiff("0.0.3", dir("v3"));
    assert.equal(ours.identical, true);
    assert.deepEqual(ours.items, []);
    // Reformatted (one file, other key order, comments): Flux's checksum differs, no object does.
    const copy = join(work, "v2-copy");
    await cp(dir("v2"), copy, { recursive: true });
    const reformatted = await fluxDiff("0.0.1", copy);
    assert.equal(reformatted.code, 1, reformatted.output);
    const objects = await ksailDiff("0.0.1", copy);
    assert.equal(objects.identical, false);
    assert.deepEqual(objects.items, []);
    // A real change: both say so.
    const changed = await fluxDiff("0.0.1", dir("v3"));
    assert.equal(changed.code, 1, changed.output);
    assert.equal((await ksailDiff("0.0.1", dir("v3"))).items.length, 2);
  });
});
