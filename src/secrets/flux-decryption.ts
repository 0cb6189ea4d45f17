/**
 * What Flux needs to decrypt SOPS files: kustomize-controller reads age identities from the data
 * keys ending in `.agekey` of the Secret named by the Kustomization's
 * `spec.decryption: {provider: sops, secretRef: {name: sops-age}}` (in the Kustomization's
 * namespace). ksail puts there every local identity whose recipient appears in a creation rule of
 * the project's `.sops.yaml` — never another one — and nothing when there is no `.sops.yaml`.
 */
import { loadIdentities, type AgeKeyPlaces } from "./age-keys.js";
import { findSopsConfig, readSopsConfig } from "./sops-config.js";

export const SOPS_AGE_SECRET = "sops-age";
/** The data key kustomize-controller imports (any name ending in .agekey). */
export const SOPS_AGE_DATA_KEY = "age.agekey";

export interface FluxDecryption {
  /** The Secret with the identities, in the Kustomization's namespace. */
  secretName: string;
  /** The .sops.yaml the recipients came from. */
  config: string;
  /** Recipients of .sops.yaml (public). */
  recipients: string[];
  /** Recipients of .sops.yaml that have a local identity (public). */
  matched: string[];
}

/**
 * The decryption set-up of a project, and the identities for its Secret (kept apart: secret).
 * Without `keys` (`gen flux`), the reference only: no key file is read.
 */
export async function fluxDecryption(
  projectRoot: string,
  keys: AgeKeyPlaces | undefined,
): Promise<{ decryption: FluxDecryption; identities: string[] } | undefined> {
  const configPath = await findSopsConfig(projectRoot);
  if (configPath === undefined) return undefined;
  const config = await readSopsConfig(configPath);
  const recipients = [...new Set(config.creationRules.flatMap((rule) => rule.recipients))];
  if (recipients.length === 0) return undefined;
  const local = keys
    ? await loadIdentities(keys)
    : { identities: [] as string[], recipients: [] as string[] };
  const identities: string[] = [];
  const matched: string[] = [];
  local.identities.forEach((identity, i) => {
    const recipient = local.recipients[i]!;
    if (recipients.includes(recipient) && !matched.includes(recipient)) {
      identities.push(identity);
      matched.push(recipient);
    }
  });
  return {
    decryption: { secretName: SOPS_AGE_SECRET, config: configPath, recipients, matched },
    identities,
  };
}

/** The Secret kustomize-controller reads the identities from. */
export function sopsAgeSecret(
  namespace: string,
  identities: readonly string[],
  labels: Record<string, string> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: SOPS_AGE_SECRET, namespace, labels },
    type: "Opaque",
    data: {
      [SOPS_AGE_DATA_KEY]: Buffer.from(`${identities.join("\n")}\n`, "utf8").toString("base64"),
    },
  };
}

/** The warning when .sops.yaml names recipients but no local identity matches any. */
export function noIdentityWarning(decryption: FluxDecryption): string {
  return `${decryption.config} names ${decryption.recipients.join(", ")}, but no local age identity matches: Flux cannot decrypt the SOPS files (Secret ${decryption.secretName} not written); put the key in $SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt and run \`ksail flux sync\``;
}
