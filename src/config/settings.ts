/**
 * Every user-tunable value of ksail, declared once: its flag, environment variable, ksail.yaml
 * field and default. load.ts resolves them (defaults < ksail.yaml < environment < flags) and the
 * handlers pass the resolved values down; no service reads process.env. A setting with a `path`
 * lives in ksail.yaml and is checked by the schema (schema.ts); one without is a run-time
 * setting that load.ts resolves on its own (resolveRuntime).
 *
 * This file is loaded at start-up with the command table (flags take their help from it), so it
 * imports nothing but the enums and the duration parser.
 */
import { parseDuration } from "../util/duration.js";
import { DISTRIBUTIONS, GITOPS_ENGINES, SIGNATURE_FORMATS, TOGGLES } from "./enums.js";

export interface Setting {
  /** The key flag values are passed under: commander's camelCase key of `flag`. */
  key: string;
  /** The flag, e.g. "--registry-port"; `value` names its argument in help. */
  flag?: string;
  value?: string;
  env?: string;
  /** Where it lives in ksail.yaml, if it does. */
  path?: readonly string[];
  /** The default as help and the README show it. */
  default?: string;
  /** Parsed as a number (a port). */
  numeric?: boolean;
  /** A closed set of values, matched without regard to case ("kind" → "Kind"). */
  choices?: readonly string[];
}

/** A setting that lives in ksail.yaml and has a flag. */
export type ConfigSetting = Setting & { flag: string; path: readonly string[] };

/** ksail.yaml fields that KSAIL_* variables and flags can set too (`ksail init`, cluster commands). */
export const CONFIG_SETTINGS = {
  name: {
    key: "name",
    flag: "--name",
    value: "name",
    env: "KSAIL_NAME",
    path: ["metadata", "name"],
    default: "the directory name",
  },
  distribution: {
    key: "distribution",
    flag: "--distribution",
    value: "distribution",
    env: "KSAIL_DISTRIBUTION",
    path: ["spec", "distribution"],
    default: "Kind",
    choices: DISTRIBUTIONS,
  },
  distributionConfig: {
    key: "distributionConfig",
    flag: "--distribution-config",
    value: "path",
    env: "KSAIL_DISTRIBUTION_CONFIG",
    path: ["spec", "distributionConfig"],
    default: "kind.yaml or k3d.yaml",
  },
  sourceDirectory: {
    key: "sourceDirectory",
    flag: "--source-directory",
    value: "dir",
    env: "KSAIL_SOURCE_DIRECTORY",
    path: ["spec", "sourceDirectory"],
    default: "k8s",
  },
  gitopsEngine: {
    key: "gitopsEngine",
    flag: "--gitops-engine",
    value: "engine",
    env: "KSAIL_GITOPS_ENGINE",
    path: ["spec", "gitOpsEngine"],
    default: "None (ksail init: Flux)",
    choices: GITOPS_ENGINES,
  },
  localRegistry: {
    key: "localRegistry",
    flag: "--local-registry",
    value: "state",
    env: "KSAIL_LOCAL_REGISTRY",
    path: ["spec", "localRegistry"],
    default: "Enabled with Flux",
    choices: TOGGLES,
  },
  registry: {
    key: "registry",
    flag: "--registry",
    value: "oci-url",
    env: "KSAIL_REGISTRY",
    path: ["spec", "registry"],
    default: "the local registry",
  },
  registryPort: {
    key: "registryPort",
    flag: "--registry-port",
    value: "port",
    env: "KSAIL_REGISTRY_PORT",
    path: ["spec", "options", "localRegistry", "hostPort"],
    default: "5001",
    numeric: true,
  },
  fluxInterval: {
    key: "fluxInterval",
    flag: "--flux-interval",
    value: "duration",
    env: "KSAIL_FLUX_INTERVAL",
    path: ["spec", "options", "flux", "interval"],
    default: "1m",
  },
  fluxNamespace: {
    key: "namespace",
    flag: "--namespace",
    value: "namespace",
    env: "KSAIL_FLUX_NAMESPACE",
    path: ["spec", "options", "flux", "namespace"],
    default: "flux-system",
  },
  kubeconfig: {
    key: "kubeconfig",
    flag: "--kubeconfig",
    value: "path",
    env: "KSAIL_KUBECONFIG",
    path: ["spec", "connection", "kubeconfig"],
    default: "$KUBECONFIG, then ~/.kube/config",
  },
  context: {
    key: "context",
    flag: "--context",
    value: "name",
    env: "KSAIL_CONTEXT",
    path: ["spec", "connection", "context"],
    default: "the kubeconfig's current context",
  },
  // How long `up`/`cluster create` and `flux install` wait for Flux. The workload commands'
  // --timeout (reconcile, rollback, watch: 2m) and `flux sync`'s (the Kustomization's own
  // spec.timeout) are per-command flags of their own.
  timeout: {
    key: "timeout",
    flag: "--timeout",
    value: "duration",
    env: "KSAIL_TIMEOUT",
    path: ["spec", "connection", "timeout"],
    default: "5m",
  },
  // The registry commands' --port, --name and --image (schema-checked like the file's values).
  registryName: {
    key: "registryName",
    flag: "--name",
    value: "name",
    path: ["spec", "options", "localRegistry", "name"],
    default: "ksail-registry",
  },
  registryImage: {
    key: "registryImage",
    flag: "--image",
    value: "image",
    path: ["spec", "options", "localRegistry", "image"],
    default: "registry:3",
  },
  fluxVersion: {
    key: "fluxVersion",
    flag: "--flux-version",
    value: "version",
    path: ["spec", "options", "flux", "version"],
    default: "the pinned Flux release",
  },
  signingKey: {
    key: "signKey",
    flag: "--sign-key",
    value: "path",
    path: ["spec", "options", "signing", "key"],
    default: "none (no signature)",
  },
  signatureFormat: {
    key: "signatureFormat",
    flag: "--signature-format",
    value: "format",
    path: ["spec", "options", "signing", "format"],
    default: "bundle",
    choices: SIGNATURE_FORMATS,
  },
  signingPublicKey: {
    key: "verifyKey",
    flag: "--verify-key",
    value: "path",
    path: ["spec", "options", "signing", "publicKey"],
    default: "none (no verification)",
  },
  allowPlaintextSecrets: {
    key: "allowPlaintextSecrets",
    flag: "--allow-plaintext-secrets",
    path: ["spec", "options", "secrets", "allowPlaintext"],
    default: "false (plaintext Secrets and private keys are refused)",
  },
} as const satisfies Record<string, ConfigSetting>;

/** Run-time settings: not in ksail.yaml, resolved by load.ts (resolveRuntime). */
export const RUNTIME_SETTINGS = {
  config: {
    key: "config",
    flag: "--config",
    value: "path",
    env: "KSAIL_CONFIG",
    default: "ksail.yaml here or in the nearest parent directory",
  },
  requestTimeout: {
    key: "requestTimeout",
    flag: "--request-timeout",
    value: "duration",
    env: "KSAIL_REQUEST_TIMEOUT",
    default: "30s",
  },
  dockerConfig: { key: "dockerConfig", env: "DOCKER_CONFIG", default: "~/.docker" },
  // Where the container engine is, as the docker CLI reads it (engine/docker.ts
  // resolveEngineEndpoint is given the environment and reads these three).
  dockerHost: {
    key: "dockerHost",
    env: "DOCKER_HOST",
    default: "/var/run/docker.sock, else ~/.docker/run/docker.sock, else Podman's socket",
  },
  dockerTlsVerify: {
    key: "dockerTlsVerify",
    env: "DOCKER_TLS_VERIFY",
    default: "TLS for tcp:// on port 2376 or when set to 1",
  },
  dockerCertPath: {
    key: "dockerCertPath",
    env: "DOCKER_CERT_PATH",
    default: "none (ca.pem, cert.pem and key.pem in it when set)",
  },
  kubeconfigFiles: { key: "kubeconfigFiles", env: "KUBECONFIG", default: "~/.kube/config" },
  // Read as cosign reads it (set but empty is a key without a password); never printed.
  cosignPassword: { key: "cosignPassword", env: "COSIGN_PASSWORD", default: "asked on a terminal" },
  // kind's own variable: the Docker network kind puts its nodes on, so ksail wires that one.
  kindNetwork: { key: "kindNetwork", env: "KIND_EXPERIMENTAL_DOCKER_NETWORK", default: "kind" },
  // The editor of `ksail workload secrets edit`, as sops picks it.
  editor: { key: "editor", env: "SOPS_EDITOR", default: "$EDITOR, else vi" },
  cacheHome: { key: "cacheHome", env: "XDG_CACHE_HOME", default: "~/.cache" },
  // The age identities of SOPS files, where the sops CLI finds them (load.ts resolveAgeKeys).
  sopsAgeKey: { key: "sopsAgeKey", env: "SOPS_AGE_KEY", default: "unset" },
  sopsAgeKeyFile: {
    key: "sopsAgeKeyFile",
    env: "SOPS_AGE_KEY_FILE",
    default: "$XDG_CONFIG_HOME/sops/age/keys.txt (~/.config/sops/age/keys.txt)",
  },
} as const satisfies Record<string, Setting>;

/**
 * The ksail.yaml settings that KSAIL_* and flags merge into the file before the schema checks it
 * (parse.ts). The key files, --signature-format, --flux-version and --allow-plaintext-secrets
 * are resolved by the commands that take them (load.ts keyFile and signatureFormat; a relative
 * key path in the file means next to ksail.yaml; cli/handlers/secrets-policy.ts).
 */
export const SETTINGS: readonly ConfigSetting[] = Object.values(CONFIG_SETTINGS).filter(
  (s) =>
    !["fluxVersion", "signKey", "verifyKey", "signatureFormat", "allowPlaintextSecrets"].includes(
      s.key,
    ),
);

/** Registry requests may go this long without data before they are retried (30 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = parseDuration(RUNTIME_SETTINGS.requestTimeout.default)!;
