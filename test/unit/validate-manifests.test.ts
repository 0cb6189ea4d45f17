import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import { validateSource } from "../../src/validate/manifests.js";
import { firstInvalidUtf8 } from "../../src/validate/text.js";
import {
  invalidDir,
  loadCorpus,
  materializeCase,
  validDir,
  type CorpusCase,
} from "../../lab/invalid-corpus.js";

const corpus = { cases: await loadCorpus() };

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

async function materialize(name: string, spec: CorpusCase): Promise<string> {
  const dir = await materializeCase(name, spec);
  temps.push(dir);
  return dir;
}

describe("invalid source corpus (test/fixtures/invalid)", () => {
  it("has at least 20 cases, each with a folder or generated files", () => {
    const names = Object.keys(corpus.cases);
    assert.ok(names.length >= 20, `only ${names.length} cases`);
    for (const name of names) {
      const spec = corpus.cases[name]!;
      assert.ok(spec.issues.length > 0, `${name} expects no issue`);
      if (name !== "empty") {
        assert.ok(
          existsSync(join(invalidDir, name)) || (spec.generate ?? []).length > 0,
          `${name} has neither a folder nor generated files`,
        );
      }
    }
  });

  for (const [name, spec] of Object.entries(corpus.cases)) {
    it(`${name} gives exactly its expected issues`, async () => {
      const dir = await materialize(name, spec);
      const { files } = await listSourceFiles(dir);
      const issues = await validateSource(dir, files);
      assert.equal(
        issues.length,
        spec.issues.length,
        `${name}: got ${JSON.stringify(issues, null, 2)}`,
      );
      spec.issues.forEach((expected, i) => {
        const actual = issues[i]!;
        assert.equal(actual.file, expected.file, `${name}[${i}].file`);
        assert.equal(actual.rule, expected.rule, `${name}[${i}].rule`);
        assert.equal(actual.line, expected.line, `${name}[${i}].line`);
        assert.ok(
          actual.message.includes(expected.message),
          `${name}[${i}].message ${JSON.stringify(actual.message)} lacks ${JSON.stringify(expected.message)}`,
        );
      });
    });
  }

  it("every folder under test/fixtures/invalid is a listed case", async () => {
    const { readdir } = await import("node:fs/promises");
    const entries = await readdir(invalidDir, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.isDirectory())
        assert.ok(entry.name in corpus.cases, `${entry.name} not in expected.json`);
    }
  });
});

describe("valid sources (test/fixtures/valid)", () => {
  for (const name of ["plain", "kustomize", "flux-layout"]) {
    it(`${name} has no issues`, async () => {
      const dir = join(validDir, name);
      const { files } = await listSourceFiles(dir);
      assert.ok(files.length > 0);
      assert.deepEqual(await validateSource(dir, files), []);
    });
  }
});

describe("validateSource options and details", () => {
  it("honours maxFileSize", async () => {
    const dir = join(validDir, "plain");
    const { files } = await listSourceFiles(dir);
    const issues = await validateSource(dir, files, { maxFileSize: 64 });
    assert.ok(issues.length > 0);
    assert.ok(issues.every((i) => i.rule === "file-too-large"));
  });

  it("sorts issues by file then line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-validate-"));
    temps.push(dir);
    await writeFile(
      join(dir, "b.yaml"),
      "kind: A\nmetadata: {name: x}\n---\nkind: B\nmetadata: {name: y}\n",
    );
    await writeFile(join(dir, "a.yaml"), "apiVersion: v1\nkind: A\n");
    const { files } = await listSourceFiles(dir);
    const issues = await validateSource(dir, files);
    assert.deepEqual(
      issues.map((i) => `${i.file}:${i.line}:${i.rule}`),
      ["a.yaml:1:missing-field", "b.yaml:1:missing-field", "b.yaml:4:missing-field"],
    );
  });

  it("does not treat a base object and its overlay patch as duplicates", async () => {
    const dir = join(validDir, "flux-layout");
    const { files } = await listSourceFiles(dir);
    assert.deepEqual(await validateSource(dir, files), []);
  });

  it("reports objects with the same name in different namespaces or groups as distinct", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-validate-"));
    temps.push(dir);
    const cm = (ns: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: ${ns}\n`;
    await writeFile(join(dir, "a.yaml"), `${cm("a")}---\n${cm("b")}`);
    await writeFile(
      join(dir, "b.yaml"),
      "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: a\n",
    );
    const { files } = await listSourceFiles(dir);
    assert.deepEqual(await validateSource(dir, files), []);
  });

  it("finds the first invalid UTF-8 byte", () => {
    assert.equal(firstInvalidUtf8(Buffer.from("héllo ✓ 𝄞", "utf8")), -1);
    assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0xc3])), 1); // truncated sequence
    assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80])), 1); // surrogate
    assert.equal(firstInvalidUtf8(Buffer.from([0xc0, 0x80])), 0); // overlong
  });
});

describe("validation follows what Flux builds", () => {
  const kz = (body: string) =>
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;
  const cm = (name: string, ns?: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ""}`;
  async function run(tree: Record<string, string>) {
    const dir = await mkdtemp(join(tmpdir(), "ksail-validate-"));
    temps.push(dir);
    const { mkdir } = await import("node:fs/promises");
    const { dirname } = await import("node:path");
    for (const [path, text] of Object.entries(tree)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const warnings: { file: string; rule: string; message: string }[] = [];
    const issues = await validateSource(dir, (await listSourceFiles(dir)).files, { warnings });
    return {
      issues: issues.map((i) => `${i.file}:${i.line ?? ""}:${i.rule}`),
      warnings: warnings.map((w) => `${w.file}:${w.rule}`),
      messages: issues.map((i) => i.message),
    };
  }

  it("applies each kustomization's namespace, namePrefix and nameSuffix before judging duplicates", async () => {
    for (const [field, other] of [
      ["namespace: a", "namespace: b"],
      ["namePrefix: a-", "namePrefix: b-"],
      ["nameSuffix: -a", "nameSuffix: -b"],
    ]) {
      const result = await run({
        "kustomization.yaml": kz("resources: [one, two]\n"),
        "one/kustomization.yaml": kz(`${field}\nresources: [cm.yaml]\n`),
        "one/cm.yaml": cm("settings"),
        "two/kustomization.yaml": kz(`${other}\nresources: [cm.yaml]\n`),
        "two/cm.yaml": cm("settings"),
      });
      assert.deepEqual(result.issues, [], field);
    }
  });

  it("counts a missing namespace as default, and a cluster-scoped kind keeps none", async () => {
    const result = await run({ "a.yaml": cm("x"), "b.yaml": cm("x", "default") });
    assert.deepEqual(result.issues, ["a.yaml:1:duplicate-object", "b.yaml:1:duplicate-object"]);
    const role =
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n";
    const scoped = await run({
      "kustomization.yaml": kz("resources: [one, two]\n"),
      "one/kustomization.yaml": kz("namespace: a\nresources: [r.yaml]\n"),
      "one/r.yaml": role,
      "two/kustomization.yaml": kz("namespace: b\nresources: [r.yaml]\n"),
      "two/r.yaml": role,
    });
    assert.deepEqual(scoped.issues, [
      "one/r.yaml:1:duplicate-object",
      "two/r.yaml:1:duplicate-object",
    ]);
  });

  it("reads only what the root kustomization reaches, and warns about manifests it leaves out", async () => {
    const result = await run({
      "kustomization.yaml": kz("resources: [app.yaml]\n"),
      "app.yaml": cm("a"),
      "chart/values.yaml": "replicaCount: 2\n",
      ".github/workflows/ci.yml": "on: [push]\njobs: {}\n",
      "old/app.yaml": cm("a"),
    });
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.warnings, ["old/app.yaml:not-applied"]);
  });

  it("without a root kustomization, takes *.yaml and *.yml files only, as Flux's generator does", async () => {
    const result = await run({
      "app.yaml": cm("a"),
      "extra.json": JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "b" },
      }),
      "package.json": '{"name": "x"}',
      "values.yaml": "replicaCount: 2\n",
    });
    assert.deepEqual(result.issues, [
      "values.yaml:1:missing-field",
      "values.yaml:1:missing-field",
      "values.yaml:1:missing-field",
    ]);
    assert.deepEqual(result.warnings, ["extra.json:not-applied"]);
  });

  it("refuses cycles, helmCharts, Components as resources and generateName alone, at their lines", async () => {
    const result = await run({
      "kustomization.yaml": kz(
        "resources:\n  - .\n  - a\n  - comp\n  - pod.yaml\nhelmCharts:\n  - name: x\n",
      ),
      "a/kustomization.yaml": kz("resources: [../b]\n"),
      "b/kustomization.yaml": kz("resources: [../a]\n"),
      "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
      "pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: p-\n",
    });
    assert.deepEqual(result.issues, [
      "b/kustomization.yaml:3:kustomization-cycle",
      "kustomization.yaml:4:kustomization-cycle",
      "kustomization.yaml:6:kustomization-kind",
      "kustomization.yaml:8:kustomization-helm",
      "pod.yaml:4:generate-name",
    ]);
  });

  it("refuses a YAML alias bomb and accepts ordinary anchors", async () => {
    const levels = ["  a: &a [x, x, x, x, x, x, x, x, x]"];
    for (const [prev, next] of [..."abcdefgh"].map((c, i) => [c, "bcdefghi"[i]!])) {
      levels.push(`  ${next}: &${next} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const bomb = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n${levels.join("\n")}\n`;
    assert.deepEqual((await run({ "bomb.yaml": bomb })).issues, ["bomb.yaml:1:yaml-alias-bomb"]);
    const anchors = `${cm("a")}  labels: &l {app: a}\n  annotations: *l\n`;
    assert.deepEqual((await run({ "a.yaml": anchors })).issues, []);
  });

  it("names both paths when one object is included twice", async () => {
    const result = await run({
      "kustomization.yaml": kz("resources: [one, two]\n"),
      "base/kustomization.yaml": kz("resources: [cm.yaml]\n"),
      "base/cm.yaml": cm("x"),
      "one/kustomization.yaml": kz("resources: [../base]\n"),
      "two/kustomization.yaml": kz("resources: [../base]\n"),
    });
    assert.deepEqual(result.issues, ["base/cm.yaml:1:duplicate-object"]);
    assert.match(result.messages[0]!, /includes it more than once \(through one and two\)/);
  });
});
