// The plain scanner must never accept what js-yaml refuses, and must find exactly the identities
// fastObjects (js-yaml) finds whenever it accepts a file. The oracle is js-yaml itself, on real
// fixtures, hand-written edge cases and seeded random mutations of plain manifests.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadAll } from "js-yaml";
import { fastObjects } from "../../src/validate/fast-objects.js";
import { scanPlainObjects } from "../../src/validate/plain-scan.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** What js-yaml says: the identities, undefined (needs the exact path), or "error". */
function oracle(text: string) {
  try {
    loadAll(text);
  } catch {
    return "error" as const;
  }
  return fastObjects(text);
}

/** Fails unless the scanner declined the text or agrees with js-yaml. */
function assertAgrees(text: string, label: string): boolean {
  const scanned = scanPlainObjects(text);
  if (scanned === undefined) return false;
  assert.deepEqual(scanned, oracle(text), `${label}:\n${text}`);
  return true;
}

const PLAIN = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: "nginx:1.27"
        args:
          - --port=8080
          - '--log=json'
        env:
        - name: MODE
          value: prod
---
# a comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  config.yaml: |
    key: value
      nested: "quoted: text # not a comment"

    tail: true
  folded: >-
    one
    two
`;

describe("plain scanner", () => {
  it("agrees with js-yaml on every YAML fixture it accepts, and accepts most plain ones", () => {
    let accepted = 0;
    const files = yamlFiles(FIXTURES);
    for (const file of files) if (assertAgrees(readFileSync(file, "utf8"), file)) accepted++;
    assert.ok(accepted > files.length / 3, `accepted only ${accepted} of ${files.length}`);
  });

  it("reads a typical multi-document file the way js-yaml does", () => {
    assert.ok(assertAgrees(PLAIN, "typical"), "the typical file was declined");
    assert.equal(scanPlainObjects(PLAIN)!.length, 2);
  });

  it("declines what only js-yaml can judge, and never accepts what js-yaml refuses", () => {
    const cases = [
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", // flow mapping
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n", // duplicate key
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   x: 1\n", // bad indentation
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n", // tab indentation
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a: b\n", // mapping in a plain scalar
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "a\n', // open quote
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "a\\tb"\n', // escape
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # comment\n", // trailing comment
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 123\n", // not a string
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: true\n", // not a string
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: ''\n", // empty namespace
      "apiVersion: v1\nkind: ConfigMapList\nmetadata:\n  name: x\nitems: []\n", // a List
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n", // no name
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n", // metadata null
      "- apiVersion: v1\n", // not a mapping
      "  apiVersion: v1\n  kind: A\n", // indented root
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: |\n      a\n    b\n", // dedent inside
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n    w\n", // multi-line plain
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  1: x\n  01: y\n", // numeric keys
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n...\n", // document end
      "%YAML 1.2\n---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n", // directive
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\u0001\n", // control character
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n--- x\n", // content after ---
      "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n- a\n  - b\n", // list in list
    ];
    for (const text of cases) {
      assert.equal(scanPlainObjects(text), undefined, `accepted:\n${text}`);
    }
  });

  it("counts documents as js-yaml does (empty ones included)", () => {
    for (const text of [
      "---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n",
      "# lead\n---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n",
      "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\n# only a comment\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n---\n",
      "apiVersion: v1\r\nkind: A\r\nmetadata:\r\n  name: a\r\n  namespace: ~\r\n",
    ]) {
      assert.ok(assertAgrees(text, "documents"), `declined:\n${text}`);
    }
  });

  it("never disagrees with js-yaml on 4,000 random mutations of plain manifests", () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pieces = [
      ":",
      ": ",
      " #",
      "#",
      "-",
      "- ",
      '"',
      "'",
      "\t",
      " ",
      "  ",
      "\n",
      "\n  ",
      "|",
      ">",
      "---",
      "{",
      "[",
      "&a",
      "*a",
      "!",
      "~",
      "null",
      "1",
      "x:",
      "\r",
      "\\",
      "name: z\n",
    ];
    // Mutate files the scanner accepts as they are, so mutants sit near its boundary.
    const sources = [PLAIN, ...yamlFiles(FIXTURES).map((f) => readFileSync(f, "utf8"))].filter(
      (text) => scanPlainObjects(text) !== undefined,
    );
    assert.ok(sources.length >= 10, `only ${sources.length} accepted sources`);
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      let text = sources[Math.floor(rand() * sources.length)]!;
      for (let edits = rand() < 0.7 ? 1 : 2; edits > 0; edits--) {
        const at = Math.floor(rand() * (text.length + 1));
        const op = rand();
        if (op < 0.5)
          text = text.slice(0, at) + pieces[Math.floor(rand() * pieces.length)] + text.slice(at);
        else if (op < 0.8) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rand() * 3));
        else {
          // duplicate a line elsewhere (duplicate keys, misplaced blocks)
          const lines = text.split("\n");
          const from = Math.floor(rand() * lines.length);
          lines.splice(Math.floor(rand() * lines.length), 0, lines[from]!);
          text = lines.join("\n");
        }
      }
      if (assertAgrees(text, `mutation ${i}`)) accepted++;
    }
    // The mutations must exercise the accepting path too, not only the declining one.
    assert.ok(accepted > 500, `only ${accepted} mutants were accepted`);
  });
});
