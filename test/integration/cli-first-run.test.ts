/**
 * A first-time user's path (issue 11): a fresh clone, `ksail init`, the README's loop, and the
 * mistakes people make on the way. The built CLI as a process; real registries where one is
 * involved.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { startDockerEngine, type TestEngine } from "../../lab/docker.js";
import { dockerCliPath, kindBinary } from "../../lab/kind.js";
import { json, runKsail } from "../../lab/ksail.js";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";

const temps: string[] = [];
async function tempDir(prefix = "ksail-first-run-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

describe("getting started", () => {
  it("bin/ksail.js before a build says to run `npm run build`, without a stack", async () => {
    // A fresh clone: bin/ without dist/ next to it.
    const clone = await tempDir();
    await mkdir(join(clone, "bin"));
    await copyFile(
      fileURLToPath(new URL("../../bin/ksail.js", import.meta.url)),
      join(clone, "bin", "ksail.js"),
    );
    const run = spawnSync(process.execPath, [join(clone, "bin", "ksail.js"), "--help"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /npm run build/);
    assert.doesNotMatch(run.stderr, /ERR_MODULE_NOT_FOUND|at .*\(.*:\d+:\d+\)|node:internal/);
    assert.equal(run.stdout, "");
  });
});

const CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  a: b\n";

interface WrittenConfig {
  metadata: { name: string };
  spec: {
    distribution: string;
    distributionConfig: string;
    gitOpsEngine: string;
    localRegistry: string;
    connection: { context: string };
    options: {
      localRegistry: { hostPort: number };
      flux: { interval: string; version?: string };
      mirrorRegistries?: string[];
    };
  };
}

async function readYaml(path: string): Promise<WrittenConfig> {
  return parse(await readFile(path, "utf8")) as WrittenConfig;
}

describe("ksail init", () => {
  it("a plain init gives Flux and the local registry; flags still turn them off", async () => {
    const dir = await tempDir();
    const run = await runKsail(["init"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const spec = (await readYaml(join(dir, "ksail.yaml"))).spec;
    assert.equal(spec.gitOpsEngine, "Flux");
    assert.equal(spec.localRegistry, "Enabled");

    const off = await tempDir();
    const plain = await runKsail(["init", "--gitops-engine", "None"], { cwd: off });
    assert.equal(plain.code, 0, plain.stderr);
    const offSpec = (await readYaml(join(off, "ksail.yaml"))).spec;
    assert.equal(offSpec.gitOpsEngine, "None");
    assert.equal(offSpec.localRegistry, "Disabled");

    const noRegistry = await tempDir();
    const flux = await runKsail(["init", "--local-registry", "disabled"], { cwd: noRegistry });
    assert.equal(flux.code, 0, flux.stderr);
    const fluxSpec = (await readYaml(join(noRegistry, "ksail.yaml"))).spec;
    assert.equal(fluxSpec.gitOpsEngine, "Flux");
    assert.equal(fluxSpec.localRegistry, "Disabled");
  });

  it("--force keeps the user's values and manifests, patches only ksail's files", async () => {
    const dir = await tempDir();
    const first = await runKsail(
      ["init", "--name", "demo", "--registry-port", "5123", "--flux-interval", "3m"],
      { cwd: dir },
    );
    assert.equal(first.code, 0, first.stderr);
    const kustomization =
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n";
    await writeFile(join(dir, "k8s", "kustomization.yaml"), kustomization);
    await writeFile(join(dir, "k8s", "cm.yaml"), CONFIGMAP);
    // Options init does not write by default, set by hand.
    const written = await readFile(join(dir, "ksail.yaml"), "utf8");
    await writeFile(
      join(dir, "ksail.yaml"),
      written.replace(
        "      interval: 3m\n",
        "      interval: 3m\n      version: v2.9.0\n    mirrorRegistries:\n      - docker.io=https://registry-1.docker.io\n",
      ),
    );

    const refused = await runKsail(["init"], { cwd: dir });
    assert.equal(refused.code, 7, refused.stderr);
    assert.match(refused.stderr, /refusing to overwrite existing ksail\.yaml, kind\.yaml/);
    assert.match(refused.stderr, /--force/);
    assert.match(refused.stderr, /never touched/);

    const forced = await runKsail(["init", "--force", "--distribution", "k3d", "-o", "json"], {
      cwd: dir,
    });
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(
      json<{ files: { path: string; action: string }[] }>(forced).files.map((f) => [
        f.path,
        f.action,
      ]),
      [
        ["ksail.yaml", "patched"],
        ["k3d.yaml", "created"],
        [".ksail/ksail.schema.json", "unchanged"],
        ["k8s/", "skipped"],
      ],
    );
    const config = await readYaml(join(dir, "ksail.yaml"));
    assert.equal(config.metadata.name, "demo");
    assert.equal(config.spec.distribution, "K3d");
    assert.equal(config.spec.distributionConfig, "k3d.yaml");
    assert.equal(config.spec.connection.context, "k3d-demo");
    assert.equal(config.spec.options.localRegistry.hostPort, 5123);
    assert.equal(config.spec.options.flux.interval, "3m");
    assert.equal(config.spec.options.flux.version, "v2.9.0");
    assert.deepEqual(config.spec.options.mirrorRegistries, [
      "docker.io=https://registry-1.docker.io",
    ]);
    assert.equal(await readFile(join(dir, "k8s", "kustomization.yaml"), "utf8"), kustomization);
    assert.equal(await readFile(join(dir, "k8s", "cm.yaml"), "utf8"), CONFIGMAP);
  });

  it("leaves a manifest folder that already has files alone (no empty kustomization)", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "k8s"));
    await writeFile(join(dir, "k8s", "cm.yaml"), CONFIGMAP);
    const run = await runKsail(["init", "-o", "json"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(json<{ files: { action: string }[] }>(run).files.at(-1), {
      path: "k8s/",
      action: "skipped",
      reason: "yours: init never writes there",
    });
    await assert.rejects(readFile(join(dir, "k8s", "kustomization.yaml")), { code: "ENOENT" });
  });

  it("--force over an invalid ksail.yaml refuses and says why, instead of resetting it", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "ksail.yaml"), "apiVersion: [\n");
    const run = await runKsail(["init", "--force"], { cwd: dir });
    assert.equal(run.code, 8, run.stderr);
    assert.match(run.stderr, /ksail\.yaml:\d+:\d+/);
    assert.equal(await readFile(join(dir, "ksail.yaml"), "utf8"), "apiVersion: [\n");
  });
});

describe("usage errors", () => {
  it("a bad flag value exits 2, a bad ksail.yaml or KSAIL_* value 8", async () => {
    const dir = await tempDir();
    const port = await runKsail(["init", "--registry-port", "80000"], { cwd: dir });
    assert.equal(port.code, 2, port.stderr);
    assert.match(port.stderr, /flag --registry-port/);
    const name = await runKsail(["init", "--name", "My_App"], { cwd: dir });
    assert.equal(name.code, 2, name.stderr);
    assert.match(name.stderr, /flag --name/);
    const distribution = await runKsail(["init", "--distribution", "minikube"], { cwd: dir });
    assert.equal(distribution.code, 2, distribution.stderr);
    // Checked before the engine is asked: no engine is needed to be told.
    const registryName = await runKsail(["registry", "create", "--name", "My_App"], {
      cwd: dir,
      env: { DOCKER_HOST: `unix://${join(dir, "no-engine.sock")}` },
    });
    assert.equal(registryName.code, 2, registryName.stderr);
    assert.match(registryName.stderr, /--name must be lower-case/);

    const env = await runKsail(["init"], { cwd: dir, env: { KSAIL_REGISTRY_PORT: "80000" } });
    assert.equal(env.code, 8, env.stderr);
    assert.match(env.stderr, /environment variable KSAIL_REGISTRY_PORT/);
    await writeFile(
      join(dir, "ksail.yaml"),
      "apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: My_App\n",
    );
    const file = await runKsail(["workload", "gen", "flux"], { cwd: dir });
    assert.equal(file.code, 8, file.stderr);
    assert.match(file.stderr, /ksail\.yaml:4:\d+: metadata\.name/);
  });

  it("accepts lower-case distribution names on flags and in ksail.yaml", async () => {
    const dir = await tempDir();
    const run = await runKsail(["init", "--distribution", "k3d", "--gitops-engine", "flux"], {
      cwd: dir,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await readYaml(join(dir, "ksail.yaml"))).spec.distribution, "K3d");
    await writeFile(
      join(dir, "ksail.yaml"),
      "apiVersion: ksail.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: demo\nspec:\n  distribution: kind\n  gitOpsEngine: flux\n",
    );
    const gen = await runKsail(["workload", "gen", "flux"], { cwd: dir });
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /kind: OCIRepository/);
  });
});

describe("finding ksail.yaml", () => {
  let lab: LabRegistry;
  before(async () => {
    lab = await startRegistry();
  });
  after(async () => lab?.stop());

  it("from a subdirectory, through KSAIL_CONFIG and --config; paths relative to the file", async () => {
    const project = await tempDir();
    const port = lab.registry.split(":")[1]!;
    const init = await runKsail(["init", "--name", "found", "--registry-port", port], {
      cwd: project,
    });
    assert.equal(init.code, 0, init.stderr);
    await writeFile(
      join(project, "k8s", "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n",
    );
    await writeFile(join(project, "k8s", "cm.yaml"), CONFIGMAP);

    // From k8s/: the project's ksail.yaml one level up, its sourceDirectory relative to it.
    const push = await runKsail(["workload", "push", "-o", "json"], {
      cwd: join(project, "k8s"),
    });
    assert.equal(push.code, 0, push.stderr);
    const pushed = json(push);
    assert.equal(`${pushed.repository}:${pushed.version}`, `${lab.registry}/found:0.0.1`);

    const elsewhere = await tempDir();
    const viaEnv = await runKsail(["workload", "versions", "-o", "json"], {
      cwd: elsewhere,
      env: { KSAIL_CONFIG: join(project, "ksail.yaml") },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /0\.0\.1/);

    const viaFlag = await runKsail(
      ["workload", "versions", "-o", "json", "--config", join(project, "ksail.yaml")],
      { cwd: elsewhere, env: { KSAIL_CONFIG: join(elsewhere, "missing.yaml") } },
    );
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    assert.match(viaFlag.stdout, /0\.0\.1/);

    const missing = await runKsail(["workload", "versions"], {
      cwd: elsewhere,
      env: { KSAIL_CONFIG: join(elsewhere, "missing.yaml") },
    });
    assert.equal(missing.code, 8, missing.stderr);
    assert.match(missing.stderr, /missing\.yaml .*KSAIL_CONFIG/);

    const none = await runKsail(["workload", "versions"], { cwd: elsewhere });
    assert.equal(none.code, 8, none.stderr);
    assert.match(none.stderr, /no ksail\.yaml found in .* or any parent directory/);
  });
});

describe("no kubeconfig", () => {
  it("says the file is missing and where ksail looked, suggests `ksail up`, exits 6", async () => {
    const dir = await tempDir();
    assert.equal((await runKsail(["init", "--name", "demo"], { cwd: dir })).code, 0);
    for (const command of [
      ["workload", "status"],
      ["workload", "reconcile"],
    ]) {
      // runKsail sets HOME to the project, so ~/.kube/config does not exist there.
      const run = await runKsail(command, { cwd: dir });
      assert.equal(run.code, 6, `${command.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`no kubeconfig: ${join(dir, ".kube", "config")}`));
      assert.match(run.stderr, /ksail up/);
      assert.doesNotMatch(run.stderr, /loaded-context|kind-demo" is not in/);
    }
    const viaEnv = await runKsail(["workload", "status"], {
      cwd: dir,
      env: { KUBECONFIG: join(dir, "nowhere") },
    });
    assert.equal(viaEnv.code, 6, viaEnv.stderr);
    assert.match(viaEnv.stderr, /KUBECONFIG names .*nowhere/);

    // A relative spec.connection.kubeconfig is next to ksail.yaml, wherever ksail runs from.
    const config = await readFile(join(dir, "ksail.yaml"), "utf8");
    await writeFile(
      join(dir, "ksail.yaml"),
      config.replace("  connection:\n", "  connection:\n    kubeconfig: kube/config\n"),
    );
    const relative = await runKsail(["workload", "status"], { cwd: join(dir, "k8s") });
    assert.equal(relative.code, 6, relative.stderr);
    assert.match(relative.stderr, new RegExp(`kubeconfig ${join(dir, "kube", "config")} does not`));
  });
});

describe("workload prune without a container engine", () => {
  let lab: LabRegistry;
  before(async () => {
    lab = await startRegistry();
  });
  after(async () => lab?.stop());

  it("lists what it deleted, warns that garbage collection was skipped, exits 0", async () => {
    const dir = await tempDir();
    const port = lab.registry.split(":")[1]!;
    assert.equal(
      (await runKsail(["init", "--name", "pruned", "--registry-port", port], { cwd: dir })).code,
      0,
    );
    await writeFile(
      join(dir, "k8s", "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n",
    );
    for (const value of ["one", "two", "three", "four"]) {
      await writeFile(join(dir, "k8s", "cm.yaml"), CONFIGMAP.replace("a: b", `a: ${value}`));
      const push = await runKsail(["workload", "push"], { cwd: dir });
      assert.equal(push.code, 0, push.stderr);
    }
    // No engine: the project's registry runs, but its container cannot be reached for the GC.
    const env = { DOCKER_HOST: `unix://${join(dir, "no-engine.sock")}` };
    const run = await runKsail(["workload", "prune", "--keep", "2"], { cwd: dir, env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^deleted 0\.0\.1 /m);
    assert.match(run.stdout, /^deleted 0\.0\.2 /m);
    assert.match(run.stdout, /^2 versions deleted, /m);
    // Said once, on stderr (issue 21.11).
    assert.match(
      run.stderr,
      /warning: garbage collection skipped \(.*no-engine\.sock.*\); .*ksail registry gc/s,
    );
    assert.doesNotMatch(run.stdout, /garbage collection/i);

    const versions = await runKsail(["workload", "versions", "-o", "json"], { cwd: dir, env });
    assert.equal(versions.code, 0, versions.stderr);
    assert.doesNotMatch(versions.stdout, /0\.0\.1|0\.0\.2/);
    assert.match(versions.stdout, /0\.0\.3/);
    assert.match(versions.stdout, /0\.0\.4/);

    const asJson = await runKsail(["workload", "prune", "--keep", "1", "-o", "json"], {
      cwd: dir,
      env,
    });
    assert.equal(asJson.code, 0, asJson.stderr);
    const pruned = json<{ deleted: { version: string }[]; garbageCollectionSkipped: string }>(
      asJson,
    );
    assert.deepEqual(
      pruned.deleted.map((v) => v.version),
      ["0.0.3"],
    );
    assert.match(pruned.garbageCollectionSkipped, /no-engine\.sock/);
  });
});

describe("a manifest the root kustomization does not reach", () => {
  let lab: LabRegistry;
  before(async () => {
    lab = await startRegistry();
  });
  after(async () => lab?.stop());

  it("is pushed with a warning that names the file", async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, "kustomization.yaml"),
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n",
    );
    await writeFile(join(dir, "cm.yaml"), CONFIGMAP);
    await writeFile(join(dir, "forgotten.yaml"), CONFIGMAP.replace("greeting", "forgotten"));
    await mkdir(join(dir, "extra"));
    await writeFile(join(dir, "extra", "deep.yaml"), CONFIGMAP.replace("greeting", "deep"));
    const run = await runKsail(
      ["workload", "push", "--registry", `oci://${lab.registry}/unreached`, "--path", "."],
      { cwd: dir },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /warning: forgotten\.yaml: Flux never applies this manifest/);
    assert.match(run.stderr, /warning: extra\/deep\.yaml: Flux never applies this manifest/);
    assert.doesNotMatch(run.stderr, /warning: cm\.yaml/);
  });
});

describe("cluster list without the distribution CLIs", () => {
  /** A PATH with node and, if given, the named tools linked into a directory of their own. */
  async function pathWith(tools: Record<string, string>): Promise<string> {
    const bin = await tempDir("ksail-path-");
    for (const [name, target] of Object.entries(tools)) await symlink(target, join(bin, name));
    return `${bin}:${dirname(process.execPath)}`;
  }

  it("neither kind nor k3d: says both are missing and how to install them (exit 6)", async () => {
    const cwd = await tempDir();
    const run = await runKsail(["cluster", "list"], { cwd, env: { PATH: await pathWith({}) } });
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /neither kind nor k3d is installed/);
    assert.match(run.stderr, /kind\.sigs\.k8s\.io/);
    assert.match(run.stderr, /k3d\.io/);
    assert.equal(run.stdout, "");
    assert.doesNotMatch(run.stderr, /no Kind or K3d clusters/);
  });

  describe("kind only", () => {
    let engine: TestEngine;
    before(async () => {
      engine = await startDockerEngine();
    });
    after(async () => engine?.stop());

    it("lists Kind clusters and says k3d is not installed", async () => {
      const cwd = await tempDir();
      const PATH = await pathWith({ kind: kindBinary(), docker: dockerCliPath() });
      const run = await runKsail(["cluster", "list"], {
        cwd,
        env: { PATH, DOCKER_HOST: engine.dockerHost },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /k3d is not installed .*listing Kind clusters only/);
      assert.match(run.stdout, /no Kind or K3d clusters/);
    });
  });
});
