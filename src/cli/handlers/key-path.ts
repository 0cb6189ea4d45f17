/**
 * Which key file a signing command uses: a flag (relative to the working directory), else
 * spec.options.signing in ksail.yaml (relative to that file). No crypto here, so that a push
 * without a key loads none (signing.ts loads with the key).
 */
import { isAbsolute, resolve } from "node:path";
import type { LoadedConfig } from "../../config/load.js";
import type { CliContext } from "../context.js";

/**
 * The signature format: --signature-format, else spec.options.signing.format, else undefined
 * (the signer's default, "bundle").
 */
export function signatureFormat(
  loaded: LoadedConfig | undefined,
  flag: "bundle" | "legacy" | undefined,
): "bundle" | "legacy" | undefined {
  return flag ?? loaded?.config.spec.options.signing.format;
}

/** The key file `flag` names (relative to cwd), else the configured one (relative to ksail.yaml). */
export function keyPath(
  ctx: CliContext,
  loaded: LoadedConfig | undefined,
  flag: string | undefined,
  field: "key" | "publicKey",
): string | undefined {
  if (flag !== undefined) return resolve(ctx.cwd, flag);
  const configured = loaded?.config.spec.options.signing[field];
  if (configured === undefined) return undefined;
  return isAbsolute(configured) ? configured : resolve(loaded!.baseDir, configured);
}
