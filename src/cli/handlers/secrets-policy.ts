/**
 * The secrets guard's policy of a push: --allow-plaintext-secrets, else
 * spec.options.secrets.allowPlaintext; SOPS MACs checked with the age identities sops would use
 * ($SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE, the keys file under $XDG_CONFIG_HOME or ~/.config).
 */
import { resolveAgeKeys } from "../../config/load.js";
import type { KsailConfig } from "../../config/schema.js";
import { loadIdentities } from "../../secrets/age-keys.js";
import type { SecretsPolicy } from "../../validate/secrets.js";

export function secretsPolicy(
  flag: boolean | undefined,
  config: KsailConfig | undefined,
  env: NodeJS.ProcessEnv,
): SecretsPolicy {
  const allowPlaintext = flag ?? config?.spec.options.secrets.allowPlaintext ?? false;
  return {
    ...(allowPlaintext ? { allowPlaintext } : {}),
    identities: async () => (await loadIdentities(resolveAgeKeys(env))).identities,
  };
}

/** The local age identities, for the commands that decrypt (diff --cluster). */
export function localIdentities(env: NodeJS.ProcessEnv): () => Promise<readonly string[]> {
  return async () => (await loadIdentities(resolveAgeKeys(env))).identities;
}
