/** The closed sets of values in ksail.yaml, without zod, so the CLI can offer them cheaply. */
export const DISTRIBUTIONS = ["Kind", "K3d"] as const;
export const GITOPS_ENGINES = ["None", "Flux"] as const;
export const TOGGLES = ["Enabled", "Disabled"] as const;
/** How signatures are stored: cosign v3's Sigstore bundle referrer, or cosign v2's .sig tag. */
export const SIGNATURE_FORMATS = ["bundle", "legacy"] as const;
