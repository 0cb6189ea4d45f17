/**
 * A newcomer's first manifest (issue 21.5): `ksail init`, the cluster set up (here the process
 * lab: real kube-apiserver, source-controller and kustomize-controller, with `flux install` and
 * `flux sync` doing what `ksail up` does for Flux), then one new file in k8s/ — no kustomization
 * edited by hand — and `watch` makes Flux apply it.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeLabInstallManifests } from "../../lab/flux-install-manifests.js";
import {
  LAB_FLUX_VERSION,
  labInitArgs,
  pointFluxAtLabRegistry,
  startFluxLab,
} from "../../lab/flux-lab.js";
import { kubeRequest, type KubeLab } from "../../lab/k8s/lab.js";
import { runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";
import { startWatch, type WatchRun } from "../../lab/watch.js";

const NAME = "newcomer";
let lab: KubeLab;
let registry: LabRegistry;
let project: string;
let watch: WatchRun | undefined;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-first-manifest-"));
});

after(async () => {
  await watch?.stop().catch(() => undefined);
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("init → cluster with Flux → a new file in k8s/ → watch", () => {
  it("applies the first manifest without any kustomization written by hand", async () => {
    const init = await ksail(...labInitArgs(lab, registry, NAME, "1h"));
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(await readdir(join(project, "k8s")), []);
    await pointFluxAtLabRegistry(project, registry);
    const manifests = await writeLabInstallManifests(
      join(project, "install.yaml"),
      LAB_FLUX_VERSION,
    );
    const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
    assert.equal(install.code, 0, install.stderr);
    const sync = await ksail("flux", "sync");
    assert.equal(sync.code, 0, sync.stderr);

    // What a newcomer does next: one manifest in k8s/, nothing else.
    await writeFile(
      join(project, "k8s", "deployment.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}-first\n  namespace: default\ndata:\n  hello: world\n`,
    );
    watch = startWatch({ project, args: ["--timeout", "60s"] });
    const first = await watch.cycle(1);
    assert.equal(first.outcome, "applied", watch.describe());
    assert.doesNotMatch(watch.describe(), /never applies this manifest/);
    const response = await kubeRequest(
      lab,
      "GET",
      `/api/v1/namespaces/default/configmaps/${NAME}-first`,
    );
    assert.equal(response.status, 200, JSON.stringify(response.json));
    assert.deepEqual((response.json as { data?: unknown }).data, { hello: "world" });
  });
});
