/** A resolved ksail.yaml for project "demo" with Flux, plus the given spec fields. */
import {
  ksailConfigSchema,
  resolveDerivedDefaults,
  type KsailConfig,
  type KsailConfigInput,
} from "../../src/config/schema.js";

export function demoConfig(spec: KsailConfigInput["spec"] = {}): KsailConfig {
  return resolveDerivedDefaults(
    ksailConfigSchema.parse({
      apiVersion: "ksail.dev/v1alpha1",
      kind: "Cluster",
      metadata: { name: "demo" },
      spec: { gitOpsEngine: "Flux", ...spec },
    }),
  );
}
