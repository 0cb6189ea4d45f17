/**
 * A real Docker Engine for tests. `startDockerEngine()` uses KSAIL_TEST_DOCKER_HOST when set,
 * otherwise starts Debian's dockerd (apt package docker.io) with its own data-root, exec-root,
 * pidfile and a short socket path under /tmp, and `stop()` ends it and removes its dirs.
 * `buildRegistryImage()` builds a `registry:3` stand-in FROM scratch from Debian's
 * docker-registry binary through the Docker API (no pull possible here).
 */
import { connectEngine } from "../src/engine/docker.js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import Docker from "dockerode";
import { pack } from "tar-stream";

export interface TestEngine {
  /** Which engine answers the Docker API: dockerd, or Podman's service (lab/podman.ts). */
  product: "docker" | "podman";
  /** The network a container joins when none is given ("bridge" on Docker). */
  defaultNetwork: string;
  /** unix:///tmp/ksd-XXXX/d.sock or the given KSAIL_TEST_DOCKER_HOST. */
  dockerHost: string;
  /** process.env with DOCKER_HOST pointing at this engine. */
  env: NodeJS.ProcessEnv;
  docker: Docker;
  /** Whether this lab started the daemon (and so stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

export function which(binary: string): string | undefined {
  const result = spawnSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" });
  const path = (result.stdout ?? "").trim();
  return result.status === 0 && path ? path : undefined;
}

export function dockerFor(host: string): Docker {
  if (host.startsWith("unix://"))
    return new Docker({ socketPath: host.slice(7), host: undefined, port: undefined });
  const url = new URL(host.replace(/^tcp:/, "http:"));
  return new Docker({
    host: url.hostname,
    port: url.port,
    protocol: "http",
    socketPath: undefined,
  });
}

export async function waitForPing(
  docker: Docker,
  timeoutMs: number,
  child?: ChildProcess,
  log?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await docker.ping();
      return;
    } catch (error) {
      if (child && child.exitCode !== null) {
        throw new Error(
          `${child.spawnfile} exited with ${child.exitCode} before answering:\n${log ? tail(log) : ""}`,
          { cause: error },
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the container engine did not answer within ${timeoutMs} ms:\n${log ? tail(log) : ""}`,
          { cause: error },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "";
  }
}

/**
 * Every dockerd would otherwise share the host's `docker0` bridge (and its routes), so two labs —
 * or one lab and a leftover bridge — break each other's port publishing. Each lab gets its own
 * bridge on a random 10.<200-249>.<0-255>.0/24: the lower half for the default bridge network,
 * the upper half as the pool for user-defined networks.
 */
function createBridge(): { name: string; address: string; pool: string; remove: () => void } {
  if (!which("ip") && !existsSync("/usr/sbin/ip") && !existsSync("/sbin/ip")) {
    throw new Error("the `ip` command is missing: run `apt-get install -y iproute2`");
  }
  const a = 200 + Math.floor(Math.random() * 50);
  const b = Math.floor(Math.random() * 256);
  const name = `ksd${randomBytes(5).toString("hex")}`.slice(0, 15);
  const run = (args: string[]) => {
    const result = spawnSync("ip", args, {
      encoding: "utf8",
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
    });
    if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
  };
  run(["link", "add", "name", name, "type", "bridge"]);
  let forward: { remove: () => void } | undefined;
  try {
    run(["addr", "add", `10.${a}.${b}.1/25`, "dev", name]);
    run(["link", "set", name, "up"]);
    forward = acceptForwarding(`10.${a}.${b}.0/24`, name);
  } catch (error) {
    spawnSync("ip", ["link", "del", name]);
    throw error;
  }
  return {
    name,
    address: `10.${a}.${b}.1/25`,
    pool: `base=10.${a}.${b}.128/25,size=28`,
    remove: () => {
      forward?.remove();
      spawnSync("ip", ["link", "del", name], {
        env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
      });
    },
  };
}

/**
 * The lab's daemons run with `--iptables=false` and so rely on the kernel forwarding between
 * their containers. A Docker daemon with iptables on the same machine sets the FORWARD policy to
 * DROP, and then container-to-container traffic of the lab (the bridge and the user-defined
 * networks allocated from its pool) is dropped too. So the lab lets its own subnet through: ACCEPT
 * rules for `subnet` as source and as destination, in DOCKER-USER when that chain exists (Docker
 * jumps there first) else at the top of FORWARD, removed again by `remove()`.
 */
export function acceptForwarding(subnet: string, tag: string): { remove: () => void } {
  const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
  const iptables = (args: string[]) =>
    spawnSync("iptables", ["-w", "5", ...args], { env, encoding: "utf8" });
  if (iptables(["--version"]).error) {
    throw new Error("iptables is missing: run `apt-get install -y iptables`");
  }
  const chain = iptables(["-n", "-L", "DOCKER-USER"]).status === 0 ? "DOCKER-USER" : "FORWARD";
  const comment = ["-m", "comment", "--comment", `ksail-lab ${tag}`];
  const rules = [
    ["-s", subnet, ...comment, "-j", "ACCEPT"],
    ["-d", subnet, ...comment, "-j", "ACCEPT"],
  ];
  for (const rule of rules) {
    const result = iptables(["-I", chain, "1", ...rule]);
    if (result.status !== 0) {
      throw new Error(`iptables -I ${chain} ${rule.join(" ")} failed: ${result.stderr}`);
    }
  }
  return { remove: () => rules.forEach((rule) => void iptables(["-D", chain, ...rule])) };
}

export async function startDockerEngine(): Promise<TestEngine> {
  const given = process.env.KSAIL_TEST_DOCKER_HOST;
  if (given) {
    const docker = dockerFor(given);
    await waitForPing(docker, 5000);
    return {
      product: "docker",
      defaultNetwork: "bridge",
      dockerHost: given,
      env: { ...process.env, DOCKER_HOST: given },
      docker,
      owned: false,
      stop: async () => {},
    };
  }
  const dockerd =
    which("dockerd") ?? (existsSync("/usr/sbin/dockerd") ? "/usr/sbin/dockerd" : undefined);
  if (!dockerd) {
    throw new Error(
      "dockerd is not installed: run `apt-get install -y docker.io` (or set KSAIL_TEST_DOCKER_HOST to a running engine)",
    );
  }
  const dir = mkdtempSync("/tmp/ksd-");
  const bridge = createBridge();
  const socket = join(dir, "d.sock");
  const log = join(dir, "dockerd.log");
  const logFd = openSync(log, "a");
  const args = [
    "--data-root",
    join(dir, "data"),
    "--exec-root",
    join(dir, "exec"),
    "--pidfile",
    join(dir, "dockerd.pid"),
    "-H",
    `unix://${socket}`,
    "--bridge",
    bridge.name,
    "--default-address-pool",
    bridge.pool,
    // iptables rules and chains are global to the machine: concurrent daemons (test files run in
    // parallel) race on creating them and flush each other's. Publishing to 127.0.0.1 then goes
    // through docker-proxy alone, which listens on exactly the HostIp asked for.
    "--iptables=false",
    "--ip-masq=false",
    "--containerd-namespace",
    `ksail-test-${process.pid}`,
    "--containerd-plugins-namespace",
    `ksail-test-${process.pid}-plugins`,
  ];
  const child = spawn(dockerd, args, { stdio: ["ignore", logFd, logFd], detached: false });
  closeSync(logFd);
  // If the test process dies without calling stop(), do not leave the daemon running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const dockerHost = `unix://${socket}`;
  const docker = dockerFor(dockerHost);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    // Overlay mounts can linger for a moment after dockerd exits.
    spawnSync("sh", [
      "-c",
      `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`,
    ]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    bridge.remove();
  };
  try {
    await waitForPing(docker, 30_000, child, log);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    product: "docker",
    defaultNetwork: "bridge",
    dockerHost,
    env: { ...process.env, DOCKER_HOST: dockerHost },
    docker,
    owned: true,
    stop,
  };
}

/** The same config as the real registry:3 image, in-memory blob descriptor cache included. */
const REGISTRY_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

const DOCKERFILE = `FROM scratch
COPY lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
COPY lib/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6
COPY registry /bin/registry
COPY config.yml /etc/distribution/config.yml
ENV PATH=/bin
VOLUME /var/lib/registry
EXPOSE 5000
ENTRYPOINT ["registry"]
CMD ["serve", "/etc/distribution/config.yml"]
`;

/**
 * Builds `tag` (default registry:3) FROM scratch holding Debian's distribution registry as
 * /bin/registry plus the two libraries it links. Throws with the apt hint when it is missing.
 */
export async function buildRegistryImage(docker: Docker, tag = "registry:3"): Promise<void> {
  const binary = "/usr/bin/docker-registry";
  if (!existsSync(binary)) {
    throw new Error(
      "the distribution registry is not installed: run `apt-get install -y docker-registry`",
    );
  }
  const tar = pack();
  const add = (name: string, content: Buffer | string, mode = 0o644) =>
    tar.entry({ name, mode }, content);
  add("Dockerfile", DOCKERFILE);
  add("config.yml", REGISTRY_CONFIG);
  add("registry", readFileSync(binary), 0o755);
  add("lib64/ld-linux-x86-64.so.2", readFileSync("/lib64/ld-linux-x86-64.so.2"), 0o755);
  add("lib/libc.so.6", readFileSync("/lib/x86_64-linux-gnu/libc.so.6"), 0o755);
  tar.finalize();
  const stream = (await docker.buildImage(tar as unknown as Readable, {
    t: tag,
    rm: true,
    forcerm: true,
  })) as Readable;
  await buildFinished(docker, stream, tag);
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Removes every container, volume and network carrying `label=value`. */
export async function removeLabelled(docker: Docker, label: string, value: string): Promise<void> {
  const filters = JSON.stringify({ label: [`${label}=${value}`] });
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: false })
      .catch(() => undefined);
  }
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => undefined);
  for (const n of await docker.listNetworks({ filters }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
}

/**
 * A stand-in for a Kind node (no real node image can be pulled here): FROM scratch with
 * Debian's static busybox as sh, mkdir, printf, dirname, cat and sleep — enough for ksail's
 * `docker exec` wiring to write and the tests to read /etc/containerd/certs.d files.
 */
export async function buildNodeImage(docker: Docker, tag: string): Promise<void> {
  const busybox = "/bin/busybox";
  if (!existsSync(busybox))
    throw new Error("busybox is not installed: run `apt-get install -y busybox-static`");
  const tar = pack();
  tar.entry(
    { name: "Dockerfile" },
    `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/bin\nCMD ["sleep", "86400"]\n`,
  );
  tar.entry({ name: "busybox", mode: 0o755 }, readFileSync(busybox));
  tar.finalize();
  const stream = (await docker.buildImage(tar as unknown as Readable, {
    t: tag,
    rm: true,
    forcerm: true,
    labels: { "dev.ksail.test": tag },
  })) as Readable;
  await buildFinished(docker, stream, tag);
}

/** Waits for an image build; a failure reported inside the progress stream rejects too. */
function buildFinished(docker: Docker, stream: Readable, tag: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, messages: Array<{ error?: string }>) => {
        const failure = error ?? messages.find((m) => m.error)?.error;
        if (failure)
          reject(
            failure instanceof Error ? failure : new Error(`building ${tag} failed: ${failure}`),
          );
        else resolve();
      },
    );
  });
}

/** Runs `cmd` in a container of the test engine and returns what it printed (stdout, then stderr). */
export async function execIn(
  lab: Pick<TestEngine, "env">,
  container: string,
  cmd: string[],
): Promise<string> {
  const result = await (await connectEngine(lab.env)).exec(container, cmd);
  return result.stdout + result.stderr;
}
