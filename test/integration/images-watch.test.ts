/**
 * `ksail workload watch --no-reconcile` with spec.images (the built CLI as a process, our own
 * dockerd, the distribution registry): the first cycle builds the image and pins it; a code
 * change in the image's context builds it again and pushes a version with the new digest; a
 * manifest-only save and a save of a .dockerignore'd file build nothing.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { listVersions } from "../../src/workload/versions.js";
import { appDeployment, writeAppContext } from "../../lab/app-image.js";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { startWatch } from "../../lab/watch.js";

describe("workload watch with spec.images", { timeout: 600_000 }, () => {
  let engine: TestEngine;
  let registry: LabRegistry;
  const client = new RegistryClient();

  before(async () => {
    [engine, registry] = await Promise.all([startDockerEngine(), startRegistry()]);
  });
  after(async () => {
    client.close();
    await Promise.allSettled([engine?.stop(), registry?.stop()]);
  });

  it("rebuilds only on context changes, and each version pins the digest built", async () => {
    const project = await mkdtemp(join(tmpdir(), "ksail-watch-images-"));
    mkdirSync(join(project, "k8s"));
    writeFileSync(
      join(project, "k8s", "deploy.yaml"),
      appDeployment({ annotations: { note: "one" } }),
    );
    const web = writeAppContext("v1", { ".dockerignore": "*.md\n" }, join(project, "web"));
    const port = registry.registry.split(":")[1];
    writeFileSync(
      join(project, "ksail.yaml"),
      `apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: watched\nspec:\n  localRegistry: Enabled\n  options:\n    localRegistry:\n      hostPort: ${port}\n  images:\n    - name: web\n      context: ./web\n`,
    );
    const watch = startWatch({
      project,
      args: ["--no-reconcile", "--debounce", "50ms"],
      env: { DOCKER_HOST: engine.dockerHost },
    });
    try {
      const start = await watch.cycle(1, 120_000);
      assert.equal(start.outcome, "pushed", watch.describe());
      assert.ok((start.timings as { buildMs?: number }).buildMs !== undefined, watch.describe());
      const repository = { registry: registry.registry, repository: "watched" };
      const v1 = (await listVersions({ client }, { repository })).at(-1)!;
      assert.match(v1.images?.web ?? "", new RegExp(`^localhost:${port}/web@sha256:`));

      writeFileSync(join(web, "www", "index.html"), "v2\n");
      const code = await watch.cycle(2, 120_000);
      assert.equal(code.outcome, "pushed", watch.describe());
      assert.deepEqual((code as { built?: string[] }).built, ["web"]);
      // The build stage's time, per step of the image it built.
      const steps = (code as { buildSteps?: Record<string, Record<string, number>> }).buildSteps;
      assert.deepEqual(Object.keys(steps ?? {}), ["web"], watch.describe());
      assert.deepEqual(Object.keys(steps!.web!).sort(), [
        "buildMs",
        "checkMs",
        "digestMs",
        "hashMs",
        "pushMs",
      ]);
      assert.deepEqual(code.changed, []);
      const v2 = (await listVersions({ client }, { repository })).at(-1)!;
      assert.notEqual(v2.images?.web, v1.images?.web);

      // An ignored file in the context: no cycle. Then a manifest save: a cycle without a build.
      writeFileSync(join(web, "NOTES.md"), "ignored by .dockerignore\n");
      writeFileSync(
        join(project, "k8s", "deploy.yaml"),
        appDeployment({ annotations: { note: "two" } }),
      );
      const manifest = await watch.cycle(3, 120_000);
      assert.equal(manifest.outcome, "pushed", watch.describe());
      assert.deepEqual(manifest.changed, ["deploy.yaml"], watch.describe());
      assert.equal((manifest as { built?: string[] }).built, undefined);
      assert.equal((manifest.timings as { buildMs?: number }).buildMs, undefined);
      assert.equal((manifest as { buildSteps?: unknown }).buildSteps, undefined);
      const v3 = (await listVersions({ client }, { repository })).at(-1)!;
      assert.equal(v3.images?.web, v2.images?.web);
      assert.match(watch.describe(), /built web/);
    } finally {
      await watch.stop();
    }
    // Nothing else came: the ignored file started no cycle.
    assert.equal(watch.reports.length, 3, watch.describe());
  });
});
