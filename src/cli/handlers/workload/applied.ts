/**
 * What `reconcile` and `rollback` print about the proof of what is applied (the inventory check,
 * src/workload/applied.ts) and about a pinned cluster.
 */
import { isKsailError } from "../../../errors.js";
import type { ReconcileTarget } from "../../../flux/reconcile.js";
import type { KubeClient } from "../../../k8s/client.js";
import type { RegistryClient } from "../../../oci/client.js";
import type { RepositoryRef } from "../../../oci/reference.js";
import type { Output } from "../../../ui/output.js";
import { proveApplied, type AppliedCheck } from "../../../workload/applied.js";

/** The check, or undefined with a warning when the registry could not be read for it. */
export async function proveAppliedOrWarn(
  deps: { kube: KubeClient; client: RegistryClient },
  input: { target: ReconcileTarget; repository: RepositoryRef; expectDigest?: string },
  out: Output,
): Promise<AppliedCheck | undefined> {
  try {
    return await proveApplied(deps, input, out);
  } catch (error) {
    if (
      isKsailError(error) &&
      ["unreachable", "auth", "registry"].includes(error.kind) &&
      !error.message.includes("Kustomization")
    ) {
      out.warn(`inventory not checked: the registry could not be read (${error.message})`);
      return undefined;
    }
    throw error;
  }
}

export function inventoryLine(check: AppliedCheck | undefined): string[] {
  if (check === undefined) return [];
  return [
    check.skipped
      ? `inventory not checked: ${check.skipped}`
      : `inventory ${check.expected} objects of ${check.version ?? check.digest}, none missing, none unexpected`,
    ...(check.prefixMatched ?? []).map(
      (what) => `inventory matched by name prefix only (hash not computable): ${what}`,
    ),
  ];
}
