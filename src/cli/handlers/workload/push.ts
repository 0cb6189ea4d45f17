/** `ksail workload push`. */
import { relative } from "node:path";
import { assertCreatedTime } from "../../../artifact/created-time.js";
import { KsailError } from "../../../errors.js";
import { publishVersion } from "../../../workload/publish.js";
import { openPushSession } from "../../../workload/push-session.js";
import { createOutput } from "../../context.js";
import type { PushFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { keyFile, resolveRuntime, signatureFormat } from "../../../config/load.js";
import { secretsPolicy } from "../secrets-policy.js";
import type { RegistryClient } from "../../../oci/client.js";
import type { RepositoryRef } from "../../../oci/reference.js";
import type { Output } from "../../../ui/output.js";
import { pinsOf } from "../../../images/pin.js";
import { buildProjectImages } from "./images.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals }: Invocation<PushFlags>): Promise<void> {
  if (flags.version !== undefined && flags.bump !== undefined) {
    throw new KsailError("usage", "--version and --bump cannot be used together");
  }
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, true);
  if (flags.created !== undefined && flags.reproducible) {
    throw new KsailError("usage", "--created and --reproducible cannot be used together");
  }
  const created = flags.created === undefined ? undefined : assertCreatedTime(flags.created);
  // The key is read and decrypted before anything is pushed: a wrong password pushes nothing.
  const signKeyPath = keyFile(target.loaded, flags.signKey, "key", ctx.cwd);
  // The signing code loads only for a push that signs.
  const signing = signKeyPath === undefined ? undefined : await import("../signing.js");
  const signingKey =
    signing && signKeyPath !== undefined
      ? await signing.loadKeyForSigning(ctx, signKeyPath)
      : undefined;
  // The project's images first (spec.images): a version pins the digests it deploys.
  const images = await buildProjectImages(ctx, target, client, out);
  const {
    pushed: result,
    signature,
    imageSignatures,
  } = await publishVersion(
    { client, ...(await openPushSession(resolveRuntime(ctx.env).cacheDir, out)) },
    {
      repository: target.repository,
      ...(images.length > 0 ? { images: pinsOf(images) } : {}),
      sourceDir: target.sourceDir,
      // Positions relative to where ksail runs: `k8s/cm.yaml:6:12`, clickable in a terminal.
      displayDir: relative(ctx.cwd, target.sourceDir) || ".",
      ...(flags.version === undefined ? {} : { version: flags.version }),
      ...(flags.bump === undefined ? {} : { bump: flags.bump }),
      ...(flags.source === undefined ? {} : { source: flags.source }),
      ...(flags.revision === undefined ? {} : { revision: flags.revision }),
      ...(created === undefined ? {} : { created }),
      ...(flags.reproducible ? { reproducible: true } : {}),
      ...(flags.ignore === undefined ? {} : { ignore: flags.ignore }),
      tagLatest: flags.latest !== false,
      secrets: secretsPolicy(flags.allowPlaintextSecrets, target.loaded.config, ctx.env),
      ...(signingKey
        ? { signingKey, signatureFormat: signatureFormat(target.loaded, flags.signatureFormat) }
        : {}),
    },
    out,
  );
  await warnIfPinned(client, target.repository, result.version, out);
  out.result(
    signature && signing
      ? {
          ...result,
          signature: signing.signatureJson(signature),
          ...signing.imageSignaturesJson(imageSignatures),
        }
      : result,
    () =>
      [
        result.unchanged
          ? `${result.repository}:${result.version} unchanged`
          : `${result.repository}:${result.version}`,
        `digest: ${result.digest}`,
        ...(signature
          ? [
              `signature: ${signature.signature}${signature.format === "bundle" ? " (cosign bundle)" : ""}`,
            ]
          : []),
        ...Object.entries(result.images ?? {}).map(([name, image]) => `image ${name}: ${image}`),
        ...(signing ? signing.imageSignatureLines(imageSignatures, "image signature ") : []),
      ].join("\n"),
  );
}

/** After `workload rollback`, a push reaches the registry but not the cluster: say so. */
async function warnIfPinned(
  client: RegistryClient,
  repository: RepositoryRef,
  version: string,
  out: Output,
): Promise<void> {
  const { pinnedVersion, pinnedWarning } = await import("../../../workload/pin-tag.js");
  // One HEAD request; a registry that cannot answer it has already been reported by the push.
  const pinned = await pinnedVersion(client, repository).catch(() => undefined);
  if (pinned) out.warn(pinnedWarning(pinned.versions.at(-1) ?? pinned.digest, version));
}
