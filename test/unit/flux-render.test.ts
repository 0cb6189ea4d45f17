import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inventoryId, parseInventoryId } from "../../src/flux/cluster-diff.js";
import { renderObjects } from "../../src/flux/render.js";
import { KsailError } from "../../src/errors.js";

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([path, text]) => [path, Buffer.from(text)]));

const cm = (name: string, namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ""}data:\n  mode: 0644\n  flag: yes\n`;

const names = (rendered: ReturnType<typeof renderObjects>) =>
  rendered.map(
    (r) => `${r.object.kind}/${r.object.metadata.namespace ?? ""}/${r.object.metadata.name}`,
  );

function unsupported(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof KsailError);
    assert.equal(error.kind, "usage");
    assert.match(error.message, pattern);
    return true;
  });
}

describe("renderObjects", () => {
  it("without a kustomization takes every .yaml/.yml file, and a sub-directory with one as a unit", () => {
    const rendered = renderObjects(
      files({
        "a.yaml": cm("a", "default"),
        "b.YAML": cm("skipped-extension"),
        "notes.txt": "text",
        "apps/c.yml": cm("c", "default"),
        "apps/list.yaml": `apiVersion: v1\nkind: List\nitems:\n  - ${cm("d", "default").replaceAll("\n", "\n    ").trimEnd()}\n`,
        "unit/kustomization.yaml": "resources:\n  - only.yaml\nnamespace: team\n",
        "unit/only.yaml": cm("e"),
        "unit/not-listed.yaml": cm("f"),
      }),
    );
    assert.deepEqual(names(rendered).sort(), [
      "ConfigMap/default/a",
      "ConfigMap/default/c",
      "ConfigMap/default/d",
      "ConfigMap/team/e",
    ]);
    // YAML as kustomize reads it: 0644 is octal, yes stays a string.
    assert.deepEqual(rendered[0]!.object.data, { mode: 420, flag: "yes" });
  });

  it("follows resources into nested kustomizations and applies their namespaces, then targetNamespace", () => {
    const source = files({
      "kustomization.yaml": "resources:\n  - base\n  - extra.yaml\n",
      "base/kustomization.yaml": "resources:\n  - cm.yaml\n  - ns.yaml\nnamespace: base-ns\n",
      "base/cm.yaml": cm("x", "ignored"),
      "base/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: base-ns\n",
      "extra.yaml": cm("y"),
    });
    assert.deepEqual(names(renderObjects(source)), [
      "ConfigMap/base-ns/x",
      "Namespace//base-ns",
      "ConfigMap//y",
    ]);
    assert.deepEqual(names(renderObjects(source, { targetNamespace: "prod" })), [
      "ConfigMap/prod/x",
      "Namespace//base-ns",
      "ConfigMap/prod/y",
    ]);
  });

  it("honours spec.path", () => {
    const rendered = renderObjects(
      files({ "other.yaml": cm("no", "default"), "deploy/a.yaml": cm("a", "default") }),
      { path: "./deploy" },
    );
    assert.deepEqual(names(rendered), ["ConfigMap/default/a"]);
  });

  it("refuses, naming file and field, what only kustomize can build", () => {
    unsupported(
      () =>
        renderObjects(
          files({
            "kustomization.yaml": "resources:\n  - a.yaml\nnamePrefix: dev-\npatches: []\n",
            "a.yaml": cm("a", "default"),
          }),
        ),
      /kustomization\.yaml: uses namePrefix, patches/,
    );
    unsupported(
      () =>
        renderObjects(
          files({
            "kustomization.yaml": "resources:\n  - github.com/org/repo//base?ref=v1\n",
          }),
        ),
      /remote resource/,
    );
    unsupported(
      () =>
        renderObjects(
          files({
            "kustomization.yaml": "resources:\n  - rb.yaml\nnamespace: team\n",
            "rb.yaml":
              "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n  - kind: ServiceAccount\n    name: sa\n",
          }),
        ),
      /ServiceAccount subjects/,
    );
  });
});

describe("inventory ids", () => {
  it("round-trips kustomize-controller's namespace_name_group_kind, colons included", () => {
    const object = {
      namespace: "",
      name: "system:controller",
      group: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
    };
    const id = inventoryId(object);
    assert.equal(id, "_system__controller_rbac.authorization.k8s.io_ClusterRole");
    assert.deepEqual(parseInventoryId(id), object);
    assert.deepEqual(parseInventoryId("default_web_apps_Deployment"), {
      namespace: "default",
      name: "web",
      group: "apps",
      kind: "Deployment",
    });
    assert.deepEqual(parseInventoryId("default_settings__ConfigMap"), {
      namespace: "default",
      name: "settings",
      group: "",
      kind: "ConfigMap",
    });
  });
});
