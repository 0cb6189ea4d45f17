/**
 * The whole loop on a real Kind cluster, as a user runs it (issue 5): the built ksail CLI, the
 * real `kind` CLI and kubectl on PATH, the Kind lab's Docker Engine with a locally built Kind node
 * image (lab/kind/build.sh) and `registry:3` — and nothing else.
 *
 *   ksail init --distribution Kind --gitops-engine Flux   (kind.yaml pins the lab's node image)
 *   ksail up --flux-manifests <controllers' own manifests> (FR-001, SC-001)
 *   docker push 127.0.0.1:<port>/app:1, ksail workload push, ksail workload reconcile
 *     → the objects exist; a pod pulls localhost:<port>/app:1 through the containerd mirror (FR-004, SC-003)
 *   ksail workload secrets keygen + encrypt → Flux decrypts the Secret; the pod's env var holds
 *     the value (issue 23)
 *   kind load docker-image → a pod runs it with imagePullPolicy: Never
 *   ksail cluster stop / start → cluster state and the pushed artifact survive (FR-014)
 *   spec.images (issue 25): `workload push` builds the project's image `web` (FROM scratch, static
 *     busybox httpd) on the lab engine, pushes it and pins it by digest; the node pulls
 *     localhost:<port>/web@sha256:… through the mirror and the pod serves the built page
 *   ksail workload watch: a manifest edit, then a code change (a file of the build context)
 *     rolls the Deployment to the new digest and the new pod serves the new page
 *   ksail workload rollback 0.0.1 (manifests and image back) and --resume (issue 24)
 *   ksail down --delete-volumes → no node, registry container or volume is left (FR-015)
 *
 * Flux's release install.yaml cannot be downloaded here: the install manifests are the
 * controllers' own config (lab/flux-install-manifests.ts, `inCluster`), run as real pods
 * from the images the node image carries. SC-001 and SC-003 are printed, not asserted.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { promisify } from "node:util";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { parse, parseDocument, stringify } from "yaml";
import { writeAppContext } from "../../lab/app-image.js";
import { buildNodeImage, execIn, freeTcpPort } from "../../lab/docker.js";
import { eventually as pollUntil } from "../../lab/eventually.js";
import { writeLabInstallManifests } from "../../lab/flux-install-manifests.js";
import { LAB_FLUX_VERSION } from "../../lab/flux-lab.js";
import { startKindLab, type KindLab } from "../../lab/kind-lab.js";
import { runKind } from "../../lab/kind.js";
import { json, runKsail, type KsailRun } from "../../lab/ksail.js";
import { startWatch } from "../../lab/watch.js";

const run = promisify(execFile);

const PREFIX = "ksail-sys-";
const NAME = `${PREFIX}${randomBytes(3).toString("hex")}`;
const REGISTRY = `${NAME}-registry`;
const VOLUME = `${REGISTRY}-data`;
const NODE = `${NAME}-control-plane`;
const CONTEXT = `kind-${NAME}`;
const FLUX_NS = "flux-system";
const MINUTE = 60_000;

let lab: KindLab | undefined;
let project: string | undefined;
let port = 0;
let kubeconfig = "";

const ksailEnv = () => ({
  DOCKER_HOST: lab!.dockerHost,
  PATH: lab!.env.PATH,
  // kind writes the cluster's credentials here and ksail (and kubectl) read them from here.
  KUBECONFIG: kubeconfig,
});
const ksail = (...args: string[]) => runKsail(args, { cwd: project!, env: ksailEnv() });
const output = (r: KsailRun) => `exit ${r.code}\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

function kube(): { core: CoreV1Api; apps: AppsV1Api } {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  config.setCurrentContext(CONTEXT);
  return { core: config.makeApiClient(CoreV1Api), apps: config.makeApiClient(AppsV1Api) };
}

/** undefined for 404, the object otherwise; other errors propagate. */
async function found<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

async function kubectl(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(lab!.kubectl, ["--context", CONTEXT, ...args], {
      env: { ...lab!.env, KUBECONFIG: kubeconfig },
      timeout: 30_000,
      maxBuffer: 16 << 20,
    });
    return stdout + stderr;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    return `kubectl ${args.join(" ")} failed: ${e.stderr || e.message}\n${e.stdout ?? ""}`;
  }
}

/** What a failed wait prints: pods, recent events. */
async function clusterState(): Promise<string> {
  return [
    await kubectl("get", "nodes,pods", "-A", "-o", "wide"),
    (await kubectl("get", "events", "-A", "--sort-by=.lastTimestamp"))
      .split("\n")
      .slice(-25)
      .join("\n"),
  ].join("\n");
}

/** Polls `check` every 2 s, through API server restarts, and shows the cluster on a timeout. */
const eventually = (what: string, check: () => Promise<boolean>, timeoutMs: number) =>
  pollUntil(what, check, {
    timeoutMs,
    intervalMs: 2000,
    retryErrors: true,
    diagnose: clusterState,
  });

const available = (d: V1Deployment | undefined) =>
  d?.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") === true &&
  d.status?.readyReplicas === d.spec?.replicas;

const runningAndReady = (p: V1Pod) =>
  p.status?.phase === "Running" &&
  (p.status.containerStatuses ?? []).length > 0 &&
  (p.status.containerStatuses ?? []).every((c) => c.ready);

async function podsOf(app: string, namespace = "default"): Promise<V1Pod[]> {
  return (await kube().core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

async function nodeReady(): Promise<boolean> {
  const node = await kube().core.readNode({ name: NODE });
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

async function docker(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run("docker", args, {
    env: { ...lab!.env, DOCKER_CONFIG: join(project!, ".docker") },
    timeout: 3 * MINUTE,
  });
  return stdout + stderr;
}

async function inspectOrUndefined<T>(inspect: () => Promise<T>): Promise<T | undefined> {
  try {
    return await inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/**
 * The test's steps, run in order as subtests. A step that needs an earlier one which failed
 * fails at once with that reason instead of repeating the earlier failure; a step whose needs
 * passed runs even when an unrelated step failed (down is tested after a failed stop/start).
 */
function steps(t: TestContext) {
  const failed = new Set<string>();
  return async (
    id: string,
    title: string,
    needs: string[],
    fn: (st: TestContext) => Promise<void>,
  ): Promise<void> => {
    const missing = needs.filter((n) => failed.has(n));
    await t.test(`${id}: ${title}`, async (st) => {
      if (missing.length > 0) {
        failed.add(id);
        throw new Error(`not run: it needs the failed step(s) ${missing.join(", ")}`);
      }
      try {
        await fn(st);
      } catch (error) {
        failed.add(id);
        throw error;
      }
    });
  };
}

const APP = "sys-app";
/** The project's own image (spec.images) and the Deployment that runs it. */
const WEB = "sys-web";
const WEB_V1 = "served from the image ksail built";
const WEB_V2 = "served after a code change under ksail workload watch";
const LOADED = "sys-loaded";
const SETTINGS = "sys-settings";
const SECRET = "sys-secret";
const SECRET_VALUE = "decrypted by kustomize-controller";
const manifests = () => ({
  "kustomization.yaml": stringify({
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: ["settings.yaml", "secret.yaml", "app.yaml", "web.yaml"],
  }),
  // Encrypted with `ksail workload secrets encrypt` before the push.
  "secret.yaml": stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: SECRET, namespace: "default" },
    stringData: { password: SECRET_VALUE },
  }),
  "settings.yaml": stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: SETTINGS, namespace: "default" },
    data: { greeting: "pushed by ksail, applied by Flux" },
  }),
  "app.yaml": stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: APP, namespace: "default" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: APP } },
      template: {
        metadata: { labels: { app: APP } },
        spec: {
          terminationGracePeriodSeconds: 1,
          // Pushed to 127.0.0.1:<port> from this machine; the node's containerd reaches it as
          // localhost:<port> through hosts.toml → http://<registry container>:5000.
          containers: [
            {
              name: "app",
              image: `localhost:${port}/app:1`,
              env: [
                {
                  name: "DB_PASSWORD",
                  valueFrom: { secretKeyRef: { name: SECRET, key: "password" } },
                },
              ],
            },
          ],
        },
      },
    },
  }),
  // `image: web` is spec.images' name: the packaged kustomization pins it by digest.
  "web.yaml": stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: WEB, namespace: "default" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: WEB } },
      template: {
        metadata: { labels: { app: WEB } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "web", image: "web", ports: [{ containerPort: 8080 }] }],
        },
      },
    },
  }),
});

/** The image the Deployment's pod template names (what Flux applied). */
async function webTemplateImage(): Promise<string | undefined> {
  const d = await kube().apps.readNamespacedDeployment({ name: WEB, namespace: "default" });
  return d.spec?.template.spec?.containers[0]?.image;
}

/**
 * Waits for a running, ready pod of the web Deployment that runs `image` (and is not being
 * deleted), then returns what it serves on :8080, read inside the pod with busybox wget.
 */
async function webPageOf(image: string): Promise<{ page: string; waitedMs: number }> {
  let name = "";
  const waitedMs = await eventually(
    `a ready ${WEB} pod running ${image}`,
    async () => {
      const pod = (await podsOf(WEB)).find(
        (p) =>
          p.metadata?.deletionTimestamp === undefined &&
          p.spec?.containers[0]?.image === image &&
          runningAndReady(p),
      );
      name = pod?.metadata?.name ?? "";
      return pod !== undefined;
    },
    3 * MINUTE,
  );
  const page = await kubectl(
    "exec",
    "-n",
    "default",
    name,
    "--",
    // The image has /bin/busybox only, no applet links on PATH.
    "/bin/busybox",
    "wget",
    "-q",
    "-O",
    "-",
    "http://127.0.0.1:8080/",
  );
  return { page: page.trim(), waitedMs };
}

test(
  "ksail on a real Kind cluster: init → up → push → reconcile → stop/start → down",
  { timeout: 40 * MINUTE },
  async (t) => {
    t.after(async () => {
      if (lab) {
        // The images ksail built (label dev.ksail.image) for this run's registry port.
        const built = await lab.docker
          .listImages({ filters: JSON.stringify({ label: ["dev.ksail.image"] }) })
          .catch(() => []);
        for (const image of built) {
          if (!(image.RepoTags ?? []).some((t) => t.startsWith(`127.0.0.1:${port}/`))) continue;
          await lab.docker
            .getImage(image.Id)
            .remove({ force: true })
            .catch(() => undefined);
        }
        // Whatever an assertion left: the cluster (through kind), the registry and its volume,
        // the test's images — stop() removes everything named with the prefix.
        try {
          await lab.stop();
        } finally {
          lab = undefined;
        }
      }
      if (project) await rm(project, { recursive: true, force: true });
    });

    lab = await startKindLab({ prefix: PREFIX });
    project = await mkdtemp(join(tmpdir(), "ksail-system-"));
    kubeconfig = join(project, "kubeconfig");
    port = await freeTcpPort();
    t.diagnostic(`cluster ${NAME}, registry ${REGISTRY} on 127.0.0.1:${port}, project ${project}`);
    const step = steps(t);

    await step(
      "init",
      "ksail init writes a Kind + Flux project; kind.yaml pins the lab's node image",
      [],
      async () => {
        const init = await ksail(
          "init",
          "--name",
          NAME,
          "--distribution",
          "Kind",
          "--gitops-engine",
          "Flux",
          "--registry-port",
          String(port),
        );
        assert.equal(init.code, 0, output(init));
        const configPath = join(project!, "ksail.yaml");
        const config = parseDocument(await readFile(configPath, "utf8"));
        assert.equal(config.getIn(["spec", "distribution"]), "Kind");
        assert.equal(config.getIn(["spec", "gitOpsEngine"]), "Flux");
        assert.equal(config.getIn(["spec", "options", "localRegistry", "hostPort"]), port);
        // A registry name of the test's own, so a crashed run's leftovers are recognisable.
        config.setIn(["spec", "options", "localRegistry", "name"], REGISTRY);
        await writeFile(configPath, config.toString());

        const kindPath = join(project!, "kind.yaml");
        const kind = parse(await readFile(kindPath, "utf8")) as {
          name: string;
          nodes: { role: string; image?: string }[];
          containerdConfigPatches: string[];
        };
        assert.equal(kind.name, NAME);
        assert.deepEqual(
          kind.nodes.map((n) => n.role),
          ["control-plane"],
        );
        assert.match(
          kind.containerdConfigPatches.join("\n"),
          /config_path = "\/etc\/containerd\/certs.d"/,
        );
        kind.nodes[0]!.image = lab!.nodeImage;
        await writeFile(kindPath, stringify(kind));
        // The project's own image: built by ksail from ./web on the lab engine (issue 25).
        config.setIn(["spec", "images"], [{ name: "web", context: "./web" }]);
        await writeFile(configPath, config.toString());
        writeAppContext(WEB_V1, {}, join(project!, "web"));
        // An age key (in the project's HOME, outside k8s/) and .sops.yaml: `up` gives Flux the key.
        const keygen = await ksail("workload", "secrets", "keygen");
        assert.equal(keygen.code, 0, output(keygen));
        assert.ok(!/AGE-SECRET-KEY/.test(keygen.stdout + keygen.stderr));
      },
    );

    await step(
      "up",
      "ksail up: registry on 127.0.0.1, Kind cluster, containerd mirror, KEP-1755 ConfigMap, Flux ready (FR-001, SC-001)",
      ["init"],
      async (st) => {
        const fluxManifests = await writeLabInstallManifests(
          join(project!, "flux-install.yaml"),
          LAB_FLUX_VERSION,
          { inCluster: true },
        );
        const up = await ksail("up", "--flux-manifests", fluxManifests, "-o", "json");
        const report = `SC-001: \`ksail up\` (registry + Kind cluster + wiring + Flux Available) took ${(up.ms / 1000).toFixed(1)} s`;
        console.log(report);
        st.diagnostic(report);
        for (const line of up.stderr.split("\n").filter((l) => l.includes("✓")))
          st.diagnostic(line);
        assert.equal(up.code, 0, `${output(up)}\n${await clusterState()}`);
        const result = json<{
          cluster: string;
          context: string;
          gitOps: string;
          registry: { hostAddress: string; inClusterAddress: string };
        }>(up);
        assert.equal(result.cluster, "created");
        assert.equal(result.context, CONTEXT);
        assert.equal(result.gitOps, "installed");
        assert.equal(result.registry.hostAddress, `127.0.0.1:${port}`);
        assert.equal(result.registry.inClusterAddress, `${REGISTRY}:5000`);

        // A real kind node: the lab's image, kind's labels, running.
        const node = await lab!.docker.getContainer(NODE).inspect();
        assert.equal(node.State.Running, true);
        assert.equal(node.Config.Image, lab!.nodeImage);
        assert.equal(node.Config.Labels["io.x-k8s.kind.cluster"], NAME);
        assert.equal(node.Config.Labels["io.x-k8s.kind.role"], "control-plane");
        assert.equal(await nodeReady(), true, "the node is Ready");

        // The registry container publishes on 127.0.0.1 only, and answers there.
        const registry = await lab!.docker.getContainer(REGISTRY).inspect();
        assert.equal(registry.State.Running, true);
        const bindings = Object.values(registry.HostConfig.PortBindings ?? {}).flat() as {
          HostIp: string;
          HostPort: string;
        }[];
        assert.deepEqual(bindings, [{ HostIp: "127.0.0.1", HostPort: String(port) }]);
        assert.equal((await fetch(`http://127.0.0.1:${port}/v2/`)).status, 200);
        assert.ok(registry.NetworkSettings.Networks.kind, "the registry is on the kind network");

        // containerd's mirror configuration on the node (FR-004).
        for (const host of [`localhost:${port}`, `${REGISTRY}:5000`]) {
          assert.match(
            await execIn(lab!, NODE, ["cat", `/etc/containerd/certs.d/${host}/hosts.toml`]),
            new RegExp(`\\[host\\."http://${REGISTRY}:5000"\\]`),
            `hosts.toml for ${host}`,
          );
        }

        // KEP-1755: how to reach the registry from each side.
        const hosting = await kube().core.readNamespacedConfigMap({
          name: "local-registry-hosting",
          namespace: "kube-public",
        });
        assert.deepEqual(parse(hosting.data?.["localRegistryHosting.v1"] ?? ""), {
          host: `127.0.0.1:${port}`,
          hostFromContainerRuntime: `localhost:${port}`,
          hostFromClusterNetwork: `${REGISTRY}:5000`,
          help: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry",
        });

        // Flux runs as pods in the cluster, Available, with ready pods.
        for (const controller of ["source-controller", "kustomize-controller"]) {
          const deployment = await kube().apps.readNamespacedDeployment({
            name: controller,
            namespace: FLUX_NS,
          });
          assert.equal(deployment.spec?.replicas, 1);
          assert.ok(available(deployment), `${controller} Available:\n${await clusterState()}`);
          const pods = await podsOf(controller, FLUX_NS);
          assert.equal(pods.length, 1, `${controller} pods`);
          assert.ok(runningAndReady(pods[0]!), `${controller} pod running and ready`);
        }
      },
    );

    let pushedDigest = "";
    let webV1 = "";
    await step(
      "workload",
      "push an app image and the manifests; reconcile applies them; the pod pulls localhost:<port>/app:1 through the mirror (FR-004, SC-003); ksail builds, pushes and pins the project's image web and a pod serves it",
      ["up"],
      async (st) => {
        // A tiny image (static busybox, `sleep`), pushed with the docker CLI as a user would.
        await buildNodeImage(lab!.docker, `${NAME}/app:1`);
        await docker("tag", `${NAME}/app:1`, `127.0.0.1:${port}/app:1`);
        await docker("push", `127.0.0.1:${port}/app:1`);

        await mkdir(join(project!, "k8s"), { recursive: true });
        for (const [file, content] of Object.entries(manifests()))
          await writeFile(join(project!, "k8s", file), content);
        const encrypt = await ksail("workload", "secrets", "encrypt", "k8s/secret.yaml");
        assert.equal(encrypt.code, 0, output(encrypt));
        assert.ok(
          !(await readFile(join(project!, "k8s", "secret.yaml"), "utf8")).includes(SECRET_VALUE),
        );

        const started = performance.now();
        const push = await ksail("workload", "push", "-o", "json");
        assert.equal(push.code, 0, output(push));
        const pushed = json<{ version: string; digest: string; images?: Record<string, string> }>(
          push,
        );
        assert.equal(pushed.version, "0.0.1");
        pushedDigest = pushed.digest;
        // spec.images: built on the lab engine, pushed to the registry container, pinned.
        assert.match(push.stderr, /Built web → 127\.0\.0\.1:\d+\/web:/, output(push));
        webV1 = pushed.images?.web ?? "";
        assert.match(webV1, new RegExp(`^localhost:${port}/web@sha256:[0-9a-f]{64}$`));
        const reconcile = await ksail("workload", "reconcile", "--timeout", "4m", "-o", "json");
        const total = performance.now() - started;
        const report = `SC-003: \`ksail workload push\` ${(push.ms / 1000).toFixed(1)} s + \`ksail workload reconcile\` ${(reconcile.ms / 1000).toFixed(1)} s = ${(total / 1000).toFixed(1)} s from push to applied (Kustomization wait: the Deployment is ready)`;
        console.log(report);
        st.diagnostic(report);
        assert.equal(reconcile.code, 0, `${output(reconcile)}\n${await clusterState()}`);
        const steps = json<{ steps: { kind: string; revision: string; ms: number }[] }>(
          reconcile,
        ).steps;
        for (const s of steps) st.diagnostic(`  ${s.kind} ${(s.ms / 1000).toFixed(1)} s`);
        if (total > 15_000) {
          // Where the time went (the first reconcile after `up` varies on this machine).
          for (const line of (await kubectl("get", "events", "-A", "--sort-by=.lastTimestamp"))
            .split("\n")
            .slice(-20))
            st.diagnostic(`  ${line}`);
        }
        assert.deepEqual(
          steps.map((s) => [s.kind, s.revision]),
          [
            ["OCIRepository", `0.0.1@${pushedDigest}`],
            ["Kustomization", `0.0.1@${pushedDigest}`],
          ],
        );

        const settings = await kube().core.readNamespacedConfigMap({
          name: SETTINGS,
          namespace: "default",
        });
        assert.equal(settings.data?.greeting, "pushed by ksail, applied by Flux");
        await eventually(
          `a ${APP} pod running localhost:${port}/app:1`,
          async () => (await podsOf(APP)).some(runningAndReady),
          2 * MINUTE,
        );
        const [pod] = await podsOf(APP);
        assert.equal(pod!.spec?.containers[0]?.image, `localhost:${port}/app:1`);
        // The SOPS-encrypted Secret, decrypted by kustomize-controller, reaches the pod's env.
        const env = await kubectl(
          "exec",
          "-n",
          "default",
          pod!.metadata!.name!,
          "--",
          "env", // Debian's static busybox has no printenv applet
        );
        const line = env.split("\n").find((l) => l.startsWith("DB_PASSWORD="));
        assert.equal(line?.slice("DB_PASSWORD=".length), SECRET_VALUE, env);
        // containerd pulled it by that name (through hosts.toml: it was never loaded otherwise).
        const images = await execIn(lab!, NODE, [
          "ctr",
          "--namespace=k8s.io",
          "images",
          "list",
          "-q",
        ]);
        assert.ok(
          images.split("\n").includes(`localhost:${port}/app:1`),
          `the node's containerd has localhost:${port}/app:1:\n${images}`,
        );

        // The project's image: Flux's kustomize pinned `image: web` to the digest ksail pushed,
        // the node pulled it by digest through the mirror, and the pod serves the built page.
        assert.equal(await webTemplateImage(), webV1);
        const { page } = await webPageOf(webV1);
        assert.equal(page, WEB_V1);
        const pulled = await execIn(lab!, NODE, [
          "ctr",
          "--namespace=k8s.io",
          "images",
          "list",
          "-q",
        ]);
        assert.ok(
          pulled.split("\n").includes(webV1),
          `the node's containerd has ${webV1}:\n${pulled}`,
        );
      },
    );

    await step(
      "load",
      "kind load docker-image: a pod runs the loaded image without pulling",
      ["up"],
      async () => {
        const image = `${NAME}/loaded:1`;
        await buildNodeImage(lab!.docker, image);
        const load = await runKind(
          lab!.kind,
          ["load", "docker-image", image, "--name", NAME],
          lab!.env,
          3 * MINUTE,
        );
        assert.equal(load.code, 0, load.output);
        await kube().core.createNamespacedPod({
          namespace: "default",
          body: {
            metadata: { name: LOADED, labels: { app: LOADED } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [{ name: "loaded", image, imagePullPolicy: "Never" }],
            },
          },
        });
        await eventually(
          `pod ${LOADED} running the loaded image`,
          async () =>
            runningAndReady(
              await kube().core.readNamespacedPod({ name: LOADED, namespace: "default" }),
            ),
          2 * MINUTE,
        );
      },
    );

    await step(
      "stop/start",
      "ksail cluster stop / start: the cluster state and the pushed artifact survive (FR-014)",
      ["workload"],
      async (st) => {
        const stop = await ksail("cluster", "stop", "-o", "json");
        assert.equal(stop.code, 0, output(stop));
        assert.deepEqual(json<{ nodes: { name: string; running: boolean }[] }>(stop).nodes, [
          { name: NODE, running: false },
        ]);
        assert.equal((await lab!.docker.getContainer(NODE).inspect()).State.Running, false);
        assert.equal((await lab!.docker.getContainer(REGISTRY).inspect()).State.Running, false);

        const start = await ksail("cluster", "start", "-o", "json");
        assert.equal(start.code, 0, output(start));
        assert.equal((await lab!.docker.getContainer(NODE).inspect()).State.Running, true);
        const ready = await eventually(
          "the API server answering and the node Ready",
          nodeReady,
          5 * MINUTE,
        );
        st.diagnostic(
          `node Ready ${(ready / 1000).toFixed(1)} s after \`ksail cluster start\` returned`,
        );

        const settings = await found(() =>
          kube().core.readNamespacedConfigMap({ name: SETTINGS, namespace: "default" }),
        );
        assert.equal(settings?.data?.greeting, "pushed by ksail, applied by Flux");
        assert.ok(
          await found(() =>
            kube().apps.readNamespacedDeployment({ name: APP, namespace: "default" }),
          ),
          `Deployment ${APP} is still there`,
        );
        await eventually(
          `Deployment ${APP} available again`,
          async () =>
            available(
              await kube().apps.readNamespacedDeployment({ name: APP, namespace: "default" }),
            ),
          5 * MINUTE,
        );

        // The registry's data survived: the pushed version is listed with the same digest ...
        const versions = await ksail("workload", "versions", "-o", "json");
        assert.equal(versions.code, 0, output(versions));
        assert.deepEqual(
          json<{ items: { version: string; digest: string }[] }>(versions).items.map((v) => [
            v.version,
            v.digest,
          ]),
          [["0.0.1", pushedDigest]],
        );
        // ... and Flux, restarted with the node, fetches and applies it again over the restored wiring.
        for (const controller of ["source-controller", "kustomize-controller"]) {
          await eventually(
            `${controller} available again`,
            async () =>
              available(
                await kube().apps.readNamespacedDeployment({
                  name: controller,
                  namespace: FLUX_NS,
                }),
              ),
            5 * MINUTE,
          );
        }
        const reconcile = await ksail("workload", "reconcile", "--timeout", "4m", "-o", "json");
        assert.equal(reconcile.code, 0, `${output(reconcile)}\n${await clusterState()}`);
        assert.equal(
          json<{ steps: { revision: string }[] }>(reconcile).steps[1]?.revision,
          `0.0.1@${pushedDigest}`,
        );
        st.diagnostic(
          `stop ${(stop.ms / 1000).toFixed(1)} s, start ${(start.ms / 1000).toFixed(1)} s, reconcile after the restart ${(reconcile.ms / 1000).toFixed(1)} s`,
        );
      },
    );

    let webV2 = "";
    await step(
      "watch",
      "ksail workload watch: a saved edit is pushed and applied on the real cluster; a code change rolls the Deployment to the new image digest and the new pod serves the new page; Ctrl-C exits 0",
      ["stop/start"],
      async (st) => {
        const watch = startWatch({ project: project!, env: ksailEnv(), args: ["--timeout", "4m"] });
        try {
          const start = await watch.cycle(1, 5 * MINUTE);
          assert.ok(["applied", "unchanged"].includes(start.outcome), watch.describe());
          const edited = "edited while ksail workload watch runs";
          await writeFile(
            join(project!, "k8s", "settings.yaml"),
            stringify({
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: SETTINGS, namespace: "default" },
              data: { greeting: edited },
            }),
          );
          // Polled from right after the save, every 100 ms: the figure is at most that much late.
          const applied = await pollUntil(
            "the edited ConfigMap in the cluster",
            async () =>
              (await kube().core.readNamespacedConfigMap({ name: SETTINGS, namespace: "default" }))
                .data?.greeting === edited,
            { timeoutMs: 2 * MINUTE, intervalMs: 100, retryErrors: true, diagnose: clusterState },
          );
          const report = await watch.cycle(2, 2 * MINUTE);
          assert.equal(report.outcome, "applied", watch.describe());
          assert.equal(report.version, "0.0.2");
          const figure = `watch on Kind: save → ConfigMap changed in the API server ${Math.round(applied)} ms (polled every 100 ms); cycle: save → pushed ${report.timings.savedToPushedMs} ms, fetch ${report.timings.fetchMs} ms, apply ${report.timings.applyMs} ms, total ${report.timings.totalMs} ms`;
          console.log(figure);
          st.diagnostic(figure);

          // A code change: a file of web's build context. The watch rebuilds web only, pushes a
          // version pinning the new digest, and Flux rolls the Deployment to it.
          const saved = performance.now();
          await writeFile(join(project!, "web", "www", "index.html"), `${WEB_V2}\n`);
          const code = await watch.cycle(3, 3 * MINUTE);
          assert.equal(code.outcome, "applied", watch.describe());
          assert.equal(code.version, "0.0.3");
          assert.deepEqual(code.built, ["web"], watch.describe());
          assert.deepEqual(code.changed, [], "no manifest changed");
          webV2 = (await webTemplateImage()) ?? "";
          assert.match(webV2, new RegExp(`^localhost:${port}/web@sha256:[0-9a-f]{64}$`));
          assert.notEqual(webV2, webV1, "a new digest");
          const { page } = await webPageOf(webV2);
          const answered = performance.now() - saved;
          assert.equal(page, WEB_V2);
          const rolled = `watch on Kind, code change: save → new pod serves the new page ${Math.round(answered)} ms (build ${code.timings.buildMs} ms, save → pushed ${code.timings.savedToPushedMs} ms, fetch ${code.timings.fetchMs} ms, apply incl. rollout ${code.timings.applyMs} ms)`;
          console.log(rolled);
          st.diagnostic(rolled);
        } finally {
          const stopped = await watch.stop("SIGINT");
          assert.equal(stopped.exitCode, 0, watch.describe());
        }
      },
    );

    await step(
      "rollback",
      "ksail workload rollback 0.0.1: manifests and image go back (pinned), --resume returns to 0.0.3",
      ["watch"],
      async (st) => {
        const greeting = async () =>
          (await kube().core.readNamespacedConfigMap({ name: SETTINGS, namespace: "default" })).data
            ?.greeting;
        const back = await ksail("workload", "rollback", "0.0.1", "--timeout", "4m", "-o", "json");
        assert.equal(back.code, 0, `${output(back)}\n${await clusterState()}`);
        const result = json<{ from: string; version: string; applied: { expected: number } }>(back);
        assert.deepEqual([result.from, result.version], ["0.0.3", "0.0.1"]);
        assert.equal(await greeting(), "pushed by ksail, applied by Flux");
        // The version pins its image: the Deployment runs the first build again.
        assert.equal(await webTemplateImage(), webV1);
        assert.equal((await webPageOf(webV1)).page, WEB_V1);
        const status = await ksail("workload", "status");
        assert.match(status.stdout, /pinned to 0\.0\.1 \(latest is 0\.0\.3\)/, output(status));
        const resume = await ksail("workload", "rollback", "--resume", "--timeout", "4m");
        assert.equal(resume.code, 0, `${output(resume)}\n${await clusterState()}`);
        assert.match(resume.stdout, /applied {2}0\.0\.3@sha256:/);
        assert.equal(await greeting(), "edited while ksail workload watch runs");
        assert.equal(await webTemplateImage(), webV2);
        st.diagnostic(
          `rollback ${(back.ms / 1000).toFixed(1)} s (inventory: ${result.applied.expected} objects), resume ${(resume.ms / 1000).toFixed(1)} s`,
        );
      },
    );

    await step(
      "down",
      "ksail down --delete-volumes leaves no node, registry container or volume behind (FR-015)",
      ["up"],
      async () => {
        const down = await ksail("down", "--delete-volumes", "-o", "json");
        assert.equal(down.code, 0, output(down));
        const result = json<{ cluster: string; registry: string; volumeRemoved: boolean }>(down);
        assert.deepEqual(
          [result.cluster, result.registry, result.volumeRemoved],
          ["deleted", "removed", true],
        );
        const nodes = await lab!.docker.listContainers({
          all: true,
          filters: JSON.stringify({ label: [`io.x-k8s.kind.cluster=${NAME}`] }),
        });
        assert.deepEqual(
          nodes.map((c) => c.Names),
          [],
          "no node container",
        );
        assert.equal(
          await inspectOrUndefined(() => lab!.docker.getContainer(REGISTRY).inspect()),
          undefined,
          "no registry container",
        );
        assert.equal(
          await inspectOrUndefined(() => lab!.docker.getVolume(VOLUME).inspect()),
          undefined,
          "no registry volume",
        );
        const clusters = await runKind(lab!.kind, ["get", "clusters"], lab!.env);
        assert.equal(clusters.code, 0, clusters.output);
        assert.ok(!clusters.output.split("\n").includes(NAME), `kind still lists ${NAME}`);
        // kind creates the `kind` network once and keeps it for every cluster (kind delete does
        // not remove it; ksail creates no network for Kind): nothing of this project is on it.
        const network = await inspectOrUndefined(() => lab!.docker.getNetwork("kind").inspect());
        const attached = Object.values(
          (network as { Containers?: Record<string, { Name: string }> } | undefined)?.Containers ??
            {},
        ).map((c) => c.Name);
        assert.deepEqual(
          attached.filter((n) => n.startsWith(NAME)),
          [],
          "nothing of the project on the kind network",
        );
        // kind removed its context from the kubeconfig it wrote.
        const config = parse(await readFile(kubeconfig, "utf8")) as {
          contexts?: { name: string }[] | null;
        };
        assert.ok(
          !(config.contexts ?? []).some((c) => c.name === CONTEXT),
          `${CONTEXT} is still in ${kubeconfig}`,
        );
      },
    );
  },
);
