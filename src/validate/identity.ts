/**
 * kustomize's resource identity, as far as duplicates need it. kustomize keys an object by
 * group/version/kind, namespace and name *after* the transformers of the kustomizations below it
 * ran: a kustomization's `namespace` moves every namespaced object it includes, `namePrefix` and
 * `nameSuffix` rename them. Two objects collide when a kustomization accumulates both with equal
 * keys; an object without a namespace counts as `default` (cluster-scoped kinds have none).
 *
 * ksail compares group/kind, not the version: the same object in two API versions is one object
 * in the cluster (a deliberate difference, see the README's validation section).
 */

/**
 * The kinds kustomize (v5, as Flux's kustomize-controller embeds it) treats as cluster-scoped:
 * those its built-in Kubernetes OpenAPI schema (kyaml/openapi) marks cluster-scoped. It decides
 * with them both an object's identity (resid's IsClusterScoped: no namespace in the key) and what
 * the namespace transformer leaves alone, so ksail's duplicate check (here) and its renderer
 * (flux/render.ts) use this one set. Kinds it does not know count as namespaced.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  "APIService",
  "CSIDriver",
  "CSINode",
  "CertificateSigningRequest",
  "ClusterRole",
  "ClusterRoleBinding",
  "ComponentStatus",
  "CustomResourceDefinition",
  "FlowSchema",
  "IngressClass",
  "MutatingWebhookConfiguration",
  "Namespace",
  "Node",
  "PersistentVolume",
  "PodSecurityPolicy",
  "PriorityClass",
  "PriorityLevelConfiguration",
  "RuntimeClass",
  "SelfSubjectAccessReview",
  "SelfSubjectRulesReview",
  "StorageClass",
  "SubjectAccessReview",
  "TokenReview",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "ValidatingWebhookConfiguration",
  "VolumeAttachment",
]);

export interface ObjectId {
  group: string;
  kind: string;
  /** As written or as set by a kustomization; "" when none. */
  namespace: string;
  name: string;
}

export function isClusterScoped(id: ObjectId): boolean {
  return CLUSTER_SCOPED_KINDS.has(id.kind);
}

/** kustomize's prefix/suffix transformer leaves these names alone. */
function keepsName(id: ObjectId): boolean {
  return (
    id.kind === "CustomResourceDefinition" ||
    id.kind === "Namespace" ||
    (id.kind === "APIService" && id.group === "apiregistration.k8s.io")
  );
}

/** The key kustomize compares: the namespace as it takes effect. */
export function identityKey(id: ObjectId): string {
  const namespace = isClusterScoped(id) ? "" : id.namespace === "" ? "default" : id.namespace;
  return `${id.group}\u0000${id.kind}\u0000${namespace}\u0000${id.name}`;
}

/** "Kind namespace/name" for messages. */
export function displayId(id: ObjectId): string {
  return `${id.kind} ${id.namespace === "" ? "" : `${id.namespace}/`}${id.name}`;
}

export interface Transforms {
  namespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
}

/** The object as a kustomization with these fields passes it on. */
export function transform(id: ObjectId, t: Transforms): ObjectId {
  let { namespace, name } = id;
  if (t.namespace !== undefined && t.namespace !== "" && !isClusterScoped(id))
    namespace = t.namespace;
  if (!keepsName(id)) name = `${t.namePrefix ?? ""}${name}${t.nameSuffix ?? ""}`;
  return { ...id, namespace, name };
}

/** Parses the `group \0 kind \0 namespace \0 name` key of a FastObject. */
export function idFromKey(key: string): ObjectId {
  const [group = "", kind = "", namespace = "", name = ""] = key.split("\u0000");
  return { group, kind, namespace, name };
}
