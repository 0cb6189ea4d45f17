/** `ksail workload reconcile [--push]`: Flux fetches and applies now; prints both revisions. */
import { relative } from "node:path";
import { readPin } from "../../../flux/pin.js";
import { checkReconcileTarget, reconcileWorkload } from "../../../flux/reconcile.js";
import { pinnedWarning } from "../../../workload/pin-tag.js";
import { formatElapsed } from "../../../ui/output.js";
import { KsailError } from "../../../errors.js";
import type { PushResult } from "../../../workload/push.js";
import type { SignResult } from "../../../workload/sign.js";
import type { ImageSignResult } from "../../../workload/image-signatures.js";
import { createOutput } from "../../context.js";
import type { ReconcileFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { connectKube } from "../kube.js";
import { parseTimeout } from "../project.js";
import { keyFile, resolveRuntime, signatureFormat } from "../../../config/load.js";
import { secretsPolicy } from "../secrets-policy.js";
import {
  imageSignatureLines,
  imageSignaturesJson,
  loadKeyForSigning,
  signatureJson,
} from "../signing.js";
import { inventoryLine, proveAppliedOrWarn } from "./applied.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals }: Invocation<ReconcileFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const timeoutMs = parseTimeout(flags.timeout);
  const started = performance.now();
  // --timeout bounds the whole command, the push included.
  const deadline = Date.now() + timeoutMs;
  let pushed: PushResult | undefined;
  let signature: SignResult | undefined;
  let imageSignatures: ImageSignResult[] | undefined;
  if (flags.signKey !== undefined && !flags.push) {
    throw new KsailError("usage", "--sign-key signs what --push pushes; add --push", {
      hint: "To sign a version pushed earlier, push it again with --sign-key (an unchanged push signs it).",
    });
  }
  const { loaded, kube } = await connectKube(ctx, globals, flags, out);
  const reconcileTarget = {
    name: loaded.config.metadata.name,
    namespace: loaded.config.spec.options.flux.namespace,
  };
  const { target, client } = await openTarget(ctx, globals, flags, out, flags.push === true);
  if (flags.push) {
    // The cluster first: a version pushed for a cluster that is not there helps nobody.
    kube.setDeadline(deadline);
    await checkReconcileTarget({ kube }, reconcileTarget, out);
    // Read and decrypt the key before pushing: a wrong password pushes nothing.
    const signKeyPath = keyFile(target.loaded, flags.signKey, "key", ctx.cwd);
    const signingKey =
      signKeyPath === undefined ? undefined : await loadKeyForSigning(ctx, signKeyPath);
    // Loaded only with --push: validation and the layer builder are not needed otherwise. The
    // version is signed before Flux is asked to fetch it, so an OCIRepository with spec.verify
    // accepts it.
    const [{ publishVersion }, { openPushSession }] = await Promise.all([
      import("../../../workload/publish.js"),
      import("../../../workload/push-session.js"),
    ]);
    // The project's images first (spec.images): the version pins their digests.
    const [{ buildProjectImages }, { pinsOf }] = await Promise.all([
      import("./images.js"),
      import("../../../images/pin.js"),
    ]);
    const images = await buildProjectImages(ctx, target, client, out);
    ({ pushed, signature, imageSignatures } = await publishVersion(
      { client, ...(await openPushSession(resolveRuntime(ctx.env).cacheDir, out)) },
      {
        repository: target.repository,
        ...(images.length > 0 ? { images: pinsOf(images) } : {}),
        sourceDir: target.sourceDir,
        displayDir: relative(ctx.cwd, target.sourceDir) || ".",
        secrets: secretsPolicy(flags.allowPlaintextSecrets, target.loaded.config, ctx.env),
        ...(signingKey
          ? { signingKey, signatureFormat: signatureFormat(target.loaded, flags.signatureFormat) }
          : {}),
      },
      out,
    ));
  }
  const pin = await readPin(kube, reconcileTarget);
  if (pin) out.warn(pinnedWarning(pin.version ?? pin.digest, pushed?.version));
  const result = await reconcileWorkload(
    { kube },
    {
      ...reconcileTarget,
      timeoutMs,
      deadline,
    },
    out,
  );
  // Proof, not trust: the Kustomization's inventory holds the applied version's objects.
  const applied = await proveAppliedOrWarn(
    { kube, client },
    {
      target: reconcileTarget,
      repository: target.repository,
      ...(pin ? { expectDigest: pin.digest } : {}),
    },
    out,
  );
  const ms = performance.now() - started;
  out.result(
    {
      ...result,
      ...(applied ? { applied } : {}),
      ...(pin ? { pinned: pin } : {}),
      ms,
      ...(pushed ? { pushed } : {}),
      ...(signature ? { signature: signatureJson(signature) } : {}),
      ...imageSignaturesJson(imageSignatures),
    },
    () =>
      [
        ...(pushed
          ? [
              `pushed   ${pushed.repository}:${pushed.version}${pushed.unchanged ? " (unchanged)" : ""}`,
              ...Object.entries(pushed.images ?? {}).map(
                ([name, image]) => `image    ${name} ${image}`,
              ),
            ]
          : []),
        ...(signature
          ? [
              `signed   ${signature.signature}${signature.format === "bundle" ? " (cosign bundle)" : ""}`,
            ]
          : []),
        ...imageSignatureLines(imageSignatures, "signed   image "),
        ...result.steps.map(
          (s) =>
            `${s.kind === "OCIRepository" ? "fetched " : "applied "} ${s.revision ?? "-"}  (${s.kind} ${s.namespace}/${s.name})`,
        ),
        ...inventoryLine(applied),
        `reconciled in ${formatElapsed(ms)}`,
      ].join("\n"),
  );
}
