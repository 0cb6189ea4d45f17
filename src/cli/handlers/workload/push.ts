/** `ksail workload push`. */
import { KsailError } from "../../../errors.js";
import { pushInSession } from "../../../workload/push-session.js";
import type { RegistryClient } from "../../../oci/client.js";
import { parseRepository, type RepositoryRef } from "../../../oci/reference.js";
import type { BuiltImage } from "../../../images/build.js";
import { pinsOf } from "../../../images/pin.js";
import type { Output } from "../../../ui/output.js";
import { createOutput, type CliContext } from "../../context.js";
import type { PushFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { keyFile } from "../../../config/load.js";
import { buildProjectImages } from "./images.js";
import { secretsPolicy } from "../secrets-policy.js";
import { openTarget } from "./target.js";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export async function run({ ctx, flags, globals }: Invocation<PushFlags>): Promise<void> {
  if (flags.version !== undefined && flags.bump !== undefined) {
    throw new KsailError("usage", "--version and --bump cannot be used together");
  }
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, true);
  if (flags.created !== undefined && flags.reproducible) {
    throw new KsailError("usage", "--created and --reproducible cannot be used together");
  }
  const created = flags.created;
  if (created !== undefined && !RFC3339.test(created)) {
    throw new KsailError(
      "usage",
      `--created must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got "${created}"`,
    );
  }
  // The key is read and decrypted before anything is pushed: a wrong password pushes nothing.
  const signKeyPath = keyFile(target.loaded, flags.signKey, "key", ctx.cwd);
  const signer =
    signKeyPath === undefined
      ? undefined
      : await openSigner(ctx, signKeyPath, { client, repository: target.repository, out });
  // The project's images first: a version pins the digests it deploys.
  const images = await buildProjectImages(ctx, target, client, out);
  const result = await pushInSession(
    { client, env: ctx.env },
    {
      repository: target.repository,
      ...(images.length > 0 ? { images: pinsOf(images) } : {}),
      sourceDir: target.sourceDir,
      ...(flags.version === undefined ? {} : { version: flags.version }),
      ...(flags.bump === undefined ? {} : { bump: flags.bump }),
      ...(flags.source === undefined ? {} : { source: flags.source }),
      ...(flags.revision === undefined ? {} : { revision: flags.revision }),
      ...(created === undefined ? {} : { created }),
      ...(flags.reproducible ? { reproducible: true } : {}),
      ...(flags.ignore === undefined ? {} : { ignore: flags.ignore }),
      tagLatest: flags.latest !== false,
      secrets: secretsPolicy(flags.allowPlaintextSecrets, target.loaded.config, ctx.env),
    },
    out,
  );
  // An unchanged push is signed too when it is not yet (signing is idempotent).
  const signed = signer ? await signer.sign(result.digest) : undefined;
  // The images too, in the same format, when the version is signed.
  const imageSignatures = [];
  if (signer) for (const image of images) imageSignatures.push(await signer.signImage(image));
  out.result(
    {
      ...result,
      ...(signed ? { signature: signed.json } : {}),
      ...(imageSignatures.length > 0
        ? { imageSignatures: imageSignatures.map((s) => s.json) }
        : {}),
    },
    () =>
      [
        result.unchanged
          ? `${result.repository}:${result.version} unchanged`
          : `${result.repository}:${result.version}`,
        `digest: ${result.digest}`,
        ...Object.entries(result.images ?? {}).map(([name, image]) => `image ${name}: ${image}`),
        ...(signed ? [`signature: ${signed.signature.signatureTag}`] : []),
      ].join("\n"),
  );
}

/** The signing code (loaded only for a push that signs) with the key in `path`, read now. */
async function openSigner(
  ctx: CliContext,
  path: string,
  target: { client: RegistryClient; repository: RepositoryRef; out: Output },
) {
  const [{ loadKeyForSigning, signatureJson }, { signArtifact }] = await Promise.all([
    import("../signing.js"),
    import("../../../workload/sign.js"),
  ]);
  const key = await loadKeyForSigning(ctx, path);
  return {
    async sign(digest: string) {
      const { client, repository, out } = target;
      const signature = await signArtifact({ client }, { repository, digest, key }, out);
      return { signature, json: signatureJson(signature) };
    },
    async signImage(image: BuiltImage) {
      const { client, out } = target;
      const repository = parseRepository(image.repository);
      const signature = await signArtifact(
        { client },
        { repository, digest: image.digest, key },
        out,
      );
      return { signature, json: signatureJson(signature) };
    },
  };
}
