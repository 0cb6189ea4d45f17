/**
 * `buildImages` against a real engine (dockerd, or Podman's Docker API) and the real
 * distribution registry: build + push, the cache hit that needs no engine, a failing
 * Dockerfile, a stop during the build. images-build.test.ts runs them on dockerd,
 * images-build-podman.test.ts on Podman.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connectEngine, type Engine } from "../../src/engine/docker.js";
import { KsailError } from "../../src/errors.js";
import { buildImages, imageDestination, type BuiltImage } from "../../src/images/build.js";
import { ImageRebuilder } from "../../src/images/rebuild.js";
import { RegistryClient } from "../../src/oci/client.js";
import type { Progress } from "../../src/progress.js";
import { writeAppContext } from "../../lab/app-image.js";
import type { TestEngine } from "../../lab/docker.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

export function recordingProgress(): Progress & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    step: async (label, run, summary) => {
      lines.push(label);
      const result = await run();
      if (summary) lines.push(summary(result));
      return result;
    },
    info: (line) => lines.push(line),
    warn: (line) => lines.push(`warning: ${line}`),
  };
}

/** An engine getter that fails the test if anything asks for it. */
const noEngine = () =>
  Promise.reject(new Error("the engine was asked for although nothing needed a build"));

async function imagesNamed(engine: TestEngine, repository: string): Promise<string[]> {
  const images = await engine.docker.listImages();
  return images
    .flatMap((i) => i.RepoTags ?? [])
    .filter((t) => t.startsWith(`${repository}:`) || t.includes(`/${repository}:`));
}

export function imageBuildScenarios(
  name: string,
  start: () => Promise<TestEngine>,
  options: { full: boolean },
): void {
  describe(`workload build on ${name}`, { timeout: 600_000 }, () => {
    let lab: TestEngine;
    let registry: LabRegistry;
    let client: RegistryClient;
    let engine: Engine;

    before(async () => {
      [lab, registry] = await Promise.all([start(), startRegistry()]);
      client = new RegistryClient();
      engine = await connectEngine(lab.env);
    });
    after(async () => {
      client?.close();
      await Promise.allSettled([lab?.stop(), registry?.stop()]);
    });

    const destination = () => imageDestination({ registry: registry.registry, repository: "app" });

    test("builds FROM scratch, pushes to the registry, pins the registry's digest; the second build is a cache hit", async () => {
      const context = writeAppContext("hello from v1");
      const progress = recordingProgress();
      const [first] = (await buildImages(
        { client, engine: () => Promise.resolve(engine) },
        { images: [{ name: "web", context }], destination: destination() },
        progress,
      )) as [BuiltImage];
      assert.equal(first.built, true);
      assert.equal(first.repository, `${registry.registry}/web`);
      assert.match(first.tag, /^[0-9a-f]{16}$/);
      // Docker reports each layer it sends; Podman 4 reports only the final digest.
      if (lab.product === "docker")
        assert.ok((first.layersPushed ?? 0) >= 1, `layers pushed: ${first.layersPushed}`);
      else assert.equal(first.layersPushed, undefined);
      const held = await client.resolve(
        { registry: registry.registry, repository: "web" },
        first.tag,
      );
      assert.equal(held?.digest, first.digest);
      assert.equal(first.clusterImage, `${registry.registry}/web@${first.digest}`);
      // The build's own output streamed under the step.
      assert.ok(
        progress.lines.some((l) =>
          /^ {2}Step \d\/\d : COPY busybox|^ {2}STEP \d\/\d: COPY busybox/.test(l),
        ),
        progress.lines.join("\n"),
      );
      // Nothing kept a name but the pushed tag.
      assert.deepEqual(await imagesNamed(lab, `${registry.registry}/web`), [
        `${registry.registry}/web:${first.tag}`,
      ]);

      // Same context: the registry has the tag; the engine is not even asked.
      const [second] = (await buildImages(
        { client, engine: noEngine },
        { images: [{ name: "web", context }], destination: destination() },
      )) as [BuiltImage];
      assert.equal(second.built, false);
      assert.equal(second.layersPushed, 0);
      assert.equal(second.tag, first.tag);
      assert.equal(second.digest, first.digest);

      // A changed file: a new tag and digest.
      writeFileSync(join(context, "www", "index.html"), "hello from v2\n");
      const [third] = (await buildImages(
        { client, engine: () => Promise.resolve(engine) },
        { images: [{ name: "web", context }], destination: destination() },
      )) as [BuiltImage];
      assert.equal(third.built, true);
      assert.notEqual(third.tag, first.tag);
      assert.notEqual(third.digest, first.digest);
    });

    test("a failing Dockerfile: exit 1 with the last build lines, nothing pushed, nothing named", async () => {
      const context = writeAppContext("broken", {
        Dockerfile:
          'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo about to fail; exit 3"]\n',
      });
      const error = await buildImages(
        { client, engine: () => Promise.resolve(engine) },
        { images: [{ name: "broken", context }], destination: destination(), streamOutput: false },
      ).then(
        () => assert.fail("the build should fail"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof KsailError, String(error));
      assert.equal(error.kind, "failed");
      assert.match(error.message, /the image build failed: .*(non-zero|exit).*3/);
      assert.ok(
        error.details.some((l) => l.includes("about to fail")),
        error.details.join("\n"),
      );
      assert.deepEqual(await tagsOf(client, registry.registry, "broken"), []);
      assert.deepEqual(await imagesNamed(lab, `${registry.registry}/broken`), []);
    });

    if (!options.full) return;

    test("Ctrl-C during a build: the build stops, no tag in the registry or the engine", async () => {
      const context = writeAppContext("slow", {
        Dockerfile:
          'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo sleeping; sleep 120"]\n',
      });
      const controller = new AbortController();
      const progress = recordingProgress();
      const info = progress.info;
      progress.info = (line) => {
        info(line);
        if (line.includes("sleeping")) controller.abort(new Error("interrupted"));
      };
      const error = await buildImages(
        { client, engine: () => Promise.resolve(engine) },
        {
          images: [{ name: "slow", context }],
          destination: destination(),
          signal: controller.signal,
        },
        progress,
      ).then(
        () => assert.fail("the build should stop"),
        (e: unknown) => e,
      );
      assert.ok(controller.signal.aborted);
      assert.equal((error as Error).message, "interrupted");
      assert.deepEqual(await tagsOf(client, registry.registry, "slow"), []);
      assert.deepEqual(await imagesNamed(lab, `${registry.registry}/slow`), []);
    });

    test("watch: only the image whose context changed is rebuilt; ignored files and manifest saves build nothing", async () => {
      const web = writeAppContext("web v1", { ".dockerignore": "*.md\n" });
      const api = writeAppContext("api v1");
      let engineCalls = 0;
      const rebuilder = new ImageRebuilder(
        {
          client,
          engine: () => {
            engineCalls++;
            return Promise.resolve(engine);
          },
        },
        {
          images: [
            { name: "w", context: web },
            { name: "a", context: api },
          ],
          destination: destination(),
        },
      );
      const first = await rebuilder.build([]);
      assert.deepEqual(first.checked, ["w", "a"]);
      assert.deepEqual(
        first.images.map((i) => i.built),
        [true, true],
      );
      assert.equal(engineCalls, 2);

      // A manifest save, an ignored file, the context's .git: nothing is checked.
      writeFileSync(join(web, "NOTES.md"), "ignored\n");
      mkdirSync(join(api, ".git"), { recursive: true });
      writeFileSync(join(api, ".git", "index"), "git\n");
      const quiet = await rebuilder.build([
        "/elsewhere/k8s/deploy.yaml",
        join(web, "NOTES.md"),
        join(api, ".git", "index"),
      ]);
      assert.deepEqual(quiet.checked, []);
      assert.deepEqual(quiet.images, first.images);
      assert.equal(engineCalls, 2);

      writeFileSync(join(api, "www", "index.html"), "api v2\n");
      const second = await rebuilder.build([join(api, "www", "index.html")]);
      assert.deepEqual(second.checked, ["a"]);
      assert.equal(second.images[0], first.images[0]);
      assert.equal(second.images[1]!.built, true);
      assert.notEqual(second.images[1]!.digest, first.images[1]!.digest);
      assert.equal(engineCalls, 3);
    });

    test("no engine: exit 6 saying what is needed (only when something must be built)", async () => {
      const context = writeAppContext("no engine here");
      const error = await buildImages(
        {
          client,
          engine: () => connectEngine({ DOCKER_HOST: "unix:///tmp/ksail-no-such-dir/d.sock" }),
        },
        { images: [{ name: "orphan", context }], destination: destination() },
      ).then(
        () => assert.fail("the build should fail"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof KsailError, String(error));
      assert.equal(error.kind, "not-found");
      assert.match(error.message, /building images \(spec\.images\) needs Docker or Podman/);
    });
  });
}

async function tagsOf(
  client: RegistryClient,
  registry: string,
  repository: string,
): Promise<string[]> {
  try {
    return await client.listTags({ registry, repository });
  } catch (error) {
    if (error instanceof KsailError && error.kind === "not-found") return [];
    throw error;
  }
}
