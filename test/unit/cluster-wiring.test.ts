/** Node ⇄ registry wiring content (golden files) and the generated distribution configs. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { z } from "zod";
import { k3dConfig, kindConfig } from "../../src/cluster/distribution-config.js";
import {
  hostsTomlFiles,
  localRegistryHostingConfigMap,
  registriesYaml,
  writeHostsTomlCommand,
} from "../../src/cluster/wiring.js";
import { demoConfig as config } from "../../lab/project-config.js";
import { inClusterRegistryAddress, registryAddresses } from "../../src/registry/address.js";

const golden = (name: string) =>
  readFileSync(new URL(`../fixtures/golden/${name}`, import.meta.url), "utf8");
const K3D_SCHEMA_PATH = new URL("../fixtures/k3d/v1alpha5.schema.json", import.meta.url);

describe("registry wiring", () => {
  const registry = { name: "ksail-registry", hostPort: 5000 };

  test("hosts.toml: localhost:<port> and <name>:5000 both go to http://<name>:5000", () => {
    const files = hostsTomlFiles(registry);
    assert.deepEqual(
      files.map((f) => f.path),
      [
        "/etc/containerd/certs.d/localhost:5000/hosts.toml",
        "/etc/containerd/certs.d/ksail-registry:5000/hosts.toml",
      ],
    );
    for (const file of files) assert.equal(file.content, golden("hosts.toml"));
  });

  test("hosts.toml follows the configured port and name", () => {
    const files = hostsTomlFiles({ name: "my-reg", hostPort: 5123 });
    assert.equal(files[0]!.path, "/etc/containerd/certs.d/localhost:5123/hosts.toml");
    assert.match(files[1]!.content, /^server = "http:\/\/my-reg:5000"$/m);
  });

  test("registries.yaml (K3d) matches the golden file, without YAML aliases", () => {
    assert.equal(registriesYaml(registry), golden("registries.yaml"));
    assert.doesNotMatch(registriesYaml(registry), /[&*]a\d/);
  });

  test("KEP-1755 ConfigMap matches the golden file and its fields", () => {
    const yaml = localRegistryHostingConfigMap(registryAddresses(registry));
    assert.equal(yaml, golden("local-registry-hosting.yaml"));
    const data = parse(
      (parse(yaml) as { data: Record<string, string> }).data["localRegistryHosting.v1"]!,
    ) as Record<string, string>;
    assert.deepEqual(Object.keys(data), [
      "host",
      "hostFromContainerRuntime",
      "hostFromClusterNetwork",
      "help",
    ]);
  });

  test("the in-cluster address comes from one function", () => {
    assert.equal(inClusterRegistryAddress({ name: "ksail-registry" }), "ksail-registry:5000");
    assert.equal(registryAddresses(registry).hostFromClusterNetwork, "ksail-registry:5000");
  });

  test("the hosts.toml writer passes path and content as arguments, not inside the script", () => {
    const file = hostsTomlFiles(registry)[0]!;
    const argv = writeHostsTomlCommand(file);
    assert.equal(argv[0], "sh");
    assert.equal(argv.at(-2), file.path);
    assert.equal(argv.at(-1), file.content);
    assert.doesNotMatch(argv[2]!, /ksail-registry/);
  });
});

describe("generated distribution configs", () => {
  test("kind.yaml matches the golden file and points containerd at certs.d", () => {
    assert.equal(kindConfig(config({ distribution: "Kind" })), golden("kind.yaml"));
    assert.doesNotMatch(
      kindConfig(config({ distribution: "Kind", localRegistry: "Disabled" })),
      /containerdConfigPatches/,
    );
  });

  test("k3d.yaml matches the golden file and validates against k3d's v1alpha5 JSON Schema", () => {
    const text = k3dConfig(config({ distribution: "K3d" }));
    assert.equal(text, golden("k3d.yaml"));
    const schema = z.fromJSONSchema(
      JSON.parse(readFileSync(K3D_SCHEMA_PATH, "utf8")) as Parameters<typeof z.fromJSONSchema>[0],
    );
    const parsed = parse(text) as Record<string, unknown>;
    const result = schema.safeParse(parsed);
    assert.ok(result.success, JSON.stringify(!result.success && result.error.issues));
    // The default host port is 5001 (kind's docs; macOS's AirPlay receiver holds 5000).
    assert.equal(
      (parsed.registries as { config: string }).config,
      registriesYaml({ name: "ksail-registry", hostPort: 5001 }),
    );
    // The validator does reject what k3d rejects (so the pass above means something).
    // (k3d's schema puts `additionalProperties: false` of `registries` inside its `properties`, so
    // unknown keys there are not caught; unknown top-level keys are.)
    assert.equal(schema.safeParse({ ...parsed, registry: {} }).success, false);
    assert.equal(schema.safeParse({ ...parsed, registries: { config: 42 } }).success, false);
    assert.equal(schema.safeParse({ ...parsed, apiVersion: "k3d.io/v1alpha4" }).success, false);
    assert.equal(schema.safeParse({ ...parsed, servers: "one" }).success, false);
  });
});
