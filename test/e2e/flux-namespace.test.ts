/**
 * `-n, --namespace` (issue 21.7): the workload's OCIRepository and Kustomization in a namespace
 * other than flux-system, driven through every command that reads or writes them — the built CLI
 * as a process against the process lab (real kube-apiserver, source-controller and
 * kustomize-controller) — and KSAIL_FLUX_NAMESPACE doing the same as the flag.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
import { json, runKsail } from "../../lab/ksail.js";
import type { LabRegistry } from "../../lab/registry.js";
import { startWatch, type WatchRun } from "../../lab/watch.js";

const NAME = "teamapp";
const NS = "team-a";
let lab: KubeLab;
let registry: LabRegistry;
let project: string;
let watch: WatchRun | undefined;

const ksail = (...args: string[]) => runKsail(args, { cwd: project });
const configMap = (greeting: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}-settings\n  namespace: default\ndata:\n  greeting: ${JSON.stringify(greeting)}\n`;
const writeSource = (greeting: string) =>
  writeFile(join(project, "k8s", "settings.yaml"), configMap(greeting));

async function status(path: string): Promise<number> {
  return (await kubeRequest(lab, "GET", path)).status;
}
const ociRepositoryPath = (ns: string) =>
  `/apis/source.toolkit.fluxcd.io/v1/namespaces/${ns}/ocirepositories/${NAME}`;
const kustomizationPath = (ns: string) =>
  `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations/${NAME}`;
async function greeting(): Promise<string | undefined> {
  const response = await kubeRequest(
    lab,
    "GET",
    `/api/v1/namespaces/default/configmaps/${NAME}-settings`,
  );
  return (response.json as { data?: { greeting?: string } }).data?.greeting;
}

before(async () => {
  ({ lab, registry } = await startFluxLab());
  project = await mkdtemp(join(tmpdir(), "ksail-e2e-namespace-"));
  const init = await ksail(...labInitArgs(lab, registry, NAME, "1h"));
  assert.equal(init.code, 0, init.stderr);
  await pointFluxAtLabRegistry(project, registry);
  const manifests = await writeLabInstallManifests(join(project, "install.yaml"), LAB_FLUX_VERSION);
  const install = await ksail("flux", "install", "--manifests", manifests, "--timeout", "2m");
  assert.equal(install.code, 0, install.stderr);
  const created = await kubeRequest(lab, "POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NS },
  });
  assert.equal(created.status, 201, created.body);
});

after(async () => {
  await watch?.stop().catch(() => undefined);
  await Promise.all([lab?.stop(), registry?.stop()]);
  if (project) await rm(project, { recursive: true, force: true });
});

describe("the Flux objects in another namespace (-n)", () => {
  it("gen flux -n puts both objects in that namespace", async () => {
    const run = await ksail("workload", "gen", "flux", "-n", NS);
    assert.equal(run.code, 0, run.stderr);
    const namespaces = [...run.stdout.matchAll(/^ {2}namespace: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(namespaces, [NS, NS], run.stdout);
  });

  it("flux sync -n applies the OCIRepository and Kustomization there, not in flux-system", async () => {
    const run = await ksail("flux", "sync", "--namespace", NS);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await status(ociRepositoryPath(NS)), 200);
    assert.equal(await status(kustomizationPath(NS)), 200);
    assert.equal(await status(ociRepositoryPath("flux-system")), 404);
  });

  it("reconcile --push -n and status -n follow the objects there", async () => {
    await writeSource("one");
    const reconcile = await ksail("reconcile", "--push", "-n", NS, "--timeout", "90s");
    assert.equal(reconcile.code, 0, reconcile.stderr);
    assert.match(reconcile.stdout, new RegExp(`Kustomization ${NS}/${NAME}`));
    assert.equal(await greeting(), "one");

    const shown = await ksail("status", "-n", NS, "-o", "json");
    assert.equal(shown.code, 0, shown.stderr);
    const items = json<{ items: { namespace: string; ready: boolean }[] }>(shown).items;
    assert.deepEqual(
      items.map((i) => [i.namespace, i.ready]),
      [
        [NS, true],
        [NS, true],
      ],
    );
    // -o wide (kubectl's): the Ready reason, the interval and what each object follows.
    const wide = await ksail("status", "-n", NS, "-o", "wide");
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(wide.stdout, /^KIND +NAME +READY +REVISION +REASON +INTERVAL +SOURCE +MESSAGE$/m);
    assert.match(
      wide.stdout,
      new RegExp(
        `^OCIRepository +${NS}/${NAME} +True +\\S+ +\\S+ +1h +oci://${registry.registry}/${NAME} `,
        "m",
      ),
    );
    assert.match(
      wide.stdout,
      new RegExp(
        `^Kustomization +${NS}/${NAME} +True +\\S+ +\\S+ +1h +OCIRepository/${NAME} `,
        "m",
      ),
    );
    const narrow = await ksail("status", "-n", NS);
    assert.doesNotMatch(narrow.stdout, /INTERVAL|SOURCE/);
    // Without -n, status looks in flux-system, where nothing is.
    const elsewhere = await ksail("status");
    assert.equal(elsewhere.code, 1, elsewhere.stdout);
    assert.match(elsewhere.stdout, /flux-system\/teamapp\s+NotFound/);
    // KSAIL_FLUX_NAMESPACE does what the flag does.
    const fromEnv = await runKsail(["workload", "status"], {
      cwd: project,
      env: { KSAIL_FLUX_NAMESPACE: NS },
    });
    assert.equal(fromEnv.code, 0, fromEnv.stdout + fromEnv.stderr);
    assert.match(fromEnv.stdout, new RegExp(`${NS}/${NAME}`));
  });

  it("diff --cluster -n compares with the Kustomization there", async () => {
    const same = await ksail("diff", "--cluster", "-n", NS);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    await writeSource("two");
    const changed = await ksail("diff", "--cluster", "-n", NS, "-o", "json");
    assert.equal(changed.code, 1, changed.stderr);
    assert.match(changed.stdout, /"drifted"|"changed"/);
    // On a terminal (here FORCE_COLOR), the drift is coloured as git diff colours it.
    const colored = await runKsail(["diff", "--cluster", "-n", NS], {
      cwd: project,
      env: { FORCE_COLOR: "1" },
    });
    assert.equal(colored.code, 1, colored.stderr);
    assert.ok(colored.stdout.includes("\x1b[32m+  greeting: two\x1b[0m"), colored.stdout);
    assert.ok(colored.stdout.includes("\x1b[31m-  greeting: one\x1b[0m"), colored.stdout);
    const missing = await ksail("diff", "--cluster");
    assert.equal(missing.code, 6, missing.stderr);
    assert.match(missing.stderr, /Kustomization flux-system\/teamapp does not exist/);
  });

  it("watch -n pushes and makes Flux apply there", async () => {
    watch = startWatch({ project, args: ["-n", NS, "--timeout", "60s"] });
    const first = await watch.cycle(1);
    assert.equal(first.outcome, "applied", watch.describe());
    assert.equal(await greeting(), "two");
    assert.equal((await watch.stop()).exitCode, 0);
    watch = undefined;
  });

  it("rollback -n pins the OCIRepository there and --resume unpins it", async () => {
    const back = await ksail("workload", "rollback", "-n", NS, "--timeout", "90s");
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.equal(await greeting(), "one");
    const resumed = await ksail("workload", "rollback", "--resume", "-n", NS, "--timeout", "90s");
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.equal(await greeting(), "two");
  });
});
