/**
 * The differential corpus of source trees (issue 9): each case is a compact description that
 * `materializeTree` writes to disk. test/integration/validate-flux-differential.test.ts validates
 * every tree with ksail and builds it with the Flux CLI (`flux build kustomization --dry-run`),
 * and fails when the two disagree — accept vs refuse — outside ALLOWLIST.
 *
 * Layouts follow Flux's and kustomize's docs (overlays, components, generators, patches,
 * replacements, CRDs with CRs, Lists, JSON manifests, namespaces, prefixes) plus every class of
 * disagreement found in issue 9.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse as parseYamlText, stringify } from "yaml";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { encryptYaml } from "../src/secrets/sops-file.js";

export interface CorpusTree {
  name: string;
  /** Path → content (text, or bytes for binary cases). */
  files: Record<string, string | Buffer>;
  /**
   * Never built with Flux (an alias bomb exhausts its memory); ksail must give this verdict.
   */
  ksailOnly?: "accept" | "refuse";
  /** Key into ALLOWLIST: a deliberate difference. */
  allow?: string;
}

/**
 * Deliberate differences, each with its reason. `ksail: "refuses"`: ksail is stricter than Flux's
 * build (the refusing rule must be `rule`); `ksail: "accepts"`: ksail cannot tell and accepts
 * (Flux's build still fails loudly at reconcile).
 */
export const ALLOWLIST: Record<
  string,
  { ksail: "refuses" | "accepts"; rule?: string; reason: string }
> = {
  "binary-file": {
    ksail: "refuses",
    rule: "binary-file",
    reason:
      "ksail refuses NUL bytes in any packaged file: an artifact of manifests has no use for binary content (Flux ignores files it does not read)",
  },
  "invalid-utf8": {
    ksail: "refuses",
    rule: "invalid-utf8",
    reason:
      "ksail refuses files that are not UTF-8 anywhere in the artifact (Flux ignores files it does not read)",
  },
  "file-too-large": {
    ksail: "refuses",
    rule: "file-too-large",
    reason:
      "ksail refuses files over the per-file limit (1 MiB by default, --max-file-size) to keep artifacts small",
  },
  "api-version": {
    ksail: "refuses",
    rule: "duplicate-object",
    reason:
      "ksail compares objects by group/kind/namespace/name: the same object in two API versions is one object in the cluster, applied twice (kustomize keys by version too)",
  },
  "missing-apiversion": {
    ksail: "refuses",
    rule: "missing-field",
    reason:
      "Flux's build silently drops an object without apiVersion (its output is empty), so it would never be applied; ksail says so instead",
  },
  "plaintext-secret": {
    ksail: "refuses",
    rule: "plaintext-secret",
    reason:
      "the secrets guard: Flux builds and applies a plaintext Secret (or a secretGenerator's literals and plaintext files) as is, and every version in the registry would keep it; ksail refuses it unless --allow-plaintext-secrets",
  },
  "crds-content": {
    ksail: "accepts",
    reason:
      "ksail checks that a `crds:` entry exists and parses, not that it holds kustomize's OpenAPI definitions format; Flux's build reports that",
  },
};

// ---- building blocks -------------------------------------------------------------------------

type Fields = Record<string, unknown>;

function object(apiVersion: string, kind: string, name: string, ns?: string, rest: Fields = {}) {
  return stringify({
    apiVersion,
    kind,
    metadata: { name, ...(ns === undefined ? {} : { namespace: ns }) },
    ...rest,
  });
}
const cm = (name: string, ns?: string) => object("v1", "ConfigMap", name, ns, { data: { k: "v" } });
const namespace = (name: string) => object("v1", "Namespace", name);
const deployment = (name: string, ns?: string) =>
  object("apps/v1", "Deployment", name, ns, {
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image: "nginx:1.27" }] },
      },
    },
  });
const service = (name: string, ns?: string) =>
  object("v1", "Service", name, ns, {
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  });
const clusterRole = (name: string) =>
  object("rbac.authorization.k8s.io/v1", "ClusterRole", name, undefined, { rules: [] });
const crd = (plural: string, group = "example.com") =>
  object("apiextensions.k8s.io/v1", "CustomResourceDefinition", `${plural}.${group}`, undefined, {
    spec: {
      group,
      names: { kind: "Widget", plural, singular: plural.replace(/s$/, ""), listKind: "WidgetList" },
      scope: "Namespaced",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          },
        },
      ],
    },
  });
const widget = (name: string, ns?: string) =>
  object("example.com/v1", "Widget", name, ns, { spec: { size: 1 } });
const fluxKustomization = (name: string) =>
  object("kustomize.toolkit.fluxcd.io/v1", "Kustomization", name, "flux-system", {
    spec: {
      interval: "10m",
      path: "./apps",
      prune: true,
      sourceRef: { kind: "OCIRepository", name: "apps" },
    },
  });
const docs = (...items: string[]) => items.join("---\n");
const kz = (fields: Fields) =>
  stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", ...fields });
const component = (fields: Fields) =>
  stringify({ apiVersion: "kustomize.config.k8s.io/v1alpha1", kind: "Component", ...fields });

const helmValues = "replicaCount: 2\nimage:\n  repository: nginx\n  tag: stable\n";
const workflow =
  "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n";
const aliasBomb = [
  "apiVersion: v1",
  "kind: ConfigMap",
  "metadata:",
  "  name: lol",
  "data:",
  '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  "  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
  "  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
  "  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
  "  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
  "  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
  "  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
  "  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]",
  "  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]",
  "",
].join("\n");

// ---- the corpus ------------------------------------------------------------------------------

const cases: CorpusTree[] = [];
const add = (name: string, files: CorpusTree["files"], extra: Partial<CorpusTree> = {}) =>
  cases.push({ name, files, ...extra });

// Plain directories (Flux generates the kustomization).
add("plain-one-file", { "app.yaml": deployment("web", "demo") });
add("plain-multi-doc", {
  "app.yaml": docs(namespace("demo"), deployment("web", "demo"), service("web", "demo")),
});
add("plain-nested-dirs", {
  "infra/ns.yaml": namespace("demo"),
  "apps/web/deploy.yaml": deployment("web", "demo"),
  "apps/web/svc.yml": service("web", "demo"),
});
add("plain-with-readme-and-json-data", {
  "app.yaml": cm("a"),
  "README.md": "# docs\n",
  "schema.json": '{"type": "object"}\n',
});
add("plain-json-manifest-skipped", {
  "app.yaml": cm("a"),
  "extra.json": JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b" } }),
});
add("plain-json-not-kubernetes", {
  "app.yaml": cm("a"),
  "package.json": '{"name": "x", "version": "1.0.0"}\n',
});
add("plain-uppercase-extension-skipped", { "app.yaml": cm("a"), "notes.YAML": "just: notes\n" });
add("plain-helm-values-refused", { "app.yaml": cm("a"), "values.yaml": helmValues });
add("plain-github-workflow-refused", { "app.yaml": cm("a"), ".github/workflows/ci.yml": workflow });
add("plain-empty-yaml-file", { "app.yaml": cm("a"), "empty.yaml": "" });
add("plain-comment-only-docs", { "app.yaml": `# header\n---\n${cm("a")}---\n# trailer\n` });
add("plain-duplicate-same-file", { "app.yaml": docs(cm("a"), cm("a")) });
add("plain-duplicate-across-files", { "a.yaml": cm("x"), "sub/b.yaml": cm("x") });
add("plain-duplicate-default-namespace", { "a.yaml": cm("x"), "b.yaml": cm("x", "default") });
add("plain-same-name-other-namespaces", { "a.yaml": cm("x", "a"), "b.yaml": cm("x", "b") });
add("plain-same-name-other-groups", {
  "a.yaml": cm("x", "a"),
  "b.yaml": object("example.com/v1", "ConfigMap", "x", "a"),
});
add(
  "plain-same-object-two-versions",
  {
    "a.yaml": object("example.com/v1", "Widget", "x", "a"),
    "b.yaml": object("example.com/v2", "Widget", "x", "a"),
  },
  { allow: "api-version" },
);
add("plain-list", {
  "list.yaml": stringify({
    apiVersion: "v1",
    kind: "List",
    items: [yamlObj(cm("a")), yamlObj(cm("b"))],
  }),
});
add("plain-list-bad-item", {
  "list.yaml": stringify({
    apiVersion: "v1",
    kind: "List",
    items: [yamlObj(cm("a")), { kind: "ConfigMap" }],
  }),
});
add(
  "plain-missing-apiversion",
  { "app.yaml": "kind: ConfigMap\nmetadata:\n  name: a\n" },
  { allow: "missing-apiversion" },
);
add("plain-missing-kind", { "app.yaml": "apiVersion: v1\nmetadata:\n  name: a\n" });
add("plain-missing-metadata", { "app.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {}\n" });
add("plain-missing-name", {
  "app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n",
});
add("plain-generate-name-only", {
  "job.yaml":
    "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  namespace: demo\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n",
});
add("plain-name-and-generate-name", {
  "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  generateName: a-\n",
});
add("plain-sequence-document", { "app.yaml": "- a\n- b\n" });
add("plain-scalar-document", { "app.yaml": "just text\n" });
add("plain-yaml-syntax-error", {
  "app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n",
});
add("plain-duplicate-keys", {
  "app.yaml": "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata:\n  name: a\n",
});
add("plain-small-anchors", {
  "app.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &labels\n    app: a\n  annotations: *labels\ndata:\n  x: &x hello\n  y: *x\n",
});
add("plain-alias-bomb", { "bomb.yaml": aliasBomb }, { ksailOnly: "refuse" });
add("plain-crd-and-cr", { "crd.yaml": crd("widgets"), "cr.yaml": widget("w1", "demo") });
add("plain-flux-kustomization-objects", { "flux/apps.yaml": fluxKustomization("apps") });
add("plain-kustomize-config-as-file", {
  "app.yaml": cm("a"),
  "other.yaml": kz({ resources: ["app.yaml"] }),
});
add("plain-subdir-kustomization-unit", {
  "base/kustomization.yaml": kz({ resources: ["cm.yaml"] }),
  "base/cm.yaml": cm("a"),
  "base/unlisted.yaml": helmValues,
  "top.yaml": cm("b"),
});
add("plain-subdir-kustomization-broken", {
  "base/kustomization.yaml": kz({ resources: ["missing.yaml"] }),
  "top.yaml": cm("b"),
});
add("plain-two-units-same-base", {
  "base/kustomization.yaml": kz({ resources: ["cm.yaml"] }),
  "base/cm.yaml": cm("a"),
  "overlay/kustomization.yaml": kz({ resources: ["../base"], namespace: "prod" }),
});
add("plain-two-units-same-base-collide", {
  "base/kustomization.yaml": kz({ resources: ["cm.yaml"] }),
  "base/cm.yaml": cm("a"),
  "overlay/kustomization.yaml": kz({ resources: ["../base"], commonLabels: { env: "x" } }),
});
add(
  "plain-binary-file",
  { "app.yaml": cm("a"), "logo.png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]) },
  { allow: "binary-file" },
);
add(
  "plain-invalid-utf8",
  { "app.yaml": cm("a"), "notes.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]) },
  { allow: "invalid-utf8" },
);
add(
  "plain-oversized-file",
  { "app.yaml": cm("a"), "big.txt": "#".repeat(1024 * 1024 + 1) },
  { allow: "file-too-large" },
);
add("plain-only-readme", { "README.md": "# nothing to apply\n" });

// A root kustomization: only what it reaches is read.
add("root-basic", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": deployment("web", "demo"),
});
add("root-yml-name", { "kustomization.yml": kz({ resources: ["app.yaml"] }), "app.yaml": cm("a") });
add("root-capital-name", { Kustomization: kz({ resources: ["app.yaml"] }), "app.yaml": cm("a") });
add("root-two-kustomization-files", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "kustomization.yml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-no-kind-no-apiversion", {
  "kustomization.yaml": "resources:\n  - app.yaml\n",
  "app.yaml": cm("a"),
});
add("root-empty-kustomization", { "kustomization.yaml": kz({}), "app.yaml": cm("a") });
add("root-unreached-helm-values", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
  "chart/values.yaml": helmValues,
});
add("root-unreached-workflow", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
  ".github/workflows/ci.yml": workflow,
});
add("root-unreached-broken-yaml", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
  "scratch/broken.yaml": "a: [b\n",
});
add("root-unreached-manifest", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
  "old/app.yaml": cm("a"),
});
add("root-unreached-broken-kustomization", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
  "staging/kustomization.yaml": kz({ resources: ["missing.yaml"] }),
});
add("root-docs", {
  "kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
  "docs/index.md": "# docs\n",
});
add("root-json-resource", {
  "kustomization.yaml": kz({ resources: ["app.json"] }),
  "app.json": JSON.stringify(
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { k: "v" } },
    null,
    2,
  ),
});
add("root-json-syntax-error", {
  "kustomization.yaml": kz({ resources: ["app.json"] }),
  "app.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}\n',
});
add("root-txt-resource", {
  "kustomization.yaml": kz({ resources: ["app.txt"] }),
  "app.txt": cm("a"),
});
add("root-missing-resource", {
  "kustomization.yaml": kz({ resources: ["app.yaml", "missing.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-resource-dir-without-kustomization", {
  "kustomization.yaml": kz({ resources: ["apps"] }),
  "apps/app.yaml": cm("a"),
});
add("root-path-escape", {
  "kustomization.yaml": kz({ resources: ["../outside.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-absolute-path", {
  "kustomization.yaml": kz({ resources: ["/etc/app.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-not-a-mapping", { "kustomization.yaml": "- app.yaml\n", "app.yaml": cm("a") });
add("root-resources-not-a-list", {
  "kustomization.yaml": kz({ resources: "app.yaml" }),
  "app.yaml": cm("a"),
});
add("root-self-reference", {
  "kustomization.yaml": kz({ resources: [".", "app.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-mutual-inclusion", {
  "kustomization.yaml": kz({ resources: ["a"] }),
  "a/kustomization.yaml": kz({ resources: ["../b", "cm.yaml"] }),
  "a/cm.yaml": cm("a"),
  "b/kustomization.yaml": kz({ resources: ["../a"] }),
});
add("root-helm-charts", {
  "kustomization.yaml": kz({
    helmCharts: [
      { name: "podinfo", repo: "https://stefanprodan.github.io/podinfo", version: "6.7.0" },
    ],
  }),
});
add("root-helm-chart-inflation", {
  "kustomization.yaml": kz({
    resources: ["app.yaml"],
    helmChartInflationGenerator: [{ chartName: "x" }],
  }),
  "app.yaml": cm("a"),
});
add("root-generate-name", {
  "kustomization.yaml": kz({ resources: ["pod.yaml"] }),
  "pod.yaml":
    "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: p-\nspec:\n  containers: [{name: c, image: busybox}]\n",
});
add("root-duplicate-default-namespace", {
  "kustomization.yaml": kz({ resources: ["a.yaml", "b.yaml"] }),
  "a.yaml": cm("x"),
  "b.yaml": cm("x", "default"),
});
add("root-duplicate-resource-entry", {
  "kustomization.yaml": kz({ resources: ["a.yaml", "a.yaml"] }),
  "a.yaml": cm("x"),
});
add(
  "root-alias-bomb",
  { "kustomization.yaml": kz({ resources: ["bomb.yaml"] }), "bomb.yaml": aliasBomb },
  { ksailOnly: "refuse" },
);
add("root-bases-field", {
  "kustomization.yaml": kz({ bases: ["base"] }),
  "base/kustomization.yaml": kz({ resources: ["cm.yaml"] }),
  "base/cm.yaml": cm("a"),
});
add(
  "root-crds-field",
  {
    "kustomization.yaml": kz({ crds: ["crd.yaml"], resources: ["cr.yaml"] }),
    "crd.yaml": crd("widgets"),
    "cr.yaml": widget("w1", "demo"),
  },
  { allow: "crds-content" },
);
add("root-crd-and-cr", {
  "kustomization.yaml": kz({ resources: ["crd.yaml", "cr.yaml"] }),
  "crd.yaml": crd("widgets"),
  "cr.yaml": widget("w1"),
});
add("root-list", {
  "kustomization.yaml": kz({ resources: ["list.yaml"] }),
  "list.yaml": stringify({
    apiVersion: "v1",
    kind: "ConfigMapList",
    items: [yamlObj(cm("a")), yamlObj(cm("b"))],
  }),
});
add("root-list-duplicates", {
  "kustomization.yaml": kz({ resources: ["list.yaml"] }),
  "list.yaml": stringify({
    apiVersion: "v1",
    kind: "List",
    items: [yamlObj(cm("a")), yamlObj(cm("a"))],
  }),
});
add("root-namespace-field", {
  "kustomization.yaml": kz({ namespace: "demo", resources: ["ns.yaml", "app.yaml"] }),
  "ns.yaml": namespace("demo"),
  "app.yaml": docs(deployment("web"), service("web")),
});
add("root-namespace-merges-two", {
  "kustomization.yaml": kz({ namespace: "demo", resources: ["a.yaml", "b.yaml"] }),
  "a.yaml": cm("x", "a"),
  "b.yaml": cm("x", "b"),
});

add("root-unknown-field", {
  "kustomization.yaml": kz({ resource: ["app.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-component-kind", {
  "kustomization.yaml": component({ resources: ["app.yaml"] }),
  "app.yaml": cm("a"),
});
add("root-unknown-kind", {
  "kustomization.yaml": stringify({
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomisation",
    resources: ["app.yaml"],
  }),
  "app.yaml": cm("a"),
});

add("nested-unknown-field", {
  "kustomization.yaml": kz({ resources: ["app"] }),
  "app/kustomization.yaml": kz({ resources: ["cm.yaml"], namespce: "typo" }),
  "app/cm.yaml": cm("a"),
});
add("nested-wrong-api-version", {
  "kustomization.yaml": kz({ resources: ["app"] }),
  "app/kustomization.yaml": stringify({
    apiVersion: "kustomize.config.k8s.io/v1",
    kind: "Kustomization",
    resources: ["cm.yaml"],
  }),
  "app/cm.yaml": cm("a"),
});
add("root-empty-file", { "kustomization.yaml": "", "app.yaml": cm("a") });
add("nested-empty-file", {
  "kustomization.yaml": kz({ resources: ["app"] }),
  "app/kustomization.yaml": "",
});
add("nested-yml-name", {
  "kustomization.yaml": kz({ resources: ["app"] }),
  "app/kustomization.yml": kz({ resources: ["cm.yaml"] }),
  "app/cm.yaml": cm("a"),
});

// Namespaces, prefixes and suffixes: the same object in several sub-kustomizations.
for (const [label, a, b] of [
  ["namespace", { namespace: "team-a" }, { namespace: "team-b" }],
  ["name-prefix", { namePrefix: "a-" }, { namePrefix: "b-" }],
  ["name-suffix", { nameSuffix: "-a" }, { nameSuffix: "-b" }],
  ["namespace-and-prefix", { namespace: "team-a" }, { namePrefix: "b-" }],
] as const) {
  for (const [what, content] of [
    ["configmap", cm("settings")],
    ["deployment", deployment("web")],
    ["namespaced-explicitly", cm("settings", "shared")],
    ["custom-resource", widget("w1")],
  ] as const) {
    add(`per-folder-${label}-${what}`, {
      "kustomization.yaml": kz({ resources: ["a", "b"] }),
      "a/kustomization.yaml": kz({ ...a, resources: ["app.yaml"] }),
      "a/app.yaml": content,
      "b/kustomization.yaml": kz({ ...b, resources: ["app.yaml"] }),
      "b/app.yaml": content,
    });
  }
}
add("per-folder-same-namespace-collides", {
  "kustomization.yaml": kz({ resources: ["a", "b"] }),
  "a/kustomization.yaml": kz({ namespace: "team", resources: ["app.yaml"] }),
  "a/app.yaml": cm("settings"),
  "b/kustomization.yaml": kz({ namespace: "team", resources: ["app.yaml"] }),
  "b/app.yaml": cm("settings", "other"),
});
add("per-folder-no-transform-collides", {
  "kustomization.yaml": kz({ resources: ["a", "b"] }),
  "a/kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "a/app.yaml": cm("settings"),
  "b/kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "b/app.yaml": cm("settings"),
});
add("per-folder-namespace-cluster-scoped-collides", {
  "kustomization.yaml": kz({ resources: ["a", "b"] }),
  "a/kustomization.yaml": kz({ namespace: "team-a", resources: ["role.yaml"] }),
  "a/role.yaml": clusterRole("reader"),
  "b/kustomization.yaml": kz({ namespace: "team-b", resources: ["role.yaml"] }),
  "b/role.yaml": clusterRole("reader"),
});
add("per-folder-prefix-cluster-scoped", {
  "kustomization.yaml": kz({ resources: ["a", "b"] }),
  "a/kustomization.yaml": kz({ namePrefix: "a-", resources: ["role.yaml"] }),
  "a/role.yaml": clusterRole("reader"),
  "b/kustomization.yaml": kz({ namePrefix: "b-", resources: ["role.yaml"] }),
  "b/role.yaml": clusterRole("reader"),
});
add("per-folder-prefix-crd-collides", {
  "kustomization.yaml": kz({ resources: ["a", "b"] }),
  "a/kustomization.yaml": kz({ namePrefix: "a-", resources: ["crd.yaml"] }),
  "a/crd.yaml": crd("widgets"),
  "b/kustomization.yaml": kz({ namePrefix: "b-", resources: ["crd.yaml"] }),
  "b/crd.yaml": crd("widgets"),
});
add("per-folder-prefix-namespace-object-collides", {
  "kustomization.yaml": kz({ resources: ["a", "b"] }),
  "a/kustomization.yaml": kz({ namePrefix: "a-", resources: ["ns.yaml"] }),
  "a/ns.yaml": namespace("shared"),
  "b/kustomization.yaml": kz({ namePrefix: "b-", resources: ["ns.yaml"] }),
  "b/ns.yaml": namespace("shared"),
});
add("nested-namespace-outer-wins-collides", {
  "kustomization.yaml": kz({ resources: ["outer", "plain.yaml"] }),
  "plain.yaml": cm("x", "team"),
  "outer/kustomization.yaml": kz({ namespace: "team", resources: ["inner"] }),
  "outer/inner/kustomization.yaml": kz({ namespace: "inner", resources: ["cm.yaml"] }),
  "outer/inner/cm.yaml": cm("x"),
});
add("nested-prefixes-stack", {
  "kustomization.yaml": kz({ resources: ["outer", "plain.yaml"] }),
  "plain.yaml": cm("x"),
  "outer/kustomization.yaml": kz({ namePrefix: "o-", resources: ["inner"] }),
  "outer/inner/kustomization.yaml": kz({ namePrefix: "i-", resources: ["cm.yaml"] }),
  "outer/inner/cm.yaml": cm("x"),
});

// Overlays (kustomize's docs: base + overlays).
const base = {
  "base/kustomization.yaml": kz({ resources: ["deployment.yaml", "service.yaml"] }),
  "base/deployment.yaml": deployment("web"),
  "base/service.yaml": service("web"),
};
add("overlays-root-points-at-prod", {
  ...base,
  "kustomization.yaml": kz({ resources: ["overlays/prod"] }),
  "overlays/prod/kustomization.yaml": kz({ namespace: "prod", resources: ["../../base"] }),
  "overlays/dev/kustomization.yaml": kz({ namespace: "dev", resources: ["../../base"] }),
});
add("overlays-both-namespaced", {
  ...base,
  "kustomization.yaml": kz({ resources: ["overlays/prod", "overlays/dev"] }),
  "overlays/prod/kustomization.yaml": kz({ namespace: "prod", resources: ["../../base"] }),
  "overlays/dev/kustomization.yaml": kz({ namespace: "dev", resources: ["../../base"] }),
});
add("overlays-both-unchanged-collide", {
  ...base,
  "kustomization.yaml": kz({ resources: ["overlays/prod", "overlays/dev"] }),
  "overlays/prod/kustomization.yaml": kz({
    resources: ["../../base"],
    commonLabels: { env: "prod" },
  }),
  "overlays/dev/kustomization.yaml": kz({
    resources: ["../../base"],
    commonLabels: { env: "dev" },
  }),
});
add("overlays-plain-root", {
  ...base,
  "overlays/prod/kustomization.yaml": kz({ namespace: "prod", resources: ["../../base"] }),
  "overlays/dev/kustomization.yaml": kz({ namespace: "dev", resources: ["../../base"] }),
});
add("overlays-strategic-patch-file", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], patches: [{ path: "replicas.yaml" }] }),
  "replicas.yaml": stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { replicas: 3 },
  }),
});
add("overlays-patches-strategic-merge-field", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], patchesStrategicMerge: ["replicas.yaml"] }),
  "replicas.yaml": stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { replicas: 3 },
  }),
});
add("overlays-inline-patch", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base"],
    patches: [
      {
        target: { kind: "Deployment", name: "web" },
        patch: "- op: replace\n  path: /spec/replicas\n  value: 2\n",
      },
    ],
  }),
});
add("overlays-json6902-file", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base"],
    patches: [
      {
        path: "patch.yaml",
        target: { group: "apps", version: "v1", kind: "Deployment", name: "web" },
      },
    ],
  }),
  "patch.yaml": "- op: add\n  path: /spec/replicas\n  value: 2\n",
});
add("overlays-patches-json6902-field", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base"],
    patchesJson6902: [
      {
        path: "patch.json",
        target: { group: "apps", version: "v1", kind: "Deployment", name: "web" },
      },
    ],
  }),
  "patch.json": '[{"op": "add", "path": "/spec/replicas", "value": 2}]\n',
});
add("overlays-patch-missing", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], patches: [{ path: "missing.yaml" }] }),
});
add("overlays-patch-syntax-error", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base"],
    patches: [{ path: "patch.yaml", target: { kind: "Deployment" } }],
  }),
  "patch.yaml": "- op: add\n  path: [/spec\n",
});
add("overlays-patch-is-directory", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], patches: [{ path: "base" }] }),
});
add("overlays-patch-object-in-base-not-duplicate", {
  "apps/kustomization.yaml": kz({ resources: ["app.yaml"] }),
  "apps/app.yaml": cm("settings", "apps"),
  "kustomization.yaml": kz({ resources: ["apps"], patches: [{ path: "settings.yaml" }] }),
  "settings.yaml": cm("settings", "apps"),
});
add("overlays-replacements", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base", "source.yaml"],
    replacements: [{ path: "replacement.yaml" }],
  }),
  "source.yaml": cm("source"),
  "replacement.yaml": stringify({
    source: { kind: "ConfigMap", name: "source", fieldPath: "data.k" },
    targets: [
      {
        select: { kind: "Deployment", name: "web" },
        fieldPaths: ["metadata.annotations.from"],
        options: { create: true },
      },
    ],
  }),
});
add("overlays-inline-replacements", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base", "source.yaml"],
    replacements: [
      {
        source: { kind: "ConfigMap", name: "source", fieldPath: "data.k" },
        targets: [
          {
            select: { kind: "Deployment" },
            fieldPaths: ["metadata.annotations.from"],
            options: { create: true },
          },
        ],
      },
    ],
  }),
  "source.yaml": cm("source"),
});
add("overlays-images-and-labels", {
  ...base,
  "kustomization.yaml": kz({
    resources: ["base"],
    images: [{ name: "nginx", newTag: "1.28" }],
    labels: [{ pairs: { team: "web" } }],
    commonAnnotations: { owner: "me" },
  }),
});

// Components.
add("components-basic", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], components: ["components/extra"] }),
  "components/extra/kustomization.yaml": component({ resources: ["extra.yaml"] }),
  "components/extra/extra.yaml": cm("extra"),
});
add("components-patching", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], components: ["components/replicas"] }),
  "components/replicas/kustomization.yaml": component({
    patches: [
      { target: { kind: "Deployment" }, patch: "- op: add\n  path: /spec/replicas\n  value: 2\n" },
    ],
  }),
});
add("components-as-resource", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base", "components/extra"] }),
  "components/extra/kustomization.yaml": component({ resources: ["extra.yaml"] }),
  "components/extra/extra.yaml": cm("extra"),
});
add("components-kustomization-as-component", {
  ...base,
  "kustomization.yaml": kz({ components: ["base"] }),
});
add("components-missing", { "kustomization.yaml": kz({ components: ["components/none"] }) });
add("components-is-a-file", {
  "kustomization.yaml": kz({ components: ["extra.yaml"] }),
  "extra.yaml": cm("x"),
});
add("components-duplicate-with-base", {
  ...base,
  "kustomization.yaml": kz({ resources: ["base"], components: ["components/extra"] }),
  "components/extra/kustomization.yaml": component({ resources: ["svc.yaml"] }),
  "components/extra/svc.yaml": service("web"),
});

// Generators.
add("generator-configmap-literals", {
  "kustomization.yaml": kz({
    configMapGenerator: [{ name: "settings", literals: ["a=1", "b=2"] }],
  }),
});
add("generator-configmap-files", {
  "kustomization.yaml": kz({
    configMapGenerator: [{ name: "settings", files: ["config.properties", "nginx=nginx.conf"] }],
  }),
  "config.properties": "a=1\n",
  "nginx.conf": "server {}\n",
});
add("generator-configmap-yaml-data-with-syntax-error", {
  "kustomization.yaml": kz({ configMapGenerator: [{ name: "settings", files: ["broken.yaml"] }] }),
  "broken.yaml": "a: [b\n",
});
add("generator-configmap-helm-values-data", {
  "kustomization.yaml": kz({ configMapGenerator: [{ name: "values", files: ["values.yaml"] }] }),
  "values.yaml": helmValues,
});
add("generator-configmap-missing-file", {
  "kustomization.yaml": kz({
    configMapGenerator: [{ name: "settings", files: ["missing.properties"] }],
  }),
});
add(
  "generator-secret-envs",
  {
    "kustomization.yaml": kz({ secretGenerator: [{ name: "creds", envs: ["creds.env"] }] }),
    "creds.env": "USER=admin\n",
  },
  { allow: "plaintext-secret" },
);
add("generator-secret-missing-env", {
  "kustomization.yaml": kz({ secretGenerator: [{ name: "creds", envs: ["missing.env"] }] }),
});
add("generator-with-namespace-and-options", {
  "kustomization.yaml": kz({
    namespace: "demo",
    generatorOptions: { disableNameSuffixHash: true },
    configMapGenerator: [{ name: "settings", literals: ["a=1"] }],
    resources: ["deploy.yaml"],
  }),
  "deploy.yaml": deployment("web"),
});

// Flux's own layouts: clusters/ and infrastructure/ trees.
add("flux-monorepo-clusters", {
  "clusters/production/kustomization.yaml": kz({
    resources: ["../../infrastructure", "../../apps/production"],
  }),
  "infrastructure/kustomization.yaml": kz({ resources: ["namespaces.yaml"] }),
  "infrastructure/namespaces.yaml": docs(namespace("podinfo"), namespace("monitoring")),
  "apps/base/kustomization.yaml": kz({ resources: ["deployment.yaml"] }),
  "apps/base/deployment.yaml": deployment("podinfo"),
  "apps/production/kustomization.yaml": kz({ namespace: "podinfo", resources: ["../base"] }),
  "apps/staging/kustomization.yaml": kz({ namespace: "podinfo", resources: ["../base"] }),
});
add("flux-monorepo-root-kustomization", {
  "kustomization.yaml": kz({ resources: ["clusters/production"] }),
  "clusters/production/kustomization.yaml": kz({ resources: ["../../apps/production"] }),
  "apps/base/kustomization.yaml": kz({ resources: ["deployment.yaml"] }),
  "apps/base/deployment.yaml": deployment("podinfo"),
  "apps/production/kustomization.yaml": kz({ namespace: "podinfo", resources: ["../base"] }),
  "apps/staging/kustomization.yaml": kz({ namespace: "podinfo-staging", resources: ["../base"] }),
});
add("flux-system-objects", {
  "flux-system/kustomization.yaml": kz({ resources: ["sync.yaml"] }),
  "flux-system/sync.yaml": docs(fluxKustomization("apps"), fluxKustomization("infra")),
});

// SOPS: Secrets encrypted by ksail (src/secrets) for a throwaway age key. Flux's build passes
// them through (it masks SOPS data); plaintext Secrets are ksail's refusal (the secrets guard).
const sopsRecipient = await identityToRecipient(await generateX25519Identity());
const secret = (name: string, ns?: string) =>
  object("v1", "Secret", name, ns, {
    type: "Opaque",
    data: { password: "aHVudGVyMg==", binary: "AAECA//+/f8=" },
    stringData: { user: "admin" },
  });
const sops = (text: string) =>
  encryptYaml(text, {
    recipients: [sopsRecipient],
    rules: { encryptedRegex: "^(data|stringData)$" },
  });
add("sops-secret-plain-dir", { "app.yaml": cm("a"), "secret.yaml": await sops(secret("db")) });
add("sops-secret-in-kustomization-with-namespace", {
  "kustomization.yaml": kz({ namespace: "demo", namePrefix: "p-", resources: ["base"] }),
  "base/kustomization.yaml": kz({ resources: ["secret.yaml", "deploy.yaml"] }),
  "base/secret.yaml": await sops(secret("db")),
  "base/deploy.yaml": deployment("web"),
});
add("sops-secret-multi-document", {
  "secrets.yaml": await sops(docs(secret("one", "demo"), secret("two", "demo"))),
});
add("sops-secret-mac-only-encrypted", {
  "secret.yaml": await encryptYaml(secret("db"), {
    recipients: [sopsRecipient],
    rules: { encryptedRegex: "^(data|stringData)$", macOnlyEncrypted: true },
  }),
});
add("plaintext-secret", { "secret.yaml": secret("db") }, { allow: "plaintext-secret" });
add(
  "plaintext-secret-nested-multi-doc",
  {
    "kustomization.yaml": kz({ resources: ["apps"] }),
    "apps/kustomization.yaml": kz({ resources: ["app.yaml"] }),
    "apps/app.yaml": docs(cm("a"), secret("db")),
  },
  { allow: "plaintext-secret" },
);
add(
  "generator-secret-literals",
  { "kustomization.yaml": kz({ secretGenerator: [{ name: "creds", literals: ["a=b"] }] }) },
  { allow: "plaintext-secret" },
);

export const CORPUS: readonly CorpusTree[] = cases;

/** A YAML text as a plain object (to nest it in a List). */
function yamlObj(text: string): unknown {
  return JSON.parse(JSON.stringify(parseYamlText(text)));
}

export async function materializeTree(tree: CorpusTree, dir: string): Promise<void> {
  for (const [path, content] of Object.entries(tree.files)) {
    const target = join(dir, ...path.split("/"));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}
