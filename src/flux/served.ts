/**
 * Whether the cluster serves Flux's APIs at all. Without the CRDs the API server answers only
 * "could not find the requested resource"; this says what is missing and what to do.
 */
import { KsailError } from "../errors.js";
import type { KubeClient } from "../k8s/client.js";
import { KUSTOMIZATION_API, OCI_REPOSITORY_API } from "./resources.js";

const FLUX_KINDS = [
  { apiVersion: OCI_REPOSITORY_API, kind: "OCIRepository" },
  { apiVersion: KUSTOMIZATION_API, kind: "Kustomization" },
] as const;

/** Throws "not found" (exit 6) naming the missing kinds when Flux's CRDs are not installed. */
export async function assertFluxServed(kube: KubeClient): Promise<void> {
  const served = await Promise.all(
    FLUX_KINDS.map(({ apiVersion, kind }) => kube.isNamespaced(apiVersion, kind)),
  );
  const missing = FLUX_KINDS.filter((_, i) => served[i] === undefined);
  if (missing.length === 0) return;
  throw new KsailError(
    "not-found",
    `Flux's CRDs are missing: the cluster (context ${kube.context}) does not serve ${missing
      .map((k) => `${k.kind} (${k.apiVersion})`)
      .join(" or ")}`,
    {
      hint: "Install Flux with `ksail flux install` (`ksail up` does it when gitOpsEngine is Flux).",
    },
  );
}
