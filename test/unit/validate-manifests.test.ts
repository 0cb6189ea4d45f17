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
} from "../lab/invalid-corpus.js";

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
