/** The ksail.yaml values that KSAIL_* variables and flags can set too. */
import { DISTRIBUTIONS, GITOPS_ENGINES, TOGGLES } from "./enums.js";

/** A config value that can also come from the environment or a flag. */
export interface Setting {
  /** commander's camelCase option key, e.g. "registryPort" for --registry-port. */
  key: string;
  flag: string;
  env: string;
  path: readonly string[];
  numeric?: boolean;
  /** A closed set of values, matched without regard to case ("kind" → "Kind"). */
  choices?: readonly string[];
}

export const SETTINGS: readonly Setting[] = [
  { key: "name", flag: "--name", env: "KSAIL_NAME", path: ["metadata", "name"] },
  {
    key: "distribution",
    flag: "--distribution",
    env: "KSAIL_DISTRIBUTION",
    path: ["spec", "distribution"],
    choices: DISTRIBUTIONS,
  },
  {
    key: "distributionConfig",
    flag: "--distribution-config",
    env: "KSAIL_DISTRIBUTION_CONFIG",
    path: ["spec", "distributionConfig"],
  },
  {
    key: "sourceDirectory",
    flag: "--source-directory",
    env: "KSAIL_SOURCE_DIRECTORY",
    path: ["spec", "sourceDirectory"],
  },
  {
    key: "gitopsEngine",
    flag: "--gitops-engine",
    env: "KSAIL_GITOPS_ENGINE",
    path: ["spec", "gitOpsEngine"],
    choices: GITOPS_ENGINES,
  },
  {
    key: "localRegistry",
    flag: "--local-registry",
    env: "KSAIL_LOCAL_REGISTRY",
    path: ["spec", "localRegistry"],
    choices: TOGGLES,
  },
  {
    key: "registryPort",
    flag: "--registry-port",
    env: "KSAIL_REGISTRY_PORT",
    path: ["spec", "options", "localRegistry", "hostPort"],
    numeric: true,
  },
  {
    key: "fluxInterval",
    flag: "--flux-interval",
    env: "KSAIL_FLUX_INTERVAL",
    path: ["spec", "options", "flux", "interval"],
  },
  {
    key: "kubeconfig",
    flag: "--kubeconfig",
    env: "KSAIL_KUBECONFIG",
    path: ["spec", "connection", "kubeconfig"],
  },
  {
    key: "context",
    flag: "--context",
    env: "KSAIL_CONTEXT",
    path: ["spec", "connection", "context"],
  },
  {
    key: "timeout",
    flag: "--timeout",
    env: "KSAIL_TIMEOUT",
    path: ["spec", "connection", "timeout"],
  },
];
