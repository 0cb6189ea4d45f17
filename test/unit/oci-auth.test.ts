import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  TokenCache,
  TokenError,
  fetchBearerToken,
  parseWwwAuthenticate,
  pickChallenge,
} from "../../src/oci/auth.js";
import type { TokenHttpRequest } from "../../src/oci/auth.js";

describe("parseWwwAuthenticate", () => {
  it("parses a Docker Hub style Bearer challenge", () => {
    assert.deepEqual(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:library/alpine:pull",
          },
        },
      ],
    );
  });

  it("keeps commas inside quoted strings and handles escapes and spaces", () => {
    const [c] = parseWwwAuthenticate(
      'Bearer realm = "https://a/token" , scope="repository:x:pull,push" ,error="insufficient_scope", note="say \\"hi\\""',
    );
    assert.equal(c?.params.scope, "repository:x:pull,push");
    assert.equal(c?.params.realm, "https://a/token");
    assert.equal(c?.params.error, "insufficient_scope");
    assert.equal(c?.params.note, 'say "hi"');
  });

  it("parses several challenges in one header and across header lines", () => {
    const many = parseWwwAuthenticate(
      'Basic realm="Registry Realm", Bearer realm="https://t/token",service="s"',
    );
    assert.deepEqual(
      many.map((c) => c.scheme),
      ["basic", "bearer"],
    );
    assert.equal(many[0]?.params.realm, "Registry Realm");
    assert.equal(many[1]?.params.service, "s");
    const lines = parseWwwAuthenticate(["Negotiate abc==", "Basic realm=plain"]);
    assert.equal(lines[0]?.scheme, "negotiate");
    assert.equal(lines[0]?.token68, "abc==");
    assert.deepEqual(lines[1], { scheme: "basic", params: { realm: "plain" } });
  });

  it("treats scheme names case-insensitively and tolerates junk", () => {
    assert.equal(parseWwwAuthenticate('BASIC realm="x"')[0]?.scheme, "basic");
    assert.deepEqual(parseWwwAuthenticate(""), []);
    assert.deepEqual(parseWwwAuthenticate(undefined), []);
    assert.doesNotThrow(() => parseWwwAuthenticate('Bearer realm="unterminated'));
    assert.equal(
      parseWwwAuthenticate('Bearer realm="unterminated')[0]?.params.realm,
      "unterminated",
    );
  });

  it("pickChallenge prefers Bearer with a realm, else Basic", () => {
    assert.equal(
      pickChallenge(parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t"'))?.scheme,
      "bearer",
    );
    assert.equal(
      pickChallenge(parseWwwAuthenticate('Basic realm="r", Bearer service="no-realm"'))?.scheme,
      "basic",
    );
    assert.equal(pickChallenge(parseWwwAuthenticate("Negotiate abc")), undefined);
  });
});

describe("fetchBearerToken", () => {
  const challenge = {
    scheme: "bearer",
    params: { realm: "https://auth.example/token", service: "reg" },
  };

  it("GETs the realm with service, each scope, and Basic auth when a password is known", async () => {
    const seen: TokenHttpRequest[] = [];
    const token = await fetchBearerToken(
      async (req) => {
        seen.push(req);
        return { status: 200, body: Buffer.from(JSON.stringify({ token: "T1", expires_in: 120 })) };
      },
      challenge,
      ["repository:a:pull,push", "repository:b:pull"],
      { username: "u", password: "p" },
      { userAgent: "ksail-test", now: () => 1_000_000 },
    );
    assert.equal(token.token, "T1");
    assert.equal(token.expiresAt, 1_000_000 + 115_000);
    assert.equal(seen.length, 1);
    const req = seen[0]!;
    assert.equal(req.method, "GET");
    assert.equal(req.url.searchParams.get("service"), "reg");
    assert.deepEqual(req.url.searchParams.getAll("scope"), [
      "repository:a:pull,push",
      "repository:b:pull",
    ]);
    assert.equal(req.headers.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
  });

  it("POSTs an OAuth2 refresh_token form for identity tokens and accepts access_token", async () => {
    let form: URLSearchParams | undefined;
    let method = "";
    const token = await fetchBearerToken(
      async (req) => {
        method = req.method;
        form = new URLSearchParams(Buffer.from(req.body ?? []).toString());
        assert.equal(req.headers.authorization, undefined);
        return { status: 200, body: Buffer.from(JSON.stringify({ access_token: "A1" })) };
      },
      challenge,
      ["repository:a:pull"],
      { identityToken: "refresh-me" },
      { userAgent: "ksail-test", now: () => 0 },
    );
    assert.equal(method, "POST");
    assert.equal(form?.get("grant_type"), "refresh_token");
    assert.equal(form?.get("refresh_token"), "refresh-me");
    assert.equal(form?.get("service"), "reg");
    assert.equal(form?.get("scope"), "repository:a:pull");
    assert.equal(token.token, "A1");
    // no expires_in: the spec's 60 s minimum, minus the safety margin
    assert.equal(token.expiresAt, 55_000);
  });

  it("anonymous requests carry no Authorization; challenge scope is used when none is asked", async () => {
    let url: URL | undefined;
    await fetchBearerToken(
      async (req) => {
        url = req.url;
        assert.equal(req.headers.authorization, undefined);
        return { status: 200, body: Buffer.from('{"token":"x"}') };
      },
      { scheme: "bearer", params: { ...challenge.params, scope: "registry:catalog:*" } },
      [],
      undefined,
      { userAgent: "t" },
    );
    assert.deepEqual(url?.searchParams.getAll("scope"), ["registry:catalog:*"]);
  });

  it("a refusal becomes a TokenError with the status and code but no body echo", async () => {
    await assert.rejects(
      fetchBearerToken(
        async () => ({
          status: 401,
          body: Buffer.from(
            JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "password pw123 wrong" }] }),
          ),
        }),
        challenge,
        [],
        { username: "u", password: "pw123" },
        { userAgent: "t" },
      ),
      (e: unknown) =>
        e instanceof TokenError &&
        e.status === 401 &&
        e.code === "UNAUTHORIZED" &&
        !e.message.includes("pw123"),
    );
    await assert.rejects(
      fetchBearerToken(
        async () => ({ status: 200, body: Buffer.from("{}") }),
        challenge,
        [],
        undefined,
        { userAgent: "t" },
      ),
      /returned no token/,
    );
  });
});

describe("TokenCache", () => {
  it("serves a token until it expires, keyed by registry, realm, service and scope set", () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    const ch = { scheme: "bearer", params: { realm: "r", service: "s" } };
    const key = TokenCache.key("reg", ch, ["b", "a"]);
    assert.equal(key, TokenCache.key("reg", ch, ["a", "b"]));
    assert.notEqual(key, TokenCache.key("reg", ch, ["a"]));
    assert.notEqual(key, TokenCache.key("other", ch, ["a", "b"]));
    cache.set(key, { token: "t", expiresAt: 1000 });
    assert.equal(cache.get(key), "t");
    now = 1000;
    assert.equal(cache.get(key), undefined);
  });
});
