/** Mirror registries: flag parsing, container request, node wiring content (golden files). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { z } from "zod";
import {
  addMirrorsToDistributionConfig,
  k3dConfig,
  kindConfig,
} from "../../src/cluster/distribution-config.js";
import { mirrorHostsTomlFile, registriesYaml } from "../../src/cluster/wiring.js";
import { demoConfig as config } from "../../lab/project-config.js";
import { KsailError } from "../../src/errors.js";
import {
  mirrorContainerName,
  mirrorContainerOptions,
  mirrorRegistrySpec,
  parseMirrorSpec,
  parseMirrorSpecs,
} from "../../src/registry/mirror.js";

const golden = (name: string) =>
  readFileSync(new URL(`../fixtures/golden/${name}`, import.meta.url), "utf8");
const K3D_SCHEMA_PATH = new URL("../fixtures/k3d/v1alpha5.schema.json", import.meta.url);

const dockerHub = parseMirrorSpec("docker.io=https://registry-1.docker.io");
const ghcr = parseMirrorSpec("ghcr.io");

describe("--mirror-registry parsing", () => {
  test("HOST=URL, and HOST alone with the usual upstream", () => {
    assert.deepEqual(dockerHub, {
      host: "docker.io",
      upstream: "https://registry-1.docker.io",
      name: "ksail-mirror-docker-io",
    });
    assert.deepEqual(parseMirrorSpec("docker.io"), dockerHub);
    assert.deepEqual(ghcr, {
      host: "ghcr.io",
      upstream: "https://ghcr.io",
      name: "ksail-mirror-ghcr-io",
    });
    assert.equal(
      parseMirrorSpec("Quay.IO=https://quay.io/").upstream,
      "https://quay.io",
      "trailing slash dropped",
    );
    assert.equal(mirrorContainerName("registry.k8s.io:443"), "ksail-mirror-registry-k8s-io-443");
  });

  test("bad values are usage errors that say the expected form", () => {
    for (const bad of [
      "https://docker.io=https://registry-1.docker.io",
      "docker.io=ftp://x",
      "docker.io=not a url",
      "docker.io=https://user:pw@registry-1.docker.io",
      "=https://x",
      "bad_host=https://x",
    ]) {
      assert.throws(
        () => parseMirrorSpec(bad),
        (e: unknown) =>
          e instanceof KsailError && e.kind === "usage" && /HOST=URL/.test(e.hint ?? ""),
        bad,
      );
    }
  });

  test("repeated: duplicates collapse, two upstreams for one host are an error", () => {
    assert.deepEqual(parseMirrorSpecs(["docker.io", "docker.io=https://registry-1.docker.io"]), [
      dockerHub,
    ]);
    assert.throws(
      () => parseMirrorSpecs(["docker.io", "docker.io=https://mirror.gcr.io"]),
      /given twice/,
    );
    assert.deepEqual(parseMirrorSpecs(undefined), []);
  });
});

describe("mirror container request", () => {
  test("the local registry's request plus REGISTRY_PROXY_REMOTEURL, own volume, mirror labels", () => {
    const spec = mirrorRegistrySpec(dockerHub, 41234);
    const options = mirrorContainerOptions(dockerHub, spec);
    assert.equal(options.name, "ksail-mirror-docker-io");
    assert.equal(options.Image, "registry:3");
    assert.ok(options.Env?.includes("REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io"));
    assert.deepEqual(options.HostConfig?.PortBindings, {
      "5000/tcp": [{ HostIp: "127.0.0.1", HostPort: "41234" }],
    });
    assert.deepEqual(options.HostConfig?.Mounts, [
      { Type: "volume", Source: "ksail-mirror-docker-io-data", Target: "/var/lib/registry" },
    ]);
    assert.equal(options.Labels?.["dev.ksail.managed"], "true");
    assert.equal(options.Labels?.["dev.ksail.role"], "registry-mirror");
    assert.equal(options.Labels?.["dev.ksail.mirror.upstream"], "https://registry-1.docker.io");
  });
});

describe("mirror wiring", () => {
  test("Kind: hosts.toml under certs.d/<host>/ goes to the mirror, upstream as fallback", () => {
    const file = mirrorHostsTomlFile(dockerHub);
    assert.equal(file.path, "/etc/containerd/certs.d/docker.io/hosts.toml");
    assert.equal(file.content, golden("mirror-hosts.toml"));
  });

  test("K3d: registries.yaml mirrors entries next to the local registry's (golden)", () => {
    assert.equal(
      registriesYaml({ name: "ksail-registry", hostPort: 5001 }, [dockerHub, ghcr]),
      golden("registries-mirrors.yaml"),
    );
    assert.deepEqual(parse(registriesYaml(undefined, [dockerHub])), {
      mirrors: { "docker.io": { endpoint: ["http://ksail-mirror-docker-io:5000"] } },
    });
  });

  test("generated kind.yaml gets the certs.d patch for mirrors even without a local registry", () => {
    const noRegistry = config({ distribution: "Kind", localRegistry: "Disabled" });
    assert.doesNotMatch(kindConfig(noRegistry), /config_path/);
    assert.match(kindConfig(noRegistry, { mirrors: [dockerHub] }), /config_path/);
  });

  test("generated k3d.yaml with mirrors validates against k3d's JSON Schema", () => {
    const text = k3dConfig(config({ distribution: "K3d" }), { mirrors: [dockerHub, ghcr] });
    const parsed = parse(text) as { registries: { config: string } };
    assert.equal(parsed.registries.config, golden("registries-mirrors.yaml"));
    const schema = z.fromJSONSchema(
      JSON.parse(readFileSync(K3D_SCHEMA_PATH, "utf8")) as Parameters<typeof z.fromJSONSchema>[0],
    );
    const result = schema.safeParse(parsed);
    assert.ok(result.success, JSON.stringify(!result.success && result.error.issues));
  });

  test("the project's own k3d.yaml / kind.yaml get the mirrors added; unchanged when present", () => {
    const k3d = k3dConfig(config({ distribution: "K3d" }));
    const merged = addMirrorsToDistributionConfig("K3d", k3d, [dockerHub, ghcr])!;
    assert.equal(
      (parse(merged) as { registries: { config: string } }).registries.config,
      golden("registries-mirrors.yaml"),
    );
    assert.equal(addMirrorsToDistributionConfig("K3d", merged, [dockerHub]), undefined);
    assert.equal(addMirrorsToDistributionConfig("K3d", k3d, []), undefined);

    const kindWithPatch = kindConfig(config({ distribution: "Kind" }));
    assert.equal(addMirrorsToDistributionConfig("Kind", kindWithPatch, [dockerHub]), undefined);
    const kindPlain = kindConfig(config({ distribution: "Kind", localRegistry: "Disabled" }));
    assert.equal(
      addMirrorsToDistributionConfig("Kind", kindPlain, [dockerHub]),
      kindConfig(config({ distribution: "Kind", localRegistry: "Disabled" }), {
        mirrors: [dockerHub],
      }),
    );
  });
});
