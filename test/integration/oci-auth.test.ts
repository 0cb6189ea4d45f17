import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KsailError } from "../../src/errors.js";
import { RegistryClient } from "../../src/oci/client.js";
import { dockerConfigCredentials, staticCredentials } from "../../src/oci/credentials.js";
import { OCI_MANIFEST, blobOf, manifestFor, rejectsKsail } from "../../lab/oci-fixtures.js";
import { startRegistry } from "../../lab/registry.js";
import type { LabRegistry } from "../../lab/registry.js";

const USER = "ksail-user";
const PASSWORD = "s3cret-Pa55word-do-not-leak";

/** Everything a person (or a log) could see of an error. */
function visible(error: KsailError): string {
  return [
    error.message,
    error.hint ?? "",
    ...error.details,
    String(error.stack),
    JSON.stringify(error),
  ].join("\n");
}

function assertNoSecret(error: KsailError) {
  const text = visible(error);
  assert.ok(!text.includes(PASSWORD), "the password leaked into the error");
  assert.ok(!text.includes("wrong-password"), "the wrong password leaked into the error");
  const basic = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
  assert.ok(!text.includes(basic), "the Authorization value leaked into the error");
  assert.ok(!/authorization:/i.test(text), "an Authorization header leaked into the error");
}

async function pushSmallArtifact(client: RegistryClient, registry: string, repository: string) {
  const repo = { registry, repository };
  const config = blobOf(Buffer.from("{}"));
  const layer = blobOf(randomBytes(256));
  await client.pushBlob(repo, config);
  await client.pushBlob(repo, layer);
  const manifest = manifestFor(config, [layer]);
  return client.pushManifest(repo, "1.0.0", manifest, OCI_MANIFEST);
}

describe("basic auth (htpasswd) registry", () => {
  let lab: LabRegistry;
  before(async () => {
    lab = await startRegistry({ auth: { htpasswd: { username: USER, password: PASSWORD } } });
  });
  after(async () => {
    await lab?.stop();
  });

  it("works with the right credentials from a docker config.json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ksail-auth-"));
    const configPath = join(dir, "config.json");
    await writeFile(
      configPath,
      JSON.stringify({
        auths: { [lab.registry]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } },
      }),
    );
    const client = new RegistryClient({ credentials: dockerConfigCredentials({ configPath }) });
    try {
      await client.ping(lab.registry);
      const digest = await pushSmallArtifact(client, lab.registry, "private/app");
      assert.equal(
        (await client.resolve({ registry: lab.registry, repository: "private/app" }, "1.0.0"))
          ?.digest,
        digest,
      );
      assert.deepEqual(
        await client.listTags({ registry: lab.registry, repository: "private/app" }),
        ["1.0.0"],
      );
    } finally {
      client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("without credentials: kind auth, names the registry and says how to log in", async () => {
    const client = new RegistryClient({ credentials: async () => undefined });
    try {
      const error = await rejectsKsail(pushSmallArtifact(client, lab.registry, "private/app2"));
      assert.equal(error.kind, "auth");
      assert.equal(error.code, "UNAUTHORIZED");
      assert.ok(error.message.includes(lab.registry));
      assert.match(error.message, /no credentials/);
      assert.match(error.hint ?? "", /docker login/);
      const pingError = await rejectsKsail(client.ping(lab.registry));
      assert.equal(pingError.kind, "auth");
    } finally {
      client.close();
    }
  });

  it("with a wrong password: kind auth, says the credentials were refused, never shows them", async () => {
    const client = new RegistryClient({
      credentials: staticCredentials({
        [lab.registry]: { username: USER, password: "wrong-password" },
      }),
    });
    try {
      const error = await rejectsKsail(pushSmallArtifact(client, lab.registry, "private/app3"));
      assert.equal(error.kind, "auth");
      assert.match(error.message, /refused the credentials/);
      assert.ok(error.message.includes(lab.registry));
      assertNoSecret(error);
    } finally {
      client.close();
    }
  });

  it("errors after a successful login never contain the password either", async () => {
    const client = new RegistryClient({
      credentials: staticCredentials({ [lab.registry]: { username: USER, password: PASSWORD } }),
    });
    try {
      const error = await rejectsKsail(
        client.fetchManifest({ registry: lab.registry, repository: "private/none" }, "1.0.0"),
      );
      assert.equal(error.kind, "not-found");
      assertNoSecret(error);
    } finally {
      client.close();
    }
  });
});

describe("token auth (Bearer) registry, verified by the registry's own JWT checks", () => {
  let lab: LabRegistry;
  const REFRESH = "refresh-token-value-123";
  before(async () => {
    lab = await startRegistry({
      auth: { token: { username: USER, password: PASSWORD, refreshToken: REFRESH } },
    });
  });
  after(async () => {
    await lab?.stop();
  });

  it("gets a token with user + password, pushes, and reuses cached tokens", async () => {
    const stats = lab.tokenServer!;
    const client = new RegistryClient({
      credentials: staticCredentials({ [lab.registry]: { username: USER, password: PASSWORD } }),
    });
    try {
      const digest = await pushSmallArtifact(client, lab.registry, "tok/app");
      const repo = { registry: lab.registry, repository: "tok/app" };
      assert.equal((await client.resolve(repo, "1.0.0"))?.digest, digest);
      const requestsSoFar = stats.requests.length;
      assert.ok(
        stats.requests.some(
          (r) => r.authenticated && r.scopes.includes("repository:tok/app:pull,push"),
        ),
      );
      // the same scope again is served from the cache
      await client.resolve(repo, "1.0.0");
      await client.resolve(repo, "1.0.0");
      assert.equal(stats.requests.length, requestsSoFar);
      assert.ok(requestsSoFar <= 4, `${requestsSoFar} token requests for one push`);
      assert.deepEqual(await client.catalog(lab.registry), ["tok/app"]);
      await client.deleteManifest(repo, digest);
      assert.equal(await client.resolve(repo, "1.0.0"), undefined);
    } finally {
      client.close();
    }
  });

  it("exchanges an identity token through the OAuth2 POST flow", async () => {
    const stats = lab.tokenServer!;
    const client = new RegistryClient({
      credentials: staticCredentials({ [lab.registry]: { identityToken: REFRESH } }),
    });
    try {
      const before = stats.requests.length;
      await pushSmallArtifact(client, lab.registry, "tok/oauth");
      const mine = stats.requests.slice(before);
      assert.ok(mine.length > 0 && mine.every((r) => r.method === "POST" && r.authenticated));
    } finally {
      client.close();
    }
  });

  it("a wrong password is refused at the token service: kind auth, no secret shown", async () => {
    const client = new RegistryClient({
      credentials: staticCredentials({
        [lab.registry]: { username: USER, password: "wrong-password" },
      }),
    });
    try {
      const error = await rejectsKsail(pushSmallArtifact(client, lab.registry, "tok/denied"));
      assert.equal(error.kind, "auth");
      assert.ok(error.message.includes(lab.registry));
      assert.match(error.message, /refused/);
      assertNoSecret(error);
    } finally {
      client.close();
    }
  });

  it("anonymous: the token grants nothing and the registry's 401 becomes an auth error", async () => {
    const client = new RegistryClient({ credentials: async () => undefined });
    try {
      const error = await rejectsKsail(pushSmallArtifact(client, lab.registry, "tok/anon"));
      assert.equal(error.kind, "auth");
      assert.match(error.message, /no credentials/);
      assert.match(
        error.hint ?? "",
        new RegExp(`docker login ${lab.registry.replace(/\./g, "\\.")}`),
      );
    } finally {
      client.close();
    }
  });
});
