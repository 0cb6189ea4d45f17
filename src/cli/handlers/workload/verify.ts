/**
 * `ksail workload verify [VERSION] --key PATH`: exit 0 when a signature of the version verifies
 * with the public key — and so does one of each image the version pins (spec.images) — exit 1
 * with the reason when one is unsigned, signed with another key or its signature does not match.
 */
import { KsailError } from "../../../errors.js";
import { readPublicKey } from "../../../workload/sign.js";
import { verifyArtifact } from "../../../workload/verify.js";
import { imagesOfVersion, verifyImages } from "../../../workload/image-signatures.js";
import { workloadImages } from "../../../workload/images.js";
import { defaultReference, LATEST_TAG, semverTags } from "../../../workload/versions.js";
import { createOutput } from "../../context.js";
import type { VerifyFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { keyFile } from "../../../config/load.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals, args }: Invocation<VerifyFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, false);
  const path = keyFile(target.loaded, flags.key, "publicKey", ctx.cwd);
  if (path === undefined) {
    throw new KsailError("usage", "no public key to verify with", {
      hint: "Pass --key cosign.pub, or set spec.options.signing.publicKey in ksail.yaml.",
    });
  }
  const { key } = await readPublicKey(path);
  const { repository } = target;
  const reference = args[0] ?? (await defaultReference(client, repository));
  const result = await verifyArtifact({ client }, { repository, reference, publicKey: key });
  // `latest` names a version: say which one.
  let version = reference;
  if (reference === LATEST_TAG) {
    const highest = semverTags(await client.listTags(repository)).at(-1);
    if (highest && (await client.resolve(repository, highest))?.digest === result.digest) {
      version = `${highest} (latest)`;
    }
  }
  // The images the version pins, each in its own repository on the artifact's registry.
  const pinned = await imagesOfVersion(
    client,
    repository,
    result.digest,
    workloadImages(target).destination,
  );
  const images = await verifyImages({ client }, { images: pinned, publicKey: key });
  const report = {
    ...result,
    version,
    key: path,
    ...(images.length > 0 ? { images } : {}),
  };
  for (const failed of [result, ...images]) {
    if (failed.ok) continue;
    ctx.exitCode = 1;
    out.error(`✗ ${failed.reason}`);
  }
  const where = (r: { format: string; signature: string }) =>
    r.format === "bundle" ? `cosign bundle ${r.signature}` : `legacy signature ${r.signature}`;
  out.result(report, () =>
    [
      ...(result.ok
        ? [`verified ${version} (${result.digest}) with ${path}: ${where(result)}`]
        : []),
      ...images.flatMap((i) =>
        i.ok ? [`verified image ${i.name} (${i.image}): ${where(i)}`] : [],
      ),
    ].join("\n"),
  );
}
