/**
 * The ksail.yaml model. This one zod schema is the source of the TypeScript types,
 * the validation (see load.ts for line numbers) and schemas/ksail.schema.json.
 */
import * as z from "zod/v4";
import { API_VERSION, KIND } from "./defaults.js";
import { DURATION } from "../util/duration.js";
import { DISTRIBUTIONS, GITOPS_ENGINES, SIGNATURE_FORMATS, TOGGLES } from "./enums.js";

export { API_VERSION, KIND };

const duration = z
  .string()
  .regex(DURATION, { message: 'must be a duration such as "30s", "1m" or "1h30m"' });

const PORT = "must be a port number from 1 to 65535";
const port = z
  .number({ message: PORT })
  .int({ message: PORT })
  .min(1, { message: PORT })
  .max(65535, { message: PORT });

/** DNS-1123 label: used for the project name, which becomes the artifact repository name. */
const projectName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message:
      "must be lower-case letters, digits and '-', starting and ending with a letter or digit",
  });

export { DISTRIBUTIONS, GITOPS_ENGINES, TOGGLES };

/**
 * An image repository name as manifests write it (`web`, `team/api`): the path grammar of
 * github.com/distribution/reference, lower case, no registry host, tag or digest.
 */
export const IMAGE_NAME =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** One of the project's own container images, built by `ksail workload build`. */
const image = z
  .object({
    name: z
      .string()
      .max(200)
      .regex(IMAGE_NAME, {
        message:
          "must be an image name as manifests write it (e.g. web or team/api): lower-case letters, digits, '.', '_', '-' and '/', without registry, tag or digest",
      })
      .describe("image name the manifests use (image: web); pinned by digest in each version"),
    context: z
      .string()
      .min(1)
      .describe("build context directory, relative to ksail.yaml (.dockerignore applies)"),
    dockerfile: z
      .string()
      .min(1)
      .optional()
      .describe("Dockerfile, relative to the context; default Dockerfile"),
    target: z.string().min(1).optional().describe("build stage to stop at (docker build --target)"),
    buildArgs: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .optional()
      .describe("build arguments (docker build --build-arg NAME=VALUE)"),
  })
  .strict();

export const ksailConfigSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(KIND),
    metadata: z.object({ name: projectName }).strict(),
    spec: z
      .object({
        distribution: z.enum(DISTRIBUTIONS).default("Kind").describe("Kubernetes distribution"),
        distributionConfig: z
          .string()
          .min(1)
          .optional()
          .describe("cluster config file; default kind.yaml or k3d.yaml"),
        sourceDirectory: z
          .string()
          .min(1)
          .default("k8s")
          .describe("manifest directory pushed as the workload artifact"),
        gitOpsEngine: z.enum(GITOPS_ENGINES).default("None").describe("GitOps engine"),
        images: z
          .array(image)
          .default([])
          .superRefine((images, ctx) => {
            const seen = new Set<string>();
            images.forEach((entry, index) => {
              if (seen.has(entry.name))
                ctx.addIssue({
                  code: "custom",
                  path: [index, "name"],
                  message: `image ${entry.name} is listed twice; each name is built once`,
                });
              seen.add(entry.name);
            });
          })
          .describe(
            "the project's own container images: `workload build` builds and pushes them, and every pushed version pins their digests",
          ),
        registry: z
          .string()
          .regex(/^(oci:\/\/)?[A-Za-z0-9.-]+(:\d+)?\/[a-z0-9]+([._/-][a-z0-9]+)*$/, {
            message: "must be oci://HOST[:PORT]/REPOSITORY, e.g. oci://ghcr.io/my-org/my-app",
          })
          .optional()
          .describe(
            "remote artifact repository (oci://HOST/REPOSITORY) the workload commands and Flux use instead of the local registry",
          ),
        localRegistry: z
          .enum(TOGGLES)
          .optional()
          .describe("local OCI registry on 127.0.0.1; default Enabled when gitOpsEngine is Flux"),
        connection: z
          .object({
            kubeconfig: z
              .string()
              .min(1)
              .optional()
              .describe("kubeconfig file; default $KUBECONFIG, then ~/.kube/config"),
            context: z.string().min(1).optional(),
            timeout: duration.default("5m"),
          })
          .strict()
          .prefault({}),
        options: z
          .object({
            localRegistry: z
              .object({
                hostPort: port
                  .default(5001)
                  .describe("port on 127.0.0.1 the registry is published at"),
                name: projectName.default("ksail-registry"),
                image: z.string().min(1).default("registry:3"),
                clusterAddress: z
                  .string()
                  .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, { message: "must be HOST or HOST:PORT" })
                  .optional()
                  .describe(
                    "address Flux uses to reach the registry; default <name>:5000 on the cluster network",
                  ),
              })
              .strict()
              .prefault({}),
            mirrorRegistries: z
              .array(
                z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?(=https?:\/\/\S+)?$/, {
                  message:
                    'must be HOST or HOST=URL, e.g. "docker.io=https://registry-1.docker.io"',
                }),
              )
              .default([])
              .describe("pull-through mirror registries for the nodes, as HOST=UPSTREAM-URL"),
            flux: z
              .object({
                interval: duration.default("1m").describe("Flux reconcile interval"),
                namespace: z
                  .string()
                  .min(1)
                  .default("flux-system")
                  .describe(
                    "namespace of Flux and of the generated OCIRepository and Kustomization",
                  ),
                version: z
                  .string()
                  .regex(/^v?\d+\.\d+\.\d+$/, { message: "must be a Flux release such as v2.9.5" })
                  .optional()
                  .describe(
                    "Flux release to install; default: the release this ksail is pinned to",
                  ),
              })
              .strict()
              .prefault({}),
            signing: z
              .object({
                key: z
                  .string()
                  .min(1)
                  .optional()
                  .describe(
                    "private key that push, reconcile --push and watch sign each version with (cosign.key; relative to ksail.yaml); its password comes from COSIGN_PASSWORD",
                  ),
                publicKey: z
                  .string()
                  .min(1)
                  .optional()
                  .describe(
                    "public key Flux verifies the artifact's cosign signature with (cosign.pub; relative to ksail.yaml): flux sync sets spec.verify",
                  ),
                format: z
                  .enum(SIGNATURE_FORMATS)
                  .optional()
                  .describe(
                    "how signatures are stored: bundle (cosign v3's Sigstore bundle attached as an OCI referrer; the default, what Flux 2.9 and cosign v3 verify) or legacy (cosign v2's sha256-<hex>.sig tag, for an older Flux)",
                  ),
              })
              .strict()
              .prefault({}),
            secrets: z
              .object({
                allowPlaintext: z
                  .boolean()
                  .default(false)
                  .describe(
                    "let push, reconcile --push and watch send Secrets that are not SOPS-encrypted and files holding private keys (a warning each time) — for throwaway clusters only",
                  ),
              })
              .strict()
              .prefault({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type KsailConfigInput = z.input<typeof ksailConfigSchema>;
type Parsed = z.output<typeof ksailConfigSchema>;

/** The resolved configuration: every default applied, localRegistry decided. */
export type KsailConfig = Parsed & {
  spec: Parsed["spec"] & { localRegistry: (typeof TOGGLES)[number]; distributionConfig: string };
};

export function defaultDistributionConfig(distribution: (typeof DISTRIBUTIONS)[number]): string {
  return distribution === "Kind" ? "kind.yaml" : "k3d.yaml";
}

/**
 * The schema of one field (a setting's ksail.yaml path), so that a flag that sets it is checked
 * exactly as the file's value is.
 */
export function fieldSchema(path: readonly string[]): z.ZodType {
  let schema: z.ZodType = ksailConfigSchema;
  for (const key of path) {
    schema = unwrap(schema);
    schema = (schema as z.ZodObject).shape[key] as z.ZodType;
  }
  return schema;
}

/** The schema inside .default()/.prefault()/.optional(). */
function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while ("innerType" in inner.def) inner = inner.def.innerType as z.ZodType;
  return inner;
}

/** Defaults that depend on other fields (applied after parsing). */
export function resolveDerivedDefaults(parsed: Parsed): KsailConfig {
  return {
    ...parsed,
    spec: {
      ...parsed.spec,
      localRegistry:
        parsed.spec.localRegistry ?? (parsed.spec.gitOpsEngine === "Flux" ? "Enabled" : "Disabled"),
      distributionConfig:
        parsed.spec.distributionConfig ?? defaultDistributionConfig(parsed.spec.distribution),
    },
  };
}
