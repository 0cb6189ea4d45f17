/** `ksail workload versions [--key PATH]`. */
import { resolve } from "node:path";
import { formatAge, formatBytes, formatTable } from "../../../ui/output.js";
import { readPublicKey } from "../../../workload/sign.js";
import { signatureFormats, verifyDigests } from "../../../workload/verify.js";
import { listVersions } from "../../../workload/versions.js";
import { createOutput } from "../../context.js";
import type { VersionsFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { openTarget } from "./target.js";

/** A version's signature as `-o json` reports it. */
type SignatureState = "none" | "unverified" | "valid" | "invalid";

/** The SIGNED column: yes (a signature, not checked), verified, INVALID or no. */
const SIGNED_COLUMN: Record<SignatureState, string> = {
  none: "no",
  unverified: "yes",
  valid: "verified",
  invalid: "INVALID",
};

export async function run({ ctx, flags, globals }: Invocation<VersionsFlags>): Promise<void> {
  const wide = flags.output === "wide";
  const out = createOutput(ctx, globals, wide ? "human" : flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, false);
  const { repository } = target;
  // Read the key first: a bad key file fails before any registry request.
  const publicKey =
    flags.key === undefined ? undefined : await readPublicKey(resolve(ctx.cwd, flags.key));
  const [versions, tags] = await Promise.all([
    listVersions({ client }, { repository }),
    client.listTags(repository),
  ]);
  const formats = await signatureFormats(
    client,
    repository,
    versions.map((v) => v.digest),
    tags,
  );
  const checked = publicKey
    ? await verifyDigests(
        client,
        repository,
        versions.map((v) => v.digest),
        publicKey.key,
        { tags },
      )
    : undefined;
  const rows = versions.map((v) => {
    const check = checked?.get(v.digest);
    const found = formats.get(v.digest) ?? [];
    const hasSignature = found.length > 0;
    // With --key: valid, invalid (with the reason) or none; without: unverified (a signature
    // exists in either format, not checked) or none.
    const signature: SignatureState = check?.ok
      ? "valid"
      : !hasSignature
        ? "none"
        : check === undefined
          ? "unverified"
          : "invalid";
    return {
      ...v,
      signature,
      signatureFormats: found,
      ...(check && !check.ok && hasSignature ? { signatureProblem: check.reason } : {}),
    };
  });
  // `latest` below the highest version: --no-latest, an interrupted push, or a rollback.
  const highest = versions.at(-1);
  const latest = versions.find((v) => v.latest);
  if (highest && latest && !highest.latest) {
    out.info(
      `latest is ${latest.version}, behind the highest version ${highest.version} ` +
        "(a push with --no-latest or one interrupted before it moved latest); " +
        "`ksail workload push` moves it to the highest",
    );
  }
  const now = Date.now();
  // The IMAGES column appears once any version pins images (spec.images).
  const withImages = rows.some((v) => v.images !== undefined);
  const headers = ["VERSION", "DIGEST", "AGE", "SIZE", "SIGNED", ...(withImages ? ["IMAGES"] : [])];
  out.list(rows, () =>
    rows.length === 0
      ? `no versions in ${repository.registry}/${repository.repository}`
      : formatTable(
          wide ? [...headers, "CREATED", "SOURCE", "REVISION"] : headers,
          rows.map((v) => {
            const row = [
              v.latest ? `${v.version} (latest)` : v.version,
              v.digest.slice(0, 19),
              v.created ? formatAge(now - Date.parse(v.created)) : "-",
              formatBytes(v.size),
              SIGNED_COLUMN[v.signature],
              ...(withImages ? [formatImages(v.images)] : []),
            ];
            return wide ? [...row, v.created ?? "-", v.source ?? "-", v.revision ?? "-"] : row;
          }),
        ),
  );
}

/** `web@sha256:0123456789ab,api@sha256:…`: each image's name and short digest. */
function formatImages(images: Record<string, string> | undefined): string {
  if (images === undefined || Object.keys(images).length === 0) return "-";
  return Object.entries(images)
    .map(
      ([name, image]) => `${name}@${image.slice(image.indexOf("@") + 1, image.indexOf("@") + 20)}`,
    )
    .join(",");
}
