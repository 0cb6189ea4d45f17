/**
 * A version published: pushed, then — with a signing key — signed, in that order, composed once
 * for `workload push`, `workload reconcile --push` and `workload watch`. The caller reads and
 * decrypts the key before (a wrong password pushes nothing); an unchanged push is signed too when
 * it is not yet (signing is idempotent). The signing code loads only when there is a key.
 */
import type { Progress } from "../progress.js";
import type { SigningKey } from "../sign/keys.js";
import { pushWorkload, type PushDeps, type PushInput, type PushResult } from "./push.js";
import type { SignResult } from "./sign.js";

export interface PublishInput extends PushInput {
  /** Sign the pushed digest with this key (cosign's key-based format). */
  signingKey?: SigningKey;
}

export interface Published {
  pushed: PushResult;
  /** With a signing key: the signature of `pushed.digest`. */
  signature?: SignResult;
}

export async function publishVersion(
  deps: PushDeps,
  input: PublishInput,
  progress: Progress,
): Promise<Published> {
  const { signingKey, ...push } = input;
  const pushed = await pushWorkload(deps, push, progress);
  if (signingKey === undefined) return { pushed };
  const { signArtifact } = await import("./sign.js");
  const signature = await signArtifact(
    { client: deps.client },
    { repository: input.repository, digest: pushed.digest, key: signingKey },
    progress,
  );
  return { pushed, signature };
}
