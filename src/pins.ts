/**
 * The versions of what ksail installs, pinned in one small module (no imports) so that
 * `ksail version -o json` can report them without loading the Kubernetes or Docker clients.
 */

/** The Flux release whose install manifests `flux install` and `up` apply. */
export const PINNED_FLUX_VERSION = "v2.9.5";

/** The image of the local registry container and of mirror registries. */
export const PINNED_REGISTRY_IMAGE = "registry:3";
