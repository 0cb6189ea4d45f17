/**
 * The Kind lab for the system test (test/system): the lab's own Docker Engine
 * (lab/kind/dockerd.sh, data root cached in ${KSAIL_LAB_CACHE:-~/.cache/ksail-lab}/kind/docker)
 * holding the locally built Kind node image (lab/kind/build.sh), the real `kind` CLI and
 * kubectl on a PATH of their own, and `registry:3` built in that engine, so ksail runs exactly as
 * a user runs it. Anything missing is an Error naming the command that builds it; tests fail,
 * never skip.
 *
 * kubelet and kube-proxy in a Kind node write sysctls of the shared kernel: `startKindLab()`
 * records them from /proc/sys and `stop()` writes back every value that changed and says which.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Docker from "dockerode";
import { buildRegistryImage } from "./docker.js";
import { dockerCliPath, kindBinary, runKind } from "./kind.js";

const run = promisify(execFile);

export const KIND_NODE_IMAGE = "ksail-lab/kind-node:v1.34.4";
export const KIND_BUILD_COMMAND = "bash lab/kind/build.sh";
const KUBECTL_VERSION = "v1.34.4";
const DOCKERD = fileURLToPath(new URL("./kind/dockerd.sh", import.meta.url));
const LAB_CACHE = process.env.KSAIL_LAB_CACHE ?? join(homedir(), ".cache", "ksail-lab");

/** The sysctls kubelet and kube-proxy set (names as in `sysctl -a`). */
export const SHARED_SYSCTLS = [
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "kernel.panic",
  "kernel.panic_on_oops",
  "kernel.keys.root_maxkeys",
  "kernel.keys.root_maxbytes",
  "net.ipv4.ip_forward",
  "net.bridge.bridge-nf-call-iptables",
  "net.bridge.bridge-nf-call-ip6tables",
  "net.netfilter.nf_conntrack_max",
  "net.netfilter.nf_conntrack_tcp_timeout_established",
  "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
] as const;

export interface KindLab {
  /** unix:///run/ksail-kind/docker.sock */
  dockerHost: string;
  /** process.env with DOCKER_HOST of the lab engine and `binDir` first on PATH. */
  env: NodeJS.ProcessEnv;
  docker: Docker;
  /** The kind CLI binary (also linked as binDir/kind). */
  kind: string;
  /** kubectl built from k8s.io/kubernetes (also linked as binDir/kubectl). */
  kubectl: string;
  /** A directory holding `kind` and `kubectl`, the tools ksail looks up on PATH. */
  binDir: string;
  nodeImage: string;
  /**
   * Deletes leftovers named with the prefix, stops the lab dockerd, restores the changed
   * sysctls; returns (and prints) what it restored.
   */
  stop(): Promise<string[]>;
}

export interface KindLabOptions {
  /**
   * Kind clusters, containers, volumes and image repositories whose names start with this
   * belong to the test: leftovers of a crashed run are removed at start and at stop.
   */
  prefix: string;
}

type Sysctls = Map<string, string | undefined>;

const sysctlPath = (name: string) => join("/proc/sys", ...name.split("."));

async function readSysctls(): Promise<Sysctls> {
  const values: Sysctls = new Map();
  for (const name of SHARED_SYSCTLS) {
    values.set(
      name,
      await readFile(sysctlPath(name), "utf8").then(
        (v) => v.trim(),
        () => undefined,
      ),
    );
  }
  return values;
}

/** Writes back what changed; returns one line per sysctl that differs from `before`. */
async function restoreSysctls(before: Sysctls): Promise<string[]> {
  const now = await readSysctls();
  const lines: string[] = [];
  for (const [name, original] of before) {
    const current = now.get(name);
    if (current === original) continue;
    if (original === undefined) {
      // Its module (br_netfilter, nf_conntrack) was loaded during the test; modules stay.
      lines.push(`${name}: appeared (= ${current}) while the test ran; left as is`);
      continue;
    }
    try {
      await writeFile(sysctlPath(name), `${original}\n`);
      lines.push(`${name}: ${current ?? "(absent)"} → ${original} (restored)`);
    } catch (error) {
      lines.push(`${name}: ${current} → ${original} FAILED: ${(error as Error).message}`);
    }
  }
  return lines;
}

async function dockerd(command: "start" | "stop"): Promise<string> {
  try {
    const { stdout } = await run("bash", [DOCKERD, command], { timeout: 60_000 });
    return stdout.trim();
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(
      `\`bash lab/kind/dockerd.sh ${command}\` failed: ${e.stderr?.trim() || e.message}`,
      { cause: error },
    );
  }
}

function kubectlBinary(): string {
  const path = join(LAB_CACHE, "bin", `kubectl-${KUBECTL_VERSION}`);
  if (!existsSync(path)) {
    throw new Error(
      `kubectl ${KUBECTL_VERSION} is missing at ${path}: run \`bash lab/k8s/build.sh kubectl\` (or \`${KIND_BUILD_COMMAND}\`, which builds it)`,
    );
  }
  return path;
}

/**
 * Removes what a crashed run with this prefix left behind: its kind clusters (through kind, so
 * the kubeconfig handling is kind's own), then ksail's registry containers and volumes whose
 * names start with the prefix, and the test's images (label dev.ksail.test=<prefix>…).
 */
export async function removeKindLeftovers(lab: KindLab, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  // kind edits $KUBECONFIG on delete: keep the caller's own kubeconfig out of it.
  const env = { ...lab.env, KUBECONFIG: join(lab.binDir, "leftovers.kubeconfig") };
  const clusters = await runKind(lab.kind, ["get", "clusters"], env, 60_000);
  if (clusters.code !== 0) throw new Error(`kind get clusters failed:\n${clusters.output}`);
  for (const name of clusters.output.split("\n").map((l) => l.trim())) {
    if (!name.startsWith(prefix)) continue;
    const deleted = await runKind(lab.kind, ["delete", "cluster", "--name", name], env, 180_000);
    if (deleted.code !== 0)
      throw new Error(`kind delete cluster --name ${name} failed:\n${deleted.output}`);
    removed.push(`kind cluster ${name}`);
  }
  const ours = (name: string) => name.replace(/^\//, "").startsWith(prefix);
  const managed = JSON.stringify({ label: ["dev.ksail.managed"] });
  for (const c of await lab.docker.listContainers({ all: true, filters: managed })) {
    if (!c.Names.some(ours)) continue;
    await lab.docker.getContainer(c.Id).remove({ force: true, v: false });
    removed.push(`container ${c.Names[0]}`);
  }
  for (const v of (await lab.docker.listVolumes({ filters: managed })).Volumes ?? []) {
    if (!ours(v.Name)) continue;
    await lab.docker.getVolume(v.Name).remove();
    removed.push(`volume ${v.Name}`);
  }
  // The test's images carry dev.ksail.test=<their first tag> (buildNodeImage in docker.ts);
  // removing one by id drops every tag, the registry's 127.0.0.1:<port>/… too.
  const testImages = JSON.stringify({ label: ["dev.ksail.test"] });
  for (const image of await lab.docker.listImages({ filters: testImages })) {
    if (!ours(image.Labels?.["dev.ksail.test"] ?? "")) continue;
    await lab.docker.getImage(image.Id).remove({ force: true });
    removed.push(`image ${(image.RepoTags ?? [image.Id]).join(" ")}`);
  }
  return removed;
}

export async function startKindLab(options: KindLabOptions): Promise<KindLab> {
  // The tools first: a missing one fails before any daemon starts.
  const kind = kindBinary();
  dockerCliPath();
  const kubectl = kubectlBinary();
  const sysctls = await readSysctls();
  const dockerHost = await dockerd("start");
  if (!dockerHost.startsWith("unix://"))
    throw new Error(`dockerd.sh start printed no DOCKER_HOST: ${JSON.stringify(dockerHost)}`);
  const docker = new Docker({ socketPath: dockerHost.slice("unix://".length) });
  const binDir = await mkdtemp(join(tmpdir(), "ksail-kind-bin-"));
  let stopped = false;
  const lab: KindLab = {
    dockerHost,
    env: { ...process.env, DOCKER_HOST: dockerHost },
    docker,
    kind,
    kubectl,
    binDir,
    nodeImage: KIND_NODE_IMAGE,
    stop: async () => {
      if (stopped) return [];
      stopped = true;
      const problems: string[] = [];
      await removeKindLeftovers(lab, options.prefix).then(
        (removed) => {
          if (removed.length > 0) console.log(`kind lab: removed ${removed.join(", ")}`);
        },
        (error: Error) => problems.push(`removing leftovers: ${error.message}`),
      );
      await dockerd("stop").catch((error: Error) => problems.push(error.message));
      const restored = await restoreSysctls(sysctls);
      console.log(
        restored.length > 0
          ? `kind lab: shared sysctls:\n  ${restored.join("\n  ")}`
          : "kind lab: no shared sysctl changed",
      );
      await rm(binDir, { recursive: true, force: true });
      if (problems.length > 0) throw new Error(`stopping the Kind lab: ${problems.join("; ")}`);
      return restored;
    },
  };
  try {
    await docker.getImage(KIND_NODE_IMAGE).inspect();
  } catch (error) {
    await lab.stop();
    throw new Error(
      `the Kind node image ${KIND_NODE_IMAGE} is not in the Kind lab engine (${dockerHost}): run \`${KIND_BUILD_COMMAND}\` (cold ~15 min, cached after)`,
      { cause: error },
    );
  }
  try {
    await symlink(lab.kind, join(binDir, "kind"));
    await symlink(lab.kubectl, join(binDir, "kubectl"));
    lab.env.PATH = `${binDir}${delimiter}${process.env.PATH ?? ""}`;
    await buildRegistryImage(docker);
    const removed = await removeKindLeftovers(lab, options.prefix);
    if (removed.length > 0)
      console.log(`kind lab: removed leftovers of an earlier run: ${removed.join(", ")}`);
  } catch (error) {
    await lab.stop().catch(() => undefined);
    throw error;
  }
  return lab;
}
