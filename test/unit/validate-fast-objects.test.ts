import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fastObjects } from "../../src/validate/fast-objects.js";

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
