/**
 * A version published: pushed, then — with a signing key — signed, in that order, composed once
 * for `workload push`, `workload reconcile --push` and `workload watch`. The images the version
 * pins (spec.images) are signed with the same key and format, each in its own repository. The
 * caller reads and decrypts the key before (a wrong password pushes nothing); an unchanged push
 * is signed too when it is not yet (signing is idempotent). The signing code loads only when
 * there is a key.
 */
import type { Progress } from "../progress.js";
import type { SigningKey } from "../sign/keys.js";
import { pushWorkload, type PushDeps, type PushInput, type PushResult } from "./push.js";
import type { SignResult } from "./sign.js";
import type { ImageSignResult } from "./image-signatures.js";
import type { SignatureFormat } from "./verify.js";

export interface PublishInput extends PushInput {
  /** Sign the pushed digest with this key (cosign's key-based format). */
  signingKey?: SigningKey;
  /** The signature format (default: the signer's, "bundle"). */
  signatureFormat?: SignatureFormat | undefined;
}

export interface Published {
  pushed: PushResult;
  /** With a signing key: the signature of `pushed.digest`. */
  signature?: SignResult;
  /** With a signing key: the signatures of the images the version pins. */
  imageSignatures?: ImageSignResult[];
}

export async function publishVersion(
  deps: PushDeps,
  input: PublishInput,
  progress: Progress,
): Promise<Published> {
  const { signingKey, signatureFormat, ...push } = input;
  const pushed = await pushWorkload(deps, push, progress);
  if (signingKey === undefined) return { pushed };
  const [{ signArtifact }, { signImages }] = await Promise.all([
    import("./sign.js"),
    import("./image-signatures.js"),
  ]);
  const signature = await signArtifact(
    { client: deps.client },
    {
      repository: input.repository,
      digest: pushed.digest,
      key: signingKey,
      ...(signatureFormat ? { format: signatureFormat } : {}),
    },
    progress,
  );
  const imageSignatures = await signImages(
    { client: deps.client },
    { images: input.images ?? [], key: signingKey, format: signatureFormat },
    progress,
  );
  return { pushed, signature, ...(imageSignatures.length > 0 ? { imageSignatures } : {}) };
}
