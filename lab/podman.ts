/**
 * A real Podman service for tests: `startPodmanService()` runs Debian's podman 4.3
 * (`podman system service`, rootful) with everything of its own under /tmp/ksp-XXXX — storage,
 * run root, volumes, tmp dir, events log, lock files, CNI network configs — and serves the Docker
 * API on a socket there. It returns the same TestEngine shape as `startDockerEngine()`
 * (lab/docker.ts), so the same scenarios run against both. `stop()` removes every container
 * and volume, ends the service and the conmon processes it left, and removes the directory, the
 * lab's bridge and the CNI IPAM state of its networks.
 *
 * Configuration the machine needs (lab/README.md, "Podman"): runc (Debian's crun fails here
 * under the hybrid cgroup layout), lowered default ulimits (otherwise every container fails to
 * start), cgroupfs (no systemd), a file events log (no journald).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { dockerFor, waitForPing, which, type TestEngine } from "./docker.js";

const INSTALL = "apt-get install -y --no-install-recommends podman runc iptables";
const CNI_IPAM_DIR = "/var/lib/cni/networks";
const SBIN_PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

function required(binary: string): string {
  const path = which(binary) ?? ["/usr/sbin", "/sbin"].map((d) => join(d, binary)).find(existsSync);
  if (!path) throw new Error(`${binary} is not installed: run \`${INSTALL}\``);
  return path;
}

/**
 * The lab's default network: a CNI bridge of its own name on a random 10.<150-199>.<0-255>.0/25
 * (the Docker labs use 10.200-249), so two labs never share a bridge or an IPAM range. No IP
 * masquerading: like the Docker labs (`--ip-masq=false`), no NAT rules for outbound traffic.
 */
function labNetwork(name: string, bridge: string, a: number, b: number) {
  return {
    cniVersion: "0.4.0",
    name,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          routes: [{ dst: "0.0.0.0/0" }],
          ranges: [[{ subnet: `10.${a}.${b}.0/25`, gateway: `10.${a}.${b}.1` }]],
        },
        capabilities: { ips: true },
      },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "firewall", backend: "" },
      { type: "tuning" },
    ],
  };
}

/** IPAM directories without an allocated address (only `lock` and `last_reserved_ip.*`). */
function unusedIpamDirs(): Set<string> {
  const unused = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(CNI_IPAM_DIR);
  } catch {
    return unused;
  }
  for (const name of names) {
    try {
      const files = readdirSync(join(CNI_IPAM_DIR, name));
      if (files.every((f) => f === "lock" || f.startsWith("last_reserved_ip"))) unused.add(name);
    } catch {
      // not a directory, or gone meanwhile
    }
  }
  return unused;
}

/** Processes whose command line names `dir` (conmon outlives the service and its containers). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(`${dir}/`)) pids.push(+entry);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export async function startPodmanService(): Promise<TestEngine> {
  const podman = required("podman");
  required("runc");
  required("iptables"); // CNI's portmap and firewall plugins publish ports through it
  const ipamBefore = new Set(existsSync(CNI_IPAM_DIR) ? readdirSync(CNI_IPAM_DIR) : []);
  const dir = mkdtempSync("/tmp/ksp-");
  const id = randomBytes(4).toString("hex");
  const network = `ksail-lab-${id}`;
  const bridge = `ksp${id}`;
  const a = 150 + Math.floor(Math.random() * 50);
  const b = Math.floor(Math.random() * 256);
  for (const sub of ["cni", "tmp", "volumes"]) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, "containers.conf"),
    `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"
static_dir = "${dir}/libpod"
volume_path = "${dir}/volumes"
lock_type = "file"
exit_command_delay = 0

[network]
network_backend = "cni"
network_config_dir = "${dir}/cni"
cni_plugin_dirs = ["/usr/lib/cni"]
default_network = "${network}"
default_subnet_pools = [{ "base" = "10.${a}.${b}.128/25", "size" = 28 }]
`,
  );
  writeFileSync(
    join(dir, "storage.conf"),
    `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/run"\n`,
  );
  // The Docker API names short images docker.io/library/…; no other registry is consulted.
  writeFileSync(join(dir, "registries.conf"), `unqualified-search-registries = ["docker.io"]\n`);
  writeFileSync(
    join(dir, "cni", `${network}.conflist`),
    JSON.stringify(labNetwork(network, bridge, a, b), null, 2),
  );
  const env = {
    ...process.env,
    PATH: SBIN_PATH,
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(dir, "registries.conf"),
  };
  const socket = join(dir, "p.sock");
  const log = join(dir, "service.log");
  const logFd = openSync(log, "a");
  const child: ChildProcess = spawn(podman, ["system", "service", "--time=0", `unix://${socket}`], {
    stdio: ["ignore", logFd, logFd],
    env,
  });
  closeSync(logFd);

  let stopped = false;
  /** Synchronous, so that it also runs from the process's "exit" event. */
  const cleanUp = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", cleanUp);
    const networks = spawnSync(podman, ["network", "ls", "--format", "{{.Name}}"], {
      env,
      encoding: "utf8",
    })
      .stdout?.split("\n")
      .filter(Boolean) ?? [network];
    // Containers run under conmon, not under the service: remove them before it ends.
    spawnSync(podman, ["rm", "--all", "--force", "--time", "0"], { env, stdio: "ignore" });
    spawnSync(podman, ["volume", "prune", "--force"], { env, stdio: "ignore" });
    for (const n of networks)
      if (n !== network)
        spawnSync(podman, ["network", "rm", "--force", n], { env, stdio: "ignore" });
    if (child.exitCode === null) child.kill("SIGKILL");
    for (const pid of processesUnder(dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    spawnSync("sh", [
      "-c",
      `grep -o ' ${dir}/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`,
    ]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    spawnSync("ip", ["link", "del", bridge], { env, stdio: "ignore" });
    // host-local IPAM keeps a directory per network name in /var/lib/cni/networks: remove the
    // ones this lab's networks (its own, and those the tests created) left without addresses.
    for (const n of unusedIpamDirs())
      if (!ipamBefore.has(n)) rmSync(join(CNI_IPAM_DIR, n), { recursive: true, force: true });
  };
  process.once("exit", cleanUp);
  const dockerHost = `unix://${socket}`;
  const docker = dockerFor(dockerHost);
  try {
    await waitForPing(docker, 30_000, child, log);
  } catch (error) {
    cleanUp();
    throw error;
  }
  return {
    product: "podman",
    defaultNetwork: network,
    dockerHost,
    env: { ...process.env, DOCKER_HOST: dockerHost },
    docker,
    owned: true,
    stop: async () => {
      if (child.exitCode === null) {
        // Let the service finish its API calls; cleanUp then removes what is left.
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      cleanUp();
    },
  };
}
