/** Pinning images by digest in the packaged root kustomization (src/images/pin.ts). */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import {
  imageName,
  imagesAnnotation,
  parseImagesAnnotation,
  pinImagesInSource,
  type ImagePin,
} from "../../src/images/pin.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const WEB: ImagePin = { name: "web", newName: "localhost:5000/web", digest: DIGEST };

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ksail-pin-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: web:dev
`;

describe("pinImagesInSource", () => {
  it("adds images entries to a copy of the root kustomization; the user's file is untouched", async () => {
    const original =
      "# my app\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deploy.yaml # the app\nimages:\n  - name: web\n    newTag: old\n  - name: redis\n    newTag: '7'\n";
    const dir = await tree({ "kustomization.yaml": original, "deploy.yaml": DEPLOYMENT });
    const { files } = await listSourceFiles(dir);
    const pinned = await pinImagesInSource(files, [WEB]);
    try {
      assert.equal(await readFile(join(dir, "kustomization.yaml"), "utf8"), original);
      assert.deepEqual(
        pinned.files.map((f) => f.path),
        files.map((f) => f.path),
      );
      const packaged = pinned.files.find((f) => f.path === "kustomization.yaml")!;
      const text = await readFile(packaged.absolutePath, "utf8");
      assert.equal(packaged.size, Buffer.byteLength(text));
      assert.match(text, /^# my app/);
      assert.match(text, /deploy\.yaml # the app/);
      assert.deepEqual(parse(text).images, [
        { name: "redis", newTag: "7" },
        { name: "web", newName: "localhost:5000/web", digest: DIGEST },
      ]);
      assert.deepEqual(pinned.kustomization, { path: "kustomization.yaml", generated: false });
      assert.deepEqual(pinned.unused, []);
    } finally {
      await pinned.remove();
    }
  });

  it("without a root kustomization, adds one listing what Flux's generator would take", async () => {
    const dir = await tree({
      "deploy.yaml": DEPLOYMENT,
      "b/svc.yml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
      "b/notes.json": "{}",
      "c/kustomization.yaml": "resources: [cm.yaml]\n",
      "c/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
      "c/deeper/more.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n",
      "README.md": "# docs\n",
    });
    const { files } = await listSourceFiles(dir);
    const pinned = await pinImagesInSource(files, [WEB]);
    try {
      assert.deepEqual(pinned.kustomization, { path: "kustomization.yaml", generated: true });
      const text = await readFile(
        pinned.files.find((f) => f.path === "kustomization.yaml")!.absolutePath,
        "utf8",
      );
      const doc = parse(text);
      assert.deepEqual(doc.resources, ["b/svc.yml", "c", "deploy.yaml"]);
      assert.deepEqual(doc.images, [
        { name: "web", newName: "localhost:5000/web", digest: DIGEST },
      ]);
      assert.equal(doc.kind, "Kustomization");
      // Packaged in byte order, like every other file.
      const paths = pinned.files.map((f) => f.path);
      assert.deepEqual(paths, [...paths].sort());
    } finally {
      await pinned.remove();
    }
  });

  it("an empty root kustomization becomes one with only the images", async () => {
    const dir = await tree({ "kustomization.yaml": "# nothing yet\n", "deploy.yaml": DEPLOYMENT });
    const { files } = await listSourceFiles(dir);
    const pinned = await pinImagesInSource(files, [WEB]);
    try {
      const text = await readFile(
        pinned.files.find((f) => f.path === "kustomization.yaml")!.absolutePath,
        "utf8",
      );
      assert.deepEqual(parse(text), {
        images: [{ name: "web", newName: "localhost:5000/web", digest: DIGEST }],
      });
    } finally {
      await pinned.remove();
    }
  });

  it("names images no manifest uses", async () => {
    const dir = await tree({ "deploy.yaml": DEPLOYMENT });
    const { files } = await listSourceFiles(dir);
    const api: ImagePin = { name: "team/api", newName: "localhost:5000/team/api", digest: DIGEST };
    const pinned = await pinImagesInSource(files, [WEB, api]);
    await pinned.remove();
    assert.deepEqual(pinned.unused, ["team/api"]);
  });
});

describe("image names and the annotation", () => {
  it("drops tags and digests, keeps registry ports", () => {
    assert.equal(imageName("web"), "web");
    assert.equal(imageName("web:1.2"), "web");
    assert.equal(imageName(`web@${DIGEST}`), "web");
    assert.equal(imageName(`localhost:5000/web:dev@${DIGEST}`), "localhost:5000/web");
    assert.equal(imageName("localhost:5000/web"), "localhost:5000/web");
  });

  it("round-trips, names sorted", () => {
    const api: ImagePin = { name: "api", newName: "localhost:5000/api", digest: DIGEST };
    const value = imagesAnnotation([WEB, api]);
    assert.equal(
      value,
      `{"api":"localhost:5000/api@${DIGEST}","web":"localhost:5000/web@${DIGEST}"}`,
    );
    assert.deepEqual(parseImagesAnnotation(value), {
      api: `localhost:5000/api@${DIGEST}`,
      web: `localhost:5000/web@${DIGEST}`,
    });
    assert.equal(parseImagesAnnotation("not json"), undefined);
  });
});
