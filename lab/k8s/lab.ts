/**
 * A real Kubernetes API + Flux lab as local processes, for the end-to-end tests:
 * etcd (Debian's etcd-server), kube-apiserver and kube-controller-manager (built from
 * k8s.io/kubernetes by build.sh), and Flux's source-controller and kustomize-controller (built
 * from their Go modules), all on free 127.0.0.1 ports with a temp dir per lab.
 *
 * There is no kubelet and no scheduler: no pod ever runs. kube-controller-manager gives
 * Deployments, ReplicaSets and namespaces their status and lifecycle, so a Deployment with
 * `replicas: 0` becomes Available and namespaces can be deleted.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { freePort } from "../free-port.js";

const run = promisify(execFile);

export interface KubeLabOptions {
  /** Start source-controller and kustomize-controller. Default true. */
  controllers?: boolean;
  /** Apply the Flux CRDs (and create namespace flux-system). Default true; forced by `controllers`. */
  fluxCrds?: boolean;
  /** Startup timeout per component in ms. Default 60 s. */
  timeoutMs?: number;
}

export type KubeLabComponent =
  | "etcd"
  | "kube-apiserver"
  | "kube-controller-manager"
  | "source-controller"
  | "kustomize-controller";

export interface KubeLab {
  /** A kubeconfig with one context, `ksail-lab`, using a static admin token (system:masters). */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** The bearer token of the lab's admin user. */
  token: string;
  /** PEM of the lab's CA (it signed the apiserver's serving certificate). */
  caPem: string;
  namespace?: never;
  /** http://127.0.0.1:PORT — source-controller's artifact storage server. Empty without controllers. */
  sourceControllerStorage: string;
  /** The last lines of a component's log, for failure messages. */
  logs(name: KubeLabComponent, lines?: number): string;
  stop(): Promise<void>;
}

export const LAB_CACHE = process.env.KSAIL_LAB_CACHE ?? join(homedir(), ".cache", "ksail-lab");
const BUILD_HINT = `run \`bash lab/k8s/build.sh\` (it builds into ${LAB_CACHE}; KSAIL_LAB_CACHE moves it)`;
const SERVICE_CIDR = "10.0.0.0/24";

function cachedBinary(name: string): string {
  const path = join(LAB_CACHE, "bin", name);
  if (!existsSync(path)) {
    throw new Error(`the lab binary ${name} is missing at ${path}: ${BUILD_HINT}`);
  }
  return path;
}

function etcdBinary(): string {
  const candidates = [
    process.env.KSAIL_ETCD_BIN,
    join(LAB_CACHE, "bin", "etcd"),
    "/usr/bin/etcd",
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error("etcd is missing: install it with `apt-get install -y etcd-server`");
  }
  return found;
}

function crdFiles(): string[] {
  const files: string[] = [];
  for (const controller of ["source-controller", "kustomize-controller"]) {
    const dir = join(LAB_CACHE, "crds", controller);
    if (!existsSync(dir)) throw new Error(`the Flux CRDs are missing at ${dir}: ${BUILD_HINT}`);
    for (const f of readdirSync(dir).sort()) if (f.endsWith(".yaml")) files.push(join(dir, f));
  }
  return files;
}

interface Proc {
  name: KubeLabComponent;
  child: ChildProcess;
  logPath: string;
  exited?: string;
}

/** Kills a process: SIGTERM, then SIGKILL after `graceMs`. */
function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// ------------------------------------------------------------------ HTTP helpers

export interface KubeResponse {
  status: number;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
}

interface RawRequest {
  url: string;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  ca?: string;
  timeoutMs?: number;
}

function rawRequest(req: RawRequest): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(req.url);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const r = send(
      url,
      {
        method: req.method ?? "GET",
        headers: {
          ...(req.body !== undefined ? { "content-length": Buffer.byteLength(req.body) } : {}),
          ...req.headers,
        },
        ...(req.ca ? { ca: req.ca } : {}),
        timeout: req.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, json });
        });
        res.on("error", reject);
      },
    );
    r.on("timeout", () => r.destroy(new Error(`timeout: ${req.method ?? "GET"} ${req.url}`)));
    r.on("error", reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** Status of a GET, or 0 when nothing answers. */
async function probe(url: string, ca?: string, token?: string): Promise<number> {
  try {
    const res = await rawRequest({
      url,
      ...(ca ? { ca } : {}),
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      timeoutMs: 2000,
    });
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * One request to the lab's API server as its admin. `body` objects are sent as JSON; for
 * server-side apply pass `contentType: "application/apply-patch+yaml"` with method PATCH.
 */
export function kubeRequest(
  lab: Pick<KubeLab, "server" | "token" | "caPem">,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<KubeResponse> {
  return rawRequest({
    url: lab.server + path,
    method,
    ca: lab.caPem,
    headers: {
      authorization: `Bearer ${lab.token}`,
      accept: "application/json",
      ...(body !== undefined ? { "content-type": contentType } : {}),
    },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
}

/** Server-side apply of one object (fieldManager ksail-lab, force). Returns the applied object. */
export async function kubeApply(
  lab: Pick<KubeLab, "server" | "token" | "caPem">,
  object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    [field: string]: unknown;
  },
  plural: string,
): Promise<unknown> {
  const [group, version] = object.apiVersion.includes("/")
    ? object.apiVersion.split("/")
    : ["", object.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const ns = object.metadata.namespace ? `/namespaces/${object.metadata.namespace}` : "";
  const path = `${base}${ns}/${plural}/${object.metadata.name}?fieldManager=ksail-lab&force=true`;
  const res = await kubeRequest(lab, "PATCH", path, object, "application/apply-patch+yaml");
  if (res.status >= 300) {
    throw new Error(`apply ${object.kind}/${object.metadata.name}: HTTP ${res.status} ${res.body}`);
  }
  return res.json;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  failed: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(`${what}: ${failure}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ------------------------------------------------------------------ certificates

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("`openssl` is missing: install it with `apt-get install -y openssl`", {
        cause: error,
      });
    }
    throw error;
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCerts(dir: string) {
  const p = (f: string) => join(dir, f);
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=ksail-lab-ca",
  ]);
  await Promise.all([
    // The API server's serving certificate, signed by the CA (OpenSSL 3: req -x509 -CA).
    openssl([
      "req",
      "-x509",
      ...EC,
      "-CA",
      p("ca.crt"),
      "-CAkey",
      p("ca.key"),
      "-keyout",
      p("apiserver.key"),
      "-out",
      p("apiserver.crt"),
      "-days",
      "2",
      "-subj",
      "/CN=kube-apiserver",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ]),
    // Service-account token signing key.
    openssl([
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      p("sa.key"),
    ]).then(() => openssl(["pkey", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")])),
  ]);
  return {
    caCrt: p("ca.crt"),
    caKey: p("ca.key"),
    serverCrt: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

// ------------------------------------------------------------------ the lab

export async function startKubeLab(options: KubeLabOptions = {}): Promise<KubeLab> {
  const controllers = options.controllers ?? true;
  const fluxCrds = controllers || (options.fluxCrds ?? true);
  const timeoutMs = options.timeoutMs ?? 60_000;

  // Fail before starting anything when a binary is missing.
  const bins = {
    etcd: etcdBinary(),
    apiserver: cachedBinary("kube-apiserver"),
    kcm: cachedBinary("kube-controller-manager"),
    ...(controllers
      ? {
          source: cachedBinary("source-controller"),
          kustomize: cachedBinary("kustomize-controller"),
        }
      : {}),
  };
  const crds = fluxCrds ? crdFiles() : [];

  const dir = await mkdtemp(join(tmpdir(), "ksail-kube-lab-"));
  const procs: Proc[] = [];
  const logTails = new Map<string, string>();
  let stopped = false;

  const killAllSync = () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
  };
  process.once("exit", killAllSync);

  const logs = (name: KubeLabComponent, lines = 40): string => {
    const proc = procs.find((p) => p.name === name);
    if (!proc) return logTails.get(name) ?? "(not started)";
    return stopped ? (logTails.get(name) ?? "(no log)") : tail(proc.logPath, lines);
  };

  const stop = async () => {
    if (stopped) return;
    for (const p of procs) logTails.set(p.name, tail(p.logPath, 40));
    stopped = true;
    await Promise.all(procs.map((p) => stopChild(p.child)));
    process.removeListener("exit", killAllSync);
    await rm(dir, { recursive: true, force: true });
  };

  const start = (
    name: KubeLabComponent,
    bin: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Proc => {
    const logPath = join(dir, "logs", `${name}.log`);
    const fd = openSync(logPath, "a");
    const child = spawn(bin, args, {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...env },
      cwd: dir,
    });
    closeSync(fd);
    const proc: Proc = { name, child, logPath };
    child.once("exit", (code, signal) => {
      proc.exited = `${name} exited with ${signal ?? code}`;
    });
    child.once("error", (err) => {
      proc.exited = `${name} could not start: ${err.message}`;
    });
    procs.push(proc);
    return proc;
  };

  const failure = (proc: Proc) => () =>
    proc.exited
      ? `${proc.exited}\n--- last lines of ${proc.name}'s log:\n${logs(proc.name)}`
      : undefined;
  const withLogs = async (proc: Proc, what: string, check: () => Promise<boolean>) => {
    try {
      await waitFor(what, timeoutMs, check, failure(proc));
    } catch (error) {
      const message = (error as Error).message;
      if (message.includes("--- last lines")) throw error;
      throw new Error(`${message}\n--- last lines of ${proc.name}'s log:\n${logs(proc.name)}`, {
        cause: error,
      });
    }
  };

  try {
    await mkdir(join(dir, "logs"));
    const token = randomBytes(24).toString("hex");

    // etcd and the certificates in parallel.
    const [etcdClient, etcdPeer, apiPort, kcmPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = start("etcd", bins.etcd, [
      "--name=lab",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=lab=http://127.0.0.1:${etcdPeer}`,
      "--logger=zap",
      "--log-level=warn",
    ]);
    const certs = await makeCerts(dir);
    const caPem = await readFile(certs.caCrt, "utf8");
    await withLogs(etcd, "etcd", async () => (await probe(`${etcdUrl}/health`)) === 200);

    // kube-apiserver.
    const server = `https://127.0.0.1:${apiPort}`;
    const tokenFile = join(dir, "tokens.csv");
    await writeFile(tokenFile, `${token},ksail-lab-admin,ksail-lab-admin,"system:masters"\n`, {
      mode: 0o600,
    });
    const apiserver = start("kube-apiserver", bins.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${certs.serverCrt}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCrt}`,
      `--token-auth-file=${tokenFile}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // The lease reconciler would try to publish 127.0.0.1 as the `kubernetes` Endpoints,
      // which validation rejects (loopback); nothing in the lab needs that Service to route.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
      "--v=0",
    ]);
    await withLogs(
      apiserver,
      "kube-apiserver /readyz",
      async () => (await probe(`${server}/readyz`, caPem, token)) === 200,
    );

    const kubeconfigPath = join(dir, "kubeconfig");
    await writeFile(
      kubeconfigPath,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "  - name: ksail-lab",
        "    cluster:",
        `      server: ${server}`,
        `      certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
        "users:",
        "  - name: ksail-lab-admin",
        "    user:",
        `      token: ${token}`,
        "contexts:",
        "  - name: ksail-lab",
        "    context:",
        "      cluster: ksail-lab",
        "      user: ksail-lab-admin",
        "current-context: ksail-lab",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const api = { server, token, caPem };

    // kube-controller-manager, while the CRDs are applied.
    const kcm = start("kube-controller-manager", bins.kcm, [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      // No front-proxy in the lab: do not look up requestheader CAs in kube-system.
      "--authentication-skip-lookup=true",
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      `--tls-cert-file=${certs.serverCrt}`,
      `--tls-private-key-file=${certs.serverKey}`,
      "--leader-elect=false",
      "--use-service-account-credentials=false",
      "--controllers=*",
      `--service-account-private-key-file=${certs.saKey}`,
      `--root-ca-file=${certs.caCrt}`,
      `--cluster-signing-cert-file=${certs.caCrt}`,
      `--cluster-signing-key-file=${certs.caKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--profiling=false",
      "--v=0",
    ]);
    const kcmReady = withLogs(
      kcm,
      "kube-controller-manager /healthz",
      async () => (await probe(`https://127.0.0.1:${kcmPort}/healthz`, caPem)) === 200,
    );
    kcmReady.catch(() => undefined);

    if (fluxCrds) {
      const names: string[] = [];
      await Promise.all(
        crds.map(async (file) => {
          const crd = parseYaml(await readFile(file, "utf8")) as {
            apiVersion: string;
            kind: string;
            metadata: { name: string };
          };
          names.push(crd.metadata.name);
          await kubeApply(api, crd, "customresourcedefinitions");
        }),
      );
      await kubeApply(
        api,
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } },
        "namespaces",
      );
      await withLogs(apiserver, "Flux CRDs Established", async () => {
        for (const name of names) {
          const res = await kubeRequest(
            api,
            "GET",
            `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
          );
          const conditions =
            (res.json as { status?: { conditions?: { type: string; status: string }[] } })?.status
              ?.conditions ?? [];
          if (!conditions.some((c) => c.type === "Established" && c.status === "True")) {
            return false;
          }
        }
        return true;
      });
    }

    let sourceControllerStorage = "";
    if (controllers && bins.source && bins.kustomize) {
      const [scMetrics, scHealth, scStorage, kcMetrics, kcHealth] = await Promise.all(
        Array.from({ length: 5 }, () => freePort()),
      );
      const env = { KUBECONFIG: kubeconfigPath, RUNTIME_NAMESPACE: "flux-system" };
      sourceControllerStorage = `http://127.0.0.1:${scStorage}`;
      const storagePath = join(dir, "source-controller-storage");
      await mkdir(storagePath);
      const sc = start(
        "source-controller",
        bins.source,
        [
          `--metrics-addr=127.0.0.1:${scMetrics}`,
          `--health-addr=127.0.0.1:${scHealth}`,
          `--storage-path=${storagePath}`,
          `--storage-addr=127.0.0.1:${scStorage}`,
          `--storage-adv-addr=127.0.0.1:${scStorage}`,
          "--watch-all-namespaces=true",
          "--events-addr=",
          "--log-level=info",
        ],
        env,
      );
      const kc = start(
        "kustomize-controller",
        bins.kustomize,
        [
          `--metrics-addr=127.0.0.1:${kcMetrics}`,
          `--health-addr=127.0.0.1:${kcHealth}`,
          "--watch-all-namespaces=true",
          "--events-addr=",
          "--log-level=info",
        ],
        env,
      );
      await Promise.all([
        withLogs(
          sc,
          "source-controller /readyz",
          async () => (await probe(`http://127.0.0.1:${scHealth}/readyz`)) === 200,
        ),
        withLogs(
          kc,
          "kustomize-controller /readyz",
          async () => (await probe(`http://127.0.0.1:${kcHealth}/readyz`)) === 200,
        ),
      ]);
    }
    await kcmReady;

    return {
      kubeconfigPath,
      server,
      token,
      caPem,
      sourceControllerStorage,
      logs,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
