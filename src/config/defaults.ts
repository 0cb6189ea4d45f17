/**
 * The configuration of a project without ksail.yaml, KSAIL_* settings or flags: every default of
 * the schema (schema.ts), written out so that such a command (`workload push --registry … --path
 * …` outside a project) needs neither zod nor a YAML parser. test/unit/config.test.ts checks it
 * against the schema's own defaults.
 */
import type { KsailConfig } from "./schema.js";

export const CONFIG_FILE = "ksail.yaml";
export const API_VERSION = "ksail.dev/v1alpha1";
export const KIND = "Cluster";

/** What the schema makes of `{ apiVersion, kind, metadata: { name } }`, derived defaults included. */
export function defaultConfig(name: string): KsailConfig {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      distribution: "Kind",
      sourceDirectory: "k8s",
      gitOpsEngine: "None",
      images: [],
      connection: { timeout: "5m" },
      options: {
        localRegistry: { hostPort: 5001, name: "ksail-registry", image: "registry:3" },
        mirrorRegistries: [],
        flux: { interval: "1m", namespace: "flux-system" },
        signing: {},
        secrets: { allowPlaintext: false },
      },
      localRegistry: "Disabled",
      distributionConfig: "kind.yaml",
    },
  };
}
