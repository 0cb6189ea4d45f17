/** Object-level diffs of two sources (src/workload/object-diff.ts), on in-memory file sets. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { encryptYaml } from "../../src/secrets/sops-file.js";
import { compareLoaded } from "../../src/workload/diff.js";
import { formatObjectDiff, summarize } from "../../src/workload/object-diff.js";
import { nearestVersions } from "../../src/workload/versions.js";

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([path, text]) => [path, Buffer.from(text)] as const));

const compare = (before: Record<string, string>, after: Record<string, string>) =>
  compareLoaded({ label: "a", files: files(before) }, { label: "b", files: files(after) });

const deployment = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [{containerPort: 80}]
        - name: sidecar
          image: busybox:1
`;

const configMap = (name: string, value: string, namespace = "default") => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: ${namespace}
data:
  value: "${value}"
`;

describe("object diff: what is no change", () => {
  it("ignores key order, comments, quoting and flow vs block style", async () => {
    const reordered = `kind: Deployment
apiVersion: "apps/v1"
spec:
  template:
    spec:
      containers:
        - image: "nginx:1.25"
          name: web
          ports:
            - containerPort: 80
              protocol: TCP # the default, made explicit
        - {name: sidecar, image: busybox:1}
    metadata: {labels: {app: web}}
  selector: {matchLabels: {app: web}}
  replicas: 2
metadata:
  labels:
    tier: front
    app: web
  namespace: default
  name: web
`;
    const result = await compare({ "web.yaml": deployment }, { "web.yaml": reordered });
    assert.equal(result.identical, false);
    assert.deepEqual(result.items, []);
    assert.equal(result.unchanged, 1);
  });

  it("ignores moves between files and splits into documents or a v1 List", async () => {
    const before = {
      "app/web.yaml": deployment,
      "app/a.yaml": configMap("a", "1"),
      "app/b.yaml": configMap("b", "2"),
    };
    const after = {
      "all.yaml": `${deployment}---\n${configMap("a", "1")}`,
      "more/list.yaml": `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: b, namespace: default}
    data: {value: "2"}
`,
    };
    const result = await compare(before, after);
    assert.deepEqual(result.items, []);
    assert.equal(result.unchanged, 3);
  });

  it("says identical only for byte-equal file sets", async () => {
    assert.equal(
      (await compare({ "a.yaml": deployment }, { "a.yaml": deployment })).identical,
      true,
    );
    assert.equal(
      (await compare({ "a.yaml": deployment }, { "b.yaml": deployment })).identical,
      false,
    );
  });
});

describe("object diff: changes", () => {
  it("names added, removed and changed objects, sorted by kind, namespace and name", async () => {
    const result = await compare(
      { "web.yaml": deployment, "a.yaml": configMap("a", "1"), "b.yaml": configMap("b", "1") },
      {
        "web.yaml": deployment.replace("replicas: 2", "replicas: 3"),
        "a.yaml": configMap("a", "1"),
        "c.yaml": configMap("c", "1"),
      },
    );
    assert.deepEqual(
      result.items.map((i) => [i.kind, i.namespace, i.name, i.change]),
      [
        ["ConfigMap", "default", "b", "removed"],
        ["ConfigMap", "default", "c", "added"],
        ["Deployment", "default", "web", "changed"],
      ],
    );
    assert.deepEqual(result.items[2]!.fields, [{ path: "spec.replicas", before: 2, after: 3 }]);
    assert.equal(result.unchanged, 1);
    assert.equal(summarize(result), "1 added, 1 removed, 1 changed, 1 unchanged");
  });

  it("compares named list items by name and shows only the changed fields as YAML", async () => {
    const after = deployment
      .replace("image: nginx:1.25", "image: nginx:1.27")
      .replace("        - name: sidecar\n          image: busybox:1\n", "")
      .replace("tier: front", "tier: back");
    const result = await compare({ "web.yaml": deployment }, { "web.yaml": after });
    assert.deepEqual(result.items[0]!.fields, [
      { path: "metadata.labels.tier", before: "front", after: "back" },
      {
        path: "spec.template.spec.containers[name=sidecar]",
        before: { name: "sidecar", image: "busybox:1" },
      },
      {
        path: "spec.template.spec.containers[name=web].image",
        before: "nginx:1.25",
        after: "nginx:1.27",
      },
    ]);
    assert.equal(
      formatObjectDiff(result.items),
      [
        "Deployment default/web changed",
        "    metadata:",
        "      labels:",
        "-       tier: front",
        "+       tier: back",
        "    spec:",
        "      template:",
        "        spec:",
        "          containers:",
        "-           - name: sidecar",
        "-             image: busybox:1",
        "            - name: web",
        "-             image: nginx:1.25",
        "+             image: nginx:1.27",
      ].join("\n"),
    );
    assert.equal(formatObjectDiff(result.items, true), "Deployment default/web changed");
  });

  it("quotes keys that are not plain names in field paths", async () => {
    const result = await compare(
      { "a.yaml": configMap("a", "1") },
      { "a.yaml": configMap("a", "1").replace("  value:", '  "app.kubernetes.io/x": y\n  value:') },
    );
    assert.deepEqual(result.items[0]!.fields, [
      { path: 'data["app.kubernetes.io/x"]', after: "y" },
    ]);
  });

  it("reports a renamed object and one moved to another namespace as removed + added", async () => {
    const result = await compare(
      { "a.yaml": configMap("a", "1"), "b.yaml": configMap("b", "1", "one") },
      { "a.yaml": configMap("renamed", "1"), "b.yaml": configMap("b", "1", "two") },
    );
    assert.deepEqual(
      result.items.map((i) => `${i.change} ${i.namespace}/${i.name}`),
      ["removed default/a", "added default/renamed", "removed one/b", "added two/b"],
    );
  });

  it("keys objects as kustomize builds them: namespace and namePrefix / nameSuffix", async () => {
    const kustomization = (extra: string, ...resources: string[]) =>
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${extra}resources:\n${resources.map((r) => `  - ${r}\n`).join("")}`;
    const app = {
      "app/kustomization.yaml": kustomization("namePrefix: team-\n", "cm.yaml", "ns.yaml"),
      "app/cm.yaml": configMap("settings", "1").replace("  namespace: default\n", ""),
      "app/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n",
    };
    const before = { "kustomization.yaml": kustomization("namespace: apps\n", "app"), ...app };
    const after = {
      ...before,
      "kustomization.yaml": kustomization("namespace: apps\nnameSuffix: -v2\n", "app"),
    };
    const same = await compare(before, before);
    assert.deepEqual(same.items, []);
    assert.equal(same.unchanged, 2);
    const renamed = await compare(before, after);
    // A Namespace keeps its name (kustomize's prefix/suffix transformer skips it).
    assert.deepEqual(
      renamed.items.map((i) => `${i.change} ${i.kind} ${i.namespace}/${i.name}`),
      ["removed ConfigMap apps/team-settings", "added ConfigMap apps/team-settings-v2"],
    );
  });

  it("masks Secret values, also for stringData and for whole data maps", async () => {
    const secret = (data: string) =>
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\n${data}`;
    const result = await compare(
      { "s.yaml": secret("data:\n  password: c2VjcmV0MQ==\n  user: YWRtaW4=\n") },
      { "s.yaml": secret("stringData:\n  password: secret2\n  user: admin\n  token: t0ken\n") },
    );
    // stringData is data to the API server: user is unchanged, password changed, token added.
    assert.deepEqual(result.items[0]!.fields, [
      { path: "data.password", before: "*** (before)", after: "*** (after)" },
      { path: "data.token", after: "***" },
    ]);
    const text = JSON.stringify(result) + formatObjectDiff(result.items);
    for (const secretValue of ["secret", "c2VjcmV0", "t0ken", "dDBrZW4", "admin", "YWRtaW4"])
      assert.ok(!text.includes(secretValue), `${secretValue} leaked`);
    const whole = await compare(
      { "s.yaml": secret("type: Opaque\n") },
      { "s.yaml": secret("type: Opaque\ndata:\n  key: dmFsdWU=\n") },
    );
    assert.deepEqual(whole.items[0]!.fields, [{ path: "data", after: { key: "***" } }]);
  });

  it("compares SOPS files decrypted when an identity opens them, else by encrypted content", async () => {
    const identity = await generateX25519Identity();
    const recipients = [await identityToRecipient(identity)];
    const rules = { encryptedRegex: "^(data|stringData)$" };
    const secret = (password: string) =>
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  password: ${password}\n`;
    const one = await encryptYaml(secret("first"), { recipients, rules });
    const again = await encryptYaml(secret("first"), { recipients, rules });
    const two = await encryptYaml(secret("second"), { recipients, rules });
    const run = (before: string, after: string, keys: string[]) =>
      compareLoaded(
        { label: "a", files: files({ "s.yaml": before }) },
        { label: "b", files: files({ "s.yaml": after }) },
        async () => keys,
      );
    // Re-encrypting the same value: a change in encrypted form, none once decrypted.
    const sameWithout = await run(one, again, []);
    assert.equal(sameWithout.items.length, 1);
    assert.deepEqual(sameWithout.encrypted, ["s.yaml"]);
    const sameWith = await run(one, again, [identity]);
    assert.deepEqual(sameWith.items, []);
    assert.deepEqual(sameWith.encrypted, []);
    const changed = await run(one, two, [identity]);
    assert.deepEqual(changed.items[0]!.fields, [
      { path: "data.password", before: "*** (before)", after: "*** (after)" },
    ]);
    assert.ok(!JSON.stringify(changed).includes("second"));
  });

  it("refuses two objects with one identity, naming both files", async () => {
    await assert.rejects(
      compare({ "a.yaml": configMap("a", "1"), "b.yaml": configMap("a", "2") }, {}),
      /ConfigMap default\/a is built twice \(a\.yaml and b\.yaml\)/,
    );
  });
});

describe("nearest versions", () => {
  it("lists the versions around a missing one, or the highest for a non-version", async () => {
    const tags = ["0.0.1", "0.0.2", "0.0.3", "0.0.5", "0.0.6", "0.0.7", "latest"];
    assert.deepEqual(nearestVersions(tags, "0.0.4"), ["0.0.2", "0.0.3", "0.0.5", "0.0.6"]);
    assert.deepEqual(nearestVersions(tags, "0.0.0"), ["0.0.1", "0.0.2", "0.0.3", "0.0.5"]);
    assert.deepEqual(nearestVersions(tags, "9.0.0"), ["0.0.3", "0.0.5", "0.0.6", "0.0.7"]);
    assert.deepEqual(nearestVersions(tags, "stable"), ["0.0.3", "0.0.5", "0.0.6", "0.0.7"]);
    assert.deepEqual(nearestVersions([], "0.0.1"), []);
  });
});
