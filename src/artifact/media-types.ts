/**
 * Media types and annotation keys of a Flux OCI artifact, as fluxcd/pkg `oci` defines them
 * (`oci/globals.go`, `oci/constants.go`).
 */
export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const FLUX_CONFIG_MEDIA_TYPE = "application/vnd.cncf.flux.config.v1+json";
export const FLUX_CONTENT_MEDIA_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip";

export const ANNOTATION_CREATED = "org.opencontainers.image.created";
export const ANNOTATION_SOURCE = "org.opencontainers.image.source";
export const ANNOTATION_REVISION = "org.opencontainers.image.revision";
