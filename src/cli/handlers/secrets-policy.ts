/** The secrets guard's policy of a push: the flag, else spec.options.secrets.allowPlaintext. */
import type { KsailConfig } from "../../config/schema.js";
import { defaultSecretsPolicy } from "../../validate/manifests.js";
import type { SecretsPolicy } from "../../validate/secrets.js";

export function secretsPolicy(
  flag: boolean | undefined,
  config: KsailConfig | undefined,
): SecretsPolicy {
  const allowPlaintext = flag ?? config?.spec.options.secrets.allowPlaintext ?? false;
  return allowPlaintext ? { ...defaultSecretsPolicy, allowPlaintext } : defaultSecretsPolicy;
}
