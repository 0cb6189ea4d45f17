/**
 * The identities the inventory check expects (renderIdentities, src/flux/render.ts) against
 * Flux's own build: `flux build kustomization --dry-run` (kustomize as kustomize-controller runs
 * it) of the same tree must yield the same set of objects — generated ConfigMaps and Secrets
 * matched by their name plus kustomize's 10-character hash suffix — for kustomizations with
 * generators, identity-preserving patches, labels, images, namespace and name prefixes.
 * Patches that may rename or delete objects are refused, and Flux's build shows why.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { fluxBinary, fluxBuild } from "../../lab/flux-build.js";
import { renderIdentities, type RenderedIdentity } from "../../src/flux/render.js";
import { isKsailError } from "../../src/errors.js";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import type { BuiltIdentities } from "../../src/validate/build.js";
import { validateSource } from "../../src/validate/manifests.js";

type Tree = Record<string, string | Buffer>;

const cm = (name: string, namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ""}data:\n  a: "1"\n`;
const deployment = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: app
          image: nginx:1.25
          envFrom:
            - configMapRef: {name: settings}
`;

const FIXTURES: Record<string, Tree> = {
  "generators with namespace and prefix": {
    "kustomization.yaml": `namespace: apps
namePrefix: dev-
resources: [web.yaml]
configMapGenerator:
  - name: settings
    literals: [colour=blue, size=large]
  - name: files
    files: [app.properties, renamed.txt=other.txt]
secretGenerator:
  - name: creds
    literals: [password=not-a-real-one]
    type: Opaque
generatorOptions:
  labels: {generated: "yes"}
`,
    "web.yaml": deployment("web"),
    "app.properties": "x=1\n",
    "other.txt": "hello\n",
  },
  "identity-preserving patches, labels, images, replicas": {
    "kustomization.yaml": `resources: [web.yaml, settings.yaml]
labels:
  - pairs: {team: a}
commonAnnotations: {owner: me}
images:
  - name: nginx
    newTag: "1.27"
replicas:
  - name: web
    count: 3
patches:
  - path: patch-web.yaml
  - target: {kind: ConfigMap}
    patch: |-
      - op: add
        path: /data/b
        value: "2"
  - target: {kind: Deployment, name: web}
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ignored
      spec:
        minReadySeconds: 5
patchesStrategicMerge:
  - |-
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: apps
    data:
      c: "3"
patchesJson6902:
  - target: {group: apps, version: v1, kind: Deployment, name: web}
    path: ops.yaml
`,
    "web.yaml": deployment("web"),
    "settings.yaml": cm("settings", "apps"),
    "patch-web.yaml":
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  revisionHistoryLimit: 2\n",
    "ops.yaml": "- op: replace\n  path: /spec/replicas\n  value: 2\n",
  },
  "a base with a generator, an overlay that merges into it and renames": {
    "kustomization.yaml": `resources: [base]
namePrefix: prod-
nameSuffix: -v2
namespace: prod
configMapGenerator:
  - name: settings
    behavior: merge
    literals: [colour=red]
  - name: extra
    envs: [extra.env]
`,
    "extra.env": "A=1\n# comment\nB=two\n",
    "base/kustomization.yaml": `resources: [web.yaml, ns.yaml]
configMapGenerator:
  - name: settings
    literals: [colour=blue]
`,
    "base/web.yaml": deployment("web"),
    "base/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n",
  },
  "hash suffixes turned off, per kustomization and per generator": {
    "kustomization.yaml": `resources: [sub]
configMapGenerator:
  - name: plain
    literals: [a=1]
    options:
      disableNameSuffixHash: true
  - name: hashed
    literals: [a=1]
`,
    "sub/kustomization.yaml": `generatorOptions:
  disableNameSuffixHash: true
secretGenerator:
  - name: token
    namespace: tools
    literals: [t=x]
bases: [../more]
`,
    "more/kustomization.yaml": "resources: [cm.yaml]\n",
    "more/cm.yaml": cm("more", "tools"),
  },
  "plain resources, nested, with namespace, prefix, suffix, labels and images": {
    "kustomization.yaml": `resources: [base, extra.yaml]
namespace: shop
namePrefix: eu-
commonLabels: {env: prod}
images:
  - name: nginx
    newTag: "1.27"
`,
    "extra.yaml": `${cm("extra")}---\n${"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n"}`,
    "base/kustomization.yaml": "resources: [web.yaml, ns.yaml]\nnameSuffix: -b\n",
    "base/web.yaml": deployment("web"),
    "base/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
  },
  "generator content: quoted literals, escapes, binary files, env files, secret types": {
    "kustomization.yaml": `configMapGenerator:
  - name: literals
    literals: ["q='single'", 'd="double"', "html=<a&b>", "eq=a=b", "empty="]
  - name: texts
    files: [odd.txt, data/sep.txt]
  - name: binary-only
    files: [logo=blob.bin]
  - name: mixed
    files: [blob.bin, odd.txt]
    literals: [k=v]
  - name: env
    envs: [a.env, b.env]
    options:
      labels: {not: hashed}
      annotations: {neither: this}
secretGenerator:
  - name: tls-like
    type: kubernetes.io/tls
    literals: [tls.crt=cert, tls.key=key]
  - name: opaque
    files: [blob.bin]
    envs: [b.env]
  - name: typed
    type: example.com/custom
    literals: [a=1]
`,
    "odd.txt":
      'tab\there\bback\fform\u2028line\u2029para \u00e9\u{1F600}\r\n\u0001"quoted" \\ end\n',
    "data/sep.txt": "no newline at the end",
    "blob.bin": Buffer.from([0xff, 0xfe, 0x80, 0x41]),
    "a.env": "\uFEFFFIRST=1\r\n  # indented comment\n\n  SPACED=  keep spaces  \nEQ=a=b\nBARE\n",
    "b.env": "LAST='quoted stays'",
  },
  "merge and replace into a base's generators": {
    "kustomization.yaml": `resources: [base]
configMapGenerator:
  - name: merged
    behavior: merge
    literals: [b=overlay, c=new]
  - name: replaced
    behavior: replace
    files: [r.txt]
secretGenerator:
  - name: creds
    behavior: merge
    literals: [token=t2]
`,
    "r.txt": "replaced\n",
    "base/kustomization.yaml": `configMapGenerator:
  - name: merged
    literals: [a=base, b=base]
  - name: replaced
    literals: [old=1]
secretGenerator:
  - name: creds
    type: example.com/kept
    literals: [user=u]
`,
  },
  "a patch on a generated ConfigMap (its hash is matched by prefix)": {
    "kustomization.yaml": `configMapGenerator:
  - name: patched
    literals: [a=1]
patches:
  - target: {kind: ConfigMap, name: patched}
    patch: |-
      - op: add
        path: /data/b
        value: "2"
`,
  },
  "no root kustomization: Flux generates it; a folder with generators is one unit": {
    "plain.yaml": cm("plain", "default"),
    "nested/deep.yml": cm("deep", "default"),
    "app/kustomization.yaml": `namespace: app
resources: [web.yaml]
configMapGenerator:
  - name: settings
    literals: [k=v]
`,
    "app/web.yaml": deployment("web"),
    "notes.txt": "not a manifest\n",
  },
};

let work: string;
let flux: string;

async function writeTree(dir: string, tree: Tree): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const [path, text] of Object.entries(tree)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
    files.set(path, Buffer.isBuffer(text) ? text : Buffer.from(text));
  }
  return files;
}

const key = (o: { group: string; kind: string; namespace: string; name: string }) =>
  `${o.group}/${o.kind} ${o.namespace}/${o.name}`;

/** The objects of Flux's build output, as identities. */
function fluxIdentities(
  output: string,
): { group: string; kind: string; namespace: string; name: string }[] {
  return parseAllDocuments(output)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((o): o is Record<string, unknown> => o !== null)
    .map((o) => {
      const apiVersion = String(o.apiVersion);
      const metadata = o.metadata as { name: string; namespace?: string };
      return {
        group: apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "",
        kind: String(o.kind),
        namespace: metadata.namespace ?? "",
        name: metadata.name,
      };
    });
}

/** Pairs ours with Flux's: exact names, then generated ones by name + `-` + 10-char hash. */
function unmatched(ours: RenderedIdentity[], theirs: ReturnType<typeof fluxIdentities>) {
  const left = new Map(theirs.map((t) => [key(t), t]));
  const missing: string[] = [];
  for (const o of ours.filter((o) => !o.hashSuffix)) {
    if (!left.delete(key(o))) missing.push(key(o));
  }
  for (const o of ours.filter((o) => o.hashSuffix)) {
    const match = [...left.values()].find(
      (t) =>
        t.group === o.group &&
        t.kind === o.kind &&
        t.namespace === o.namespace &&
        new RegExp(`^${o.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[0-9a-z]{10}$`).test(t.name),
    );
    if (match) left.delete(key(match));
    else missing.push(`${key(o)}-<hash>`);
  }
  return { missing, extra: [...left.keys()] };
}

before(async () => {
  flux = fluxBinary();
  work = await mkdtemp(join(tmpdir(), "ksail-inventory-oracle-"));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("inventory identities agree with flux build", () => {
  for (const [name, tree] of Object.entries(FIXTURES)) {
    it(name, async () => {
      const dir = join(work, name.replace(/[^a-z0-9]+/gi, "-"));
      const files = await writeTree(join(dir, "src"), tree);
      const ours = renderIdentities(files);
      const built = await fluxBuild(flux, join(dir, "src"), dir);
      assert.ok(built.ok, built.output);
      const theirs = fluxIdentities(built.output);
      assert.ok(theirs.length > 0);
      assert.deepEqual(unmatched(ours, theirs), { missing: [], extra: [] }, built.output);
      assert.equal(ours.length, theirs.length);
      // Generated names carry kustomize's exact hash unless a patch may change their data.
      const patched = Object.values(tree).some((text) => /^patches/m.test(text.toString()));
      if (!patched)
        assert.deepEqual(
          ours.filter((o) => o.hashSuffix),
          [],
        );
      else
        for (const o of ours.filter((o) => o.hashSuffix))
          assert.match(o.hashUnknown ?? "", /has patches, which may change its data/);

      // ksail's validation refuses non-UTF-8 files (the binaryData fixture's); Flux builds them.
      if (Object.values(tree).some((text) => Buffer.isBuffer(text))) return;
      // What `watch` uses: validation's identities, when it can tell them exactly.
      const identities: BuiltIdentities = {};
      const { files: listed } = await listSourceFiles(join(dir, "src"));
      const issues = await validateSource(join(dir, "src"), listed, {
        identities,
        secrets: { allowPlaintext: true },
      });
      assert.deepEqual(issues, []);
      const exact = !Object.entries(tree).some(
        ([path, text]) =>
          path.endsWith("kustomization.yaml") && /Generator|patches/.test(text.toString()),
      );
      if (exact) {
        assert.equal(identities.inexact, undefined);
        const validated = (identities.objects ?? []).map((id) => ({ ...id, apiVersion: "" }));
        assert.deepEqual(unmatched(validated, theirs), { missing: [], extra: [] });
      } else {
        assert.match(identities.inexact ?? "", /the kustomizations use .*(Generator|patches)/);
      }
    });
  }

  const refused: Record<string, { tree: Tree; reason: RegExp }> = {
    "a JSON 6902 patch that renames": {
      tree: {
        "kustomization.yaml": `resources: [cm.yaml]
patches:
  - target: {kind: ConfigMap, name: one}
    patch: |-
      - op: replace
        path: /metadata/name
        value: two
`,
        "cm.yaml": cm("one", "default"),
      },
      reason: /patch operation replace \/metadata\/name may rename or move objects/,
    },
    "a strategic merge patch that deletes": {
      tree: {
        "kustomization.yaml": `resources: [cm.yaml]
patches:
  - patch: |-
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: one
        namespace: default
      $patch: delete
`,
        "cm.yaml": `${cm("one", "default")}---\n${cm("kept", "default")}`,
      },
      reason: /\$patch: delete changes which objects exist/,
    },
  };
  for (const [name, { tree, reason }] of Object.entries(refused)) {
    it(`refuses ${name} (flux build's objects differ from the resources)`, async () => {
      const dir = join(work, name.replace(/[^a-z0-9]+/gi, "-"));
      const files = await writeTree(join(dir, "src"), tree);
      assert.throws(
        () => renderIdentities(files),
        (error: unknown) =>
          isKsailError(error) && error.kind === "usage" && reason.test(error.message),
      );
      const built = await fluxBuild(flux, join(dir, "src"), dir);
      assert.ok(built.ok, built.output);
      const names = fluxIdentities(built.output).map((o) => o.name);
      assert.ok(!names.includes("one"), names.join(", "));
    });
  }
});
