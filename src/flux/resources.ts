/**
 * The Flux objects that make a cluster follow the workload artifact (FR-008–FR-011):
 * an OCIRepository tracking the newest semver version in <registry>/<project>, and a
 * Kustomization applying it with prune and health checks.
 */
import { stringify } from "yaml";
import type { KsailConfig } from "../config/schema.js";
import { isLoopbackRegistry, parseRepository } from "../oci/reference.js";
import { localRegistryAddresses } from "../registry/address.js";
import { KsailError } from "../errors.js";
import { loadPublicKey } from "../sign/keys.js";

export const OCI_REPOSITORY_API = "source.toolkit.fluxcd.io/v1";
export const KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/v1";

/**
 * `ref.semver: ">=0.0.0"` follows the highest release version, which is what
 * `ksail workload push` (next patch by default, or --bump) produces. Pre-releases
 * (1.2.0-rc.1) are not picked up automatically; use `--tag` to pin one.
 */
export const DEFAULT_SEMVER_RANGE = ">=0.0.0";

export interface FluxSyncSpec {
  name: string;
  namespace: string;
  /** oci://host[:port]/repository */
  url: string;
  ref: { semver: string } | { tag: string };
  interval: string;
  /** Plain HTTP: only for the local registry (or a registry the user marks insecure). */
  insecure: boolean;
  /** Kustomization timeout for apply + health checks. */
  timeout: string;
  targetNamespace?: string;
  /** Remote registries: cloud provider auth (aws, azure, gcp) or a pull secret. */
  provider?: "generic" | "aws" | "azure" | "gcp";
  secretRef?: string;
  /**
   * Cosign signature verification with a public key (issue 14): the OCIRepository gets
   * `spec.verify: { provider: cosign, secretRef }` and sync applies the Secret holding the key.
   */
  verify?: CosignVerifySpec;
  /**
   * SOPS decryption (issue 23): the Kustomization gets `spec.decryption: {provider: sops,
   * secretRef: {name}}`; the Secret with the age identities is applied apart (applyFluxSync), so
   * that this spec, which is printed, never holds a key.
   */
  decryption?: { secretName: string };
}

export interface CosignVerifySpec {
  /** Secret in the OCIRepository's namespace with the key under data `cosign.pub`. */
  secretName: string;
  /** The PEM public key (cosign.pub). */
  publicKeyPem: string;
}

/** Flux reads every data key ending in ".pub" of the verify Secret; ksail writes this one. */
export const COSIGN_PUBLIC_KEY_DATA_KEY = "cosign.pub";

export interface FluxSyncOverrides {
  /** oci://host/repository of a remote registry instead of the local one. */
  registry?: string;
  tag?: string;
  semver?: string;
  targetNamespace?: string;
  provider?: FluxSyncSpec["provider"];
  secretRef?: string;
  insecure?: boolean;
  timeout?: string;
  /** PEM of an ECDSA P-256 public key (cosign.pub): Flux then verifies cosign signatures. */
  verifyPublicKey?: string;
}

export function syncSpecFromConfig(
  config: KsailConfig,
  overrides: FluxSyncOverrides = {},
): FluxSyncSpec {
  const { flux } = config.spec.options;
  let url: string;
  let insecure: boolean;
  const remote = overrides.registry ?? config.spec.registry;
  if (remote !== undefined) {
    const repository = parseRepository(remote);
    url = `oci://${repository.registry}/${repository.repository}`;
    insecure = overrides.insecure ?? isLoopbackRegistry(repository.registry);
  } else if (config.spec.localRegistry === "Enabled") {
    url = `oci://${localRegistryAddresses(config).hostFromClusterNetwork}/${config.metadata.name}`;
    insecure = true; // the local registry serves plain HTTP
  } else {
    throw new KsailError("usage", "the local registry is disabled and no --registry was given", {
      hint: "Pass --registry oci://HOST/REPOSITORY for the OCIRepository to follow (or set spec.registry).",
    });
  }
  if (overrides.tag !== undefined && overrides.semver !== undefined) {
    throw new KsailError("usage", "--tag and --semver cannot be used together");
  }
  if (insecure && (overrides.provider !== undefined || overrides.secretRef !== undefined)) {
    throw new KsailError(
      "usage",
      "--provider and --secret-ref are for remote registries over HTTPS, not insecure ones",
    );
  }
  return {
    name: config.metadata.name,
    namespace: flux.namespace,
    url,
    ref:
      overrides.tag !== undefined
        ? { tag: overrides.tag }
        : { semver: overrides.semver ?? DEFAULT_SEMVER_RANGE },
    interval: flux.interval,
    insecure,
    timeout: overrides.timeout ?? "2m",
    ...(overrides.targetNamespace ? { targetNamespace: overrides.targetNamespace } : {}),
    ...(overrides.provider ? { provider: overrides.provider } : {}),
    ...(overrides.secretRef ? { secretRef: overrides.secretRef } : {}),
    ...(overrides.verifyPublicKey !== undefined
      ? { verify: cosignVerifySpec(config.metadata.name, overrides.verifyPublicKey) }
      : {}),
  };
}

/** The name of the Secret with the public key Flux verifies `name`'s artifacts with. */
export function cosignSecretName(name: string): string {
  return `${name}-cosign-pub`;
}

/** Checks the key is an ECDSA P-256 public key before Flux is pointed at it. */
export function cosignVerifySpec(name: string, publicKeyPem: string): CosignVerifySpec {
  loadPublicKey(publicKeyPem, { source: "the verify public key" });
  return { secretName: cosignSecretName(name), publicKeyPem };
}

const LABELS = { "app.kubernetes.io/managed-by": "ksail" };

export function ociRepository(spec: FluxSyncSpec): Record<string, unknown> {
  return {
    apiVersion: OCI_REPOSITORY_API,
    kind: "OCIRepository",
    metadata: { name: spec.name, namespace: spec.namespace, labels: LABELS },
    spec: {
      interval: spec.interval,
      url: spec.url,
      ref: spec.ref,
      ...(spec.insecure ? { insecure: true } : {}),
      ...(spec.provider ? { provider: spec.provider } : {}),
      ...(spec.secretRef ? { secretRef: { name: spec.secretRef } } : {}),
      ...(spec.verify
        ? { verify: { provider: "cosign", secretRef: { name: spec.verify.secretName } } }
        : {}),
    },
  };
}

/** The Secret with the public key of `spec.verify` (undefined without one). */
export function cosignPublicKeySecret(spec: FluxSyncSpec): Record<string, unknown> | undefined {
  if (spec.verify === undefined) return undefined;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: spec.verify.secretName, namespace: spec.namespace, labels: LABELS },
    type: "Opaque",
    data: {
      [COSIGN_PUBLIC_KEY_DATA_KEY]: Buffer.from(spec.verify.publicKeyPem, "utf8").toString(
        "base64",
      ),
    },
  };
}

export function kustomization(spec: FluxSyncSpec): Record<string, unknown> {
  return {
    apiVersion: KUSTOMIZATION_API,
    kind: "Kustomization",
    metadata: { name: spec.name, namespace: spec.namespace, labels: LABELS },
    spec: {
      interval: spec.interval,
      sourceRef: { kind: "OCIRepository", name: spec.name },
      path: "./",
      prune: true,
      wait: true,
      timeout: spec.timeout,
      ...(spec.targetNamespace ? { targetNamespace: spec.targetNamespace } : {}),
      ...(spec.decryption
        ? { decryption: { provider: "sops", secretRef: { name: spec.decryption.secretName } } }
        : {}),
    },
  };
}

export function fluxSyncObjects(spec: FluxSyncSpec): Record<string, unknown>[] {
  return [ociRepository(spec), kustomization(spec)];
}

/**
 * The objects as a multi-document YAML stream, ready for `kubectl apply -f -`; with a verify
 * key, its Secret comes first.
 */
export function fluxSyncYaml(spec: FluxSyncSpec): string {
  const secret = cosignPublicKeySecret(spec);
  return [...(secret ? [secret] : []), ...fluxSyncObjects(spec)]
    .map((object) => `---\n${stringify(object)}`)
    .join("");
}
