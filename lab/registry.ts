/**
 * Starts the real distribution registry (Debian's `docker-registry` 2.8.2, or the binary in
 * $KSAIL_REGISTRY_BIN, e.g. distribution v3) as a child process on a free 127.0.0.1 port with
 * its own storage directory. Optional auth: htpasswd (Basic) or token (Bearer) with a small
 * token server here that signs ES256 JWTs carrying an x5c certificate made by `openssl`.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createPrivateKey, randomUUID, sign } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);

export interface TokenAuthOptions {
  username: string;
  password: string;
  /** An identity (refresh) token accepted by the OAuth2 POST flow. */
  refreshToken?: string;
  /** Token lifetime in seconds (expires_in). Default 300. */
  expiresIn?: number;
  /** Answer with `access_token` instead of `token`. */
  accessTokenField?: boolean;
}

export interface StartRegistryOptions {
  auth?: { htpasswd: { username: string; password: string } } | { token: TokenAuthOptions };
  /** storage.delete.enabled; default true. */
  deleteEnabled?: boolean;
  /** Serve HTTPS with a self-signed certificate for 127.0.0.1 / localhost (made by openssl). */
  tls?: boolean;
  /** Storage root to use instead of a fresh temp dir (e.g. a small tmpfs); left in place. */
  storageDir?: string;
}

export interface TokenServerStats {
  /** Every request the token server answered, in order. */
  requests: { method: string; scopes: string[]; authenticated: boolean; status: number }[];
  realm: string;
  service: string;
}

export interface LabRegistry {
  /** "127.0.0.1:PORT" */
  registry: string;
  /** "http://127.0.0.1:PORT" (https:// with `tls`) */
  url: string;
  /** PEM of the self-signed certificate, with `tls`. */
  certificatePem?: string;
  storageDir: string;
  configPath: string;
  /** Present with token auth. */
  tokenServer?: TokenServerStats;
  garbageCollect(options?: { deleteUntagged?: boolean }): Promise<string>;
  stop(): Promise<void>;
}

export function registryBinary(): string {
  const fromEnv = process.env.KSAIL_REGISTRY_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`KSAIL_REGISTRY_BIN=${fromEnv} does not exist`);
    }
    return fromEnv;
  }
  const debian = "/usr/bin/docker-registry";
  if (!existsSync(debian)) {
    throw new Error(
      "the distribution registry binary is missing: install it with `apt-get install -y docker-registry` " +
        "(Debian's distribution 2.8.2), or point KSAIL_REGISTRY_BIN at a registry binary (e.g. distribution v3)",
    );
  }
  return debian;
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<LabRegistry> {
  const bin = registryBinary();
  const dir = await mkdtemp(join(tmpdir(), "ksail-registry-"));
  const storageDir = options.storageDir ?? join(dir, "data");
  const configPath = join(dir, "config.yml");
  let token: { server: Server; stats: TokenServerStats } | undefined;
  try {
    let authYaml = "";
    if (options.auth && "htpasswd" in options.auth) {
      const { username, password } = options.auth.htpasswd;
      const htpasswdPath = join(dir, "htpasswd");
      await writeFile(htpasswdPath, await htpasswdEntry(username, password));
      authYaml = `auth:\n  htpasswd:\n    realm: ksail-lab\n    path: ${htpasswdPath}\n`;
    } else if (options.auth && "token" in options.auth) {
      const { certPath, keyPem, certDerBase64 } = await makeSigningCert(dir);
      token = await startTokenServer(options.auth.token, keyPem, certDerBase64);
      authYaml =
        `auth:\n  token:\n    realm: ${token.stats.realm}\n    service: ${token.stats.service}\n` +
        `    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${certPath}\n`;
    }
    let tlsYaml = "";
    let certificatePem: string | undefined;
    if (options.tls) {
      const tls = await makeServerCert(dir);
      certificatePem = tls.certPem;
      tlsYaml = `  tls:\n    certificate: ${tls.certPath}\n    key: ${tls.keyPath}\n`;
    }
    for (let tries = 1; ; tries++) {
      const port = await freePort();
      const config = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${storageDir}`,
        "  delete:",
        `    enabled: ${options.deleteEnabled === false ? "false" : "true"}`,
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        "  secret: ksail-lab-secret",
        tlsYaml,
        authYaml,
      ].join("\n");
      await writeFile(configPath, config);
      const child = spawn(bin, ["serve", configPath], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, OTEL_TRACES_EXPORTER: "none" },
      });
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        stderr = (stderr + d).slice(-8000);
      });
      const started = await waitUntilServing(child, port, !!options.tls, () => stderr);
      if (started === "port-taken" && tries < 5) continue;
      if (started !== "ok") {
        child.kill("SIGKILL");
        throw new Error(`the registry (${bin}) did not start: ${started}\n${stderr}`);
      }
      const registry = `127.0.0.1:${port}`;
      const tokenServer = token;
      const result: LabRegistry = {
        registry,
        url: `${options.tls ? "https" : "http"}://${registry}`,
        storageDir,
        configPath,
        async garbageCollect(gc = {}) {
          const args = [
            "garbage-collect",
            ...(gc.deleteUntagged ? ["--delete-untagged"] : []),
            configPath,
          ];
          const { stdout, stderr: err } = await run(bin, args, { maxBuffer: 64 * 1024 * 1024 });
          return `${stdout}${err}`;
        },
        async stop() {
          await stopChild(child);
          if (tokenServer) await new Promise<void>((r) => tokenServer.server.close(() => r()));
          await rm(dir, { recursive: true, force: true });
        },
      };
      if (tokenServer) result.tokenServer = tokenServer.stats;
      if (certificatePem) result.certificatePem = certificatePem;
      return result;
    }
  } catch (error) {
    if (token) token.server.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function waitUntilServing(
  child: ChildProcess,
  port: number,
  tls: boolean,
  stderr: () => string,
): Promise<"ok" | "port-taken" | string> {
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (exited) return /address already in use/i.test(stderr()) ? "port-taken" : exited;
    const status = await probe(port, tls);
    if (status === 200 || status === 401) return "ok";
    await new Promise((r) => setTimeout(r, 20));
  }
  return "did not answer /v2/ within 15 s";
}

/** GET /v2/ status, or 0 when nothing answers. Accepts the lab's self-signed certificate. */
function probe(port: number, tls: boolean): Promise<number> {
  return new Promise((resolve) => {
    const req = (tls ? httpsGet : httpGet)(
      { host: "127.0.0.1", port, path: "/v2/", rejectUnauthorized: false, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** A bcrypt htpasswd line, made by apache2-utils' `htpasswd -Bbn`. */
async function htpasswdEntry(username: string, password: string): Promise<string> {
  try {
    const { stdout } = await run("htpasswd", ["-Bbn", username, password]);
    return stdout.trim() + "\n";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("`htpasswd` is missing: install it with `apt-get install -y apache2-utils`", {
        cause: error,
      });
    }
    throw error;
  }
}

// ------------------------------------------------------------------ token auth

const TOKEN_ISSUER = "ksail-lab-token-issuer";
const TOKEN_SERVICE = "ksail-lab-registry";

/** A self-signed P-256 certificate and key made by the openssl CLI, in `dir` under `name`. */
async function selfSignedCert(
  dir: string,
  name: string,
  subject: string,
  extra: string[] = [],
): Promise<{ certPath: string; keyPath: string; certPem: string }> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  try {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      subject,
      ...extra,
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("`openssl` is missing: install it with `apt-get install -y openssl`", {
        cause: error,
      });
    }
    throw error;
  }
  return { certPath, keyPath, certPem: await readFile(certPath, "utf8") };
}

async function makeSigningCert(
  dir: string,
): Promise<{ certPath: string; keyPem: string; certDerBase64: string }> {
  const { certPath, keyPath, certPem } = await selfSignedCert(
    dir,
    "token",
    "/CN=ksail-lab-token-signer",
  );
  const certDerBase64 = certPem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, "")
    .replace(/\s+/g, "");
  return { certPath, keyPem: await readFile(keyPath, "utf8"), certDerBase64 };
}

function makeServerCert(
  dir: string,
): Promise<{ certPath: string; keyPath: string; certPem: string }> {
  return selfSignedCert(dir, "tls", "/CN=127.0.0.1", [
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

function signJwt(claims: object, keyPem: string, certDerBase64: string): string {
  const head = b64url(JSON.stringify({ alg: "ES256", typ: "JWT", x5c: [certDerBase64] }));
  const body = b64url(JSON.stringify(claims));
  const signature = sign("sha256", Buffer.from(`${head}.${body}`), {
    key: createPrivateKey(keyPem),
    dsaEncoding: "ieee-p1363",
  });
  return `${head}.${body}.${b64url(signature)}`;
}

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(",")
      .filter(Boolean),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function startTokenServer(
  options: TokenAuthOptions,
  keyPem: string,
  certDerBase64: string,
): Promise<{ server: Server; stats: TokenServerStats }> {
  const port = await freePort();
  const stats: TokenServerStats = {
    requests: [],
    realm: `http://127.0.0.1:${port}/token`,
    service: TOKEN_SERVICE,
  };
  const reply = (res: ServerResponse, status: number, body: object) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", stats.realm);
      let scopes: string[];
      let service = url.searchParams.get("service") ?? TOKEN_SERVICE;
      let authenticated = false;
      let refused = false;
      if (req.method === "POST") {
        const form = new URLSearchParams(await readBody(req));
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
        service = form.get("service") ?? service;
        if (form.get("grant_type") === "refresh_token") {
          authenticated =
            !!options.refreshToken && form.get("refresh_token") === options.refreshToken;
        } else if (form.get("grant_type") === "password") {
          authenticated =
            form.get("username") === options.username && form.get("password") === options.password;
        }
        refused = !authenticated;
      } else {
        scopes = url.searchParams.getAll("scope");
        const auth = req.headers.authorization;
        if (auth?.startsWith("Basic ")) {
          const [user, ...rest] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":");
          authenticated = user === options.username && rest.join(":") === options.password;
          refused = !authenticated;
        }
      }
      const status = refused ? 401 : 200;
      stats.requests.push({ method: req.method ?? "", scopes, authenticated, status });
      if (refused) {
        reply(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication failed" }] });
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const expiresIn = options.expiresIn ?? 300;
      // Anonymous callers get a token with no access (as Docker Hub does for private repos).
      const access = authenticated
        ? scopes.map(parseScope).filter((s): s is NonNullable<typeof s> => s !== undefined)
        : [];
      const jwt = signJwt(
        {
          iss: TOKEN_ISSUER,
          sub: authenticated ? options.username : "",
          aud: service,
          exp: now + expiresIn,
          nbf: now - 10,
          iat: now,
          jti: randomUUID(),
          access,
        },
        keyPem,
        certDerBase64,
      );
      const field = options.accessTokenField || req.method === "POST" ? "access_token" : "token";
      reply(res, 200, {
        [field]: jwt,
        expires_in: expiresIn,
        issued_at: new Date(now * 1000).toISOString(),
      });
    })().catch(() => {
      if (!res.headersSent)
        reply(res, 500, { errors: [{ code: "UNKNOWN", message: "token server error" }] });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return { server, stats };
}
