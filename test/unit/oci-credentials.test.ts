import { resolveRuntime } from "../../src/config/load.js";
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KsailError } from "../../src/errors.js";
import {
  dockerConfigCredentials,
  normalizeRegistryKey,
  staticCredentials,
} from "../../src/oci/credentials.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("docker config credentials", () => {
  let dir: string;
  let binDir: string;
  const savedPath = process.env.PATH;
  const savedDockerConfig = process.env.DOCKER_CONFIG;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ksail-creds-"));
    binDir = join(dir, "bin");
    await (await import("node:fs/promises")).mkdir(binDir);
    // A credential helper speaking docker's protocol: server URL on stdin, JSON on stdout.
    const helper = [
      "#!/bin/sh",
      "read -r server",
      'echo "$server" >> "$(dirname "$0")/queries.log"',
      'case "$server" in',
      '  helper.example.com) echo \'{"ServerURL":"helper.example.com","Username":"hu","Secret":"hs"}\' ;;',
      '  token.example.com) echo \'{"ServerURL":"token.example.com","Username":"<token>","Secret":"refresh-1"}\' ;;',
      '  https://index.docker.io/v1/) echo \'{"ServerURL":"x","Username":"hubuser","Secret":"hubpass"}\' ;;',
      '  broken.example.com) echo "keychain locked" >&2; exit 3 ;;',
      '  *) echo "credentials not found in native keychain"; exit 1 ;;',
      "esac",
    ].join("\n");
    await writeFile(join(binDir, "docker-credential-test"), helper + "\n");
    await chmod(join(binDir, "docker-credential-test"), 0o755);
    process.env.PATH = `${binDir}${delimiter}${savedPath ?? ""}`;
  });
  after(async () => {
    process.env.PATH = savedPath;
    if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = savedDockerConfig;
    await rm(dir, { recursive: true, force: true });
  });

  async function configWith(content: unknown, name = "config.json"): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  }

  it("reads auths: base64 auth, username/password, identitytoken, registrytoken", async () => {
    const configPath = await configWith({
      auths: {
        "127.0.0.1:5000": { auth: b64("alice:pa:ss") },
        "https://registry.example.com": { username: "bob", password: "pw" },
        "id.example.com": { auth: "", identitytoken: "refresh-xyz" },
        "rt.example.com": { registrytoken: "bearer-abc" },
        "empty.example.com": {},
      },
    });
    const creds = dockerConfigCredentials({ configPath });
    assert.deepEqual(await creds("127.0.0.1:5000"), { username: "alice", password: "pa:ss" });
    assert.deepEqual(await creds("registry.example.com"), { username: "bob", password: "pw" });
    assert.deepEqual(await creds("id.example.com"), { identityToken: "refresh-xyz" });
    assert.deepEqual(await creds("rt.example.com"), { registryToken: "bearer-abc" });
    assert.equal(await creds("empty.example.com"), undefined);
    assert.equal(await creds("unknown.example.com"), undefined);
  });

  it("maps Docker Hub aliases to the https://index.docker.io/v1/ entry", async () => {
    const configPath = await configWith({
      auths: { "https://index.docker.io/v1/": { auth: b64("hub:pw") } },
    });
    const creds = dockerConfigCredentials({ configPath });
    for (const alias of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
      assert.deepEqual(await creds(alias), { username: "hub", password: "pw" }, alias);
    }
    assert.equal(normalizeRegistryKey("https://index.docker.io/v1/"), "docker.io");
    assert.equal(normalizeRegistryKey("HTTP://Host:5000/v2/"), "host:5000");
  });

  it("uses credHelpers[host] before auths, and passes the host on stdin", async () => {
    const configPath = await configWith({
      auths: { "helper.example.com": { auth: b64("file:user") } },
      credHelpers: {
        "helper.example.com": "test",
        "token.example.com": "test",
        "missing.example.com": "test",
      },
    });
    const creds = dockerConfigCredentials({ configPath });
    assert.deepEqual(await creds("helper.example.com"), { username: "hu", password: "hs" });
    assert.deepEqual(await creds("token.example.com"), { identityToken: "refresh-1" });
    assert.equal(await creds("missing.example.com"), undefined);
    const log = await (
      await import("node:fs/promises")
    ).readFile(join(binDir, "queries.log"), "utf8");
    assert.match(log, /^helper\.example\.com$/m);
  });

  it("uses credsStore for every host, falling back to auths when the store has nothing", async () => {
    const configPath = await configWith({
      credsStore: "test",
      auths: { "fallback.example.com": { auth: b64("fb:pw") } },
    });
    const creds = dockerConfigCredentials({ configPath });
    assert.deepEqual(await creds("helper.example.com"), { username: "hu", password: "hs" });
    assert.deepEqual(await creds("docker.io"), { username: "hubuser", password: "hubpass" });
    assert.deepEqual(await creds("fallback.example.com"), { username: "fb", password: "pw" });
  });

  it("a failing helper is an auth error naming the helper; a missing helper says to install it", async () => {
    const configPath = await configWith({
      credHelpers: { "broken.example.com": "test", "nohelper.example.com": "does-not-exist" },
    });
    const creds = dockerConfigCredentials({ configPath });
    await assert.rejects(
      creds("broken.example.com"),
      (e: unknown) =>
        e instanceof KsailError &&
        e.kind === "auth" &&
        /docker-credential-test/.test(e.message) &&
        /keychain locked/.test(e.message),
    );
    await assert.rejects(
      creds("nohelper.example.com"),
      (e: unknown) =>
        e instanceof KsailError &&
        e.kind === "auth" &&
        /docker-credential-does-not-exist/.test(e.hint ?? ""),
    );
  });

  it("finds config.json through $DOCKER_CONFIG; no file means no credentials", async () => {
    const sub = join(dir, "dc");
    await (await import("node:fs/promises")).mkdir(sub);
    await writeFile(
      join(sub, "config.json"),
      JSON.stringify({ auths: { "h:1": { auth: b64("x:y") } } }),
    );
    const fromEnv = (value: string) =>
      dockerConfigCredentials({ configDir: resolveRuntime({ DOCKER_CONFIG: value }).dockerConfig });
    assert.deepEqual(await fromEnv(sub)("h:1"), { username: "x", password: "y" });
    assert.equal(await fromEnv(join(dir, "nowhere"))("h:1"), undefined);
  });

  it("invalid JSON or a bad auth value is a config error that does not print the file", async () => {
    const broken = await configWith('{"auths": {"h": {"auth": "c2VjcmV0"}', "broken.json");
    await assert.rejects(
      dockerConfigCredentials({ configPath: broken })("h"),
      (e: unknown) => e instanceof KsailError && e.kind === "config" && !/c2VjcmV0/.test(e.message),
    );
    const badAuth = await configWith({ auths: { h: { auth: b64("no-colon-here") } } }, "bad.json");
    await assert.rejects(
      dockerConfigCredentials({ configPath: badAuth })("h"),
      (e: unknown) =>
        e instanceof KsailError && e.kind === "config" && !/no-colon-here/.test(e.message),
    );
  });
});

describe("staticCredentials", () => {
  it("looks up by normalized registry", async () => {
    const creds = staticCredentials({
      "https://Reg.example.com/": { username: "u", password: "p" },
    });
    assert.deepEqual(await creds("reg.example.com"), { username: "u", password: "p" });
    assert.equal(await creds("other"), undefined);
  });
});
