/**
 * Where the registry image (registry:3, CNCF distribution) keeps its data and reads its config
 * inside its container: what the container (container.ts), its read-only switch
 * (maintenance.ts) and garbage collection (garbage-collect.ts) all name.
 */

/** Where registry:3 keeps its data (the volume is mounted here). */
export const REGISTRY_DATA_DIR = "/var/lib/registry";
/** Where registry:3 reads its config. */
export const REGISTRY_CONFIG_PATH = "/etc/distribution/config.yml";
