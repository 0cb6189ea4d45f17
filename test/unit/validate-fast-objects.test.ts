import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fastObjects } from "../../src/validate/fast-objects.js";
import { parseYaml, readWithoutPositions } from "../../src/validate/parse.js";

describe("validation fast path", () => {
  it("returns the identities of well-formed objects", () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: prod }
---
# comment only
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: null
`;
    assert.deepEqual(fastObjects(text), [
      {
        document: 0,
        key: "apps\u0000Deployment\u0000prod\u0000web",
        display: "Deployment prod/web",
      },
      { document: 2, key: "\u0000ConfigMap\u0000\u0000settings", display: "ConfigMap settings" },
    ]);
  });

  it("hands anything unusual to the exact path", () => {
    for (const text of [
      "a: [b\n", // syntax error
      "a: 1\na: 2\n", // duplicate key
      "- a\n- b\n", // sequence
      "just text\n", // scalar
      "kind: ConfigMap\nmetadata: { name: x }\n", // no apiVersion
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: 12 }\n", // name not a string
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ' ' }\n", // blank name
      "apiVersion: v1\nkind: ConfigMap\nmetadata: [x]\n", // metadata not a mapping
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, namespace: 3 }\n",
      "apiVersion: v1\nkind: ConfigMapList\nitems: []\n", // lists are checked item by item
      "apiVersion: v1\nkind: Pod\nmetadata: { generateName: job- }\n", // refused: no name
      // kustomize reads a Kustomization in a manifest file as an object: it needs a name
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
    ]) {
      assert.equal(fastObjects(text), undefined, JSON.stringify(text));
    }
  });
});

describe("kustomizations read without positions", () => {
  it("gives the exact parser's values for plain files", () => {
    const text =
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: prod\n" +
      "resources:\n  - a.yaml\n  - ./base\nreplicas:\n  - name: web\n    count: 3\nlabels: null\n";
    const fast = readWithoutPositions("kustomization.yaml", text);
    assert.ok(fast !== undefined, "a plain kustomization needs the exact parser");
    const exact = parseYaml("kustomization.yaml", text, []);
    assert.deepEqual(
      fast.docs.map((d) => d.toJS()),
      exact!.docs.map((d) => d.toJS()),
    );
  });

  it("leaves tags, anchors, merge keys, timestamps and syntax errors to the exact parser", () => {
    for (const text of [
      "resources: !!seq [a.yaml]\n",
      "base: &b {a: 1}\nother: *b\n",
      "x:\n  <<: {a: 1}\n",
      "namePrefix: 2024-01-01\n",
      "resources: [a.yaml\n",
      "a: 1\na: 2\n",
    ]) {
      assert.equal(readWithoutPositions("kustomization.yaml", text), undefined, text);
    }
  });
});
