/**
 * `ksail workload secrets keygen | encrypt | decrypt | edit | rotate`: SOPS files with age keys
 * (src/secrets). Only public recipients are printed; a private key never reaches the output.
 */
import { resolve } from "node:path";
import { resolveAgeKeys, resolveRuntime } from "../../../config/load.js";
import {
  decryptFile,
  editFile,
  encryptFile,
  keygen as generateKey,
  rotateFile,
  type EncryptedFile,
} from "../../../secrets/files.js";
import { createOutput } from "../../context.js";
import type {
  SecretsDecryptFlags,
  SecretsEditFlags,
  SecretsEncryptFlags,
  SecretsKeygenFlags,
  SecretsRotateFlags,
} from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { loadProject } from "../project.js";

/** A variadic argument's values (commander passes them as one array). */
function files(args: unknown[]): string[] {
  const first = args[0];
  return Array.isArray(first) ? (first as string[]) : typeof first === "string" ? [first] : [];
}

export async function keygen({
  ctx,
  flags,
  globals,
}: Invocation<SecretsKeygenFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const loaded = await loadProject(ctx, globals);
  const sourceDir = resolve(loaded.baseDir, loaded.config.spec.sourceDirectory);
  const result = await generateKey(loaded.baseDir, sourceDir, resolveAgeKeys(ctx.env));
  out.result(
    {
      recipient: result.recipient,
      keyFile: result.keyFile,
      sopsConfig: result.configWritten ?? result.existingConfig,
      sopsConfigWritten: result.configWritten !== undefined,
      ...(result.suggestedRule ? { suggestedRule: result.suggestedRule } : {}),
    },
    () =>
      [
        `public key: ${result.recipient}`,
        `private key appended to ${result.keyFile} (mode 0600; back it up, never commit it)`,
        result.configWritten
          ? `wrote ${result.configWritten}: files under ${loaded.config.spec.sourceDirectory}/ are encrypted for this key`
          : `${result.existingConfig} exists and was not changed; to encrypt for this key, add the recipient to a rule, e.g.:\n${result.suggestedRule!.trimEnd()}`,
        "Next: ksail workload secrets encrypt FILE",
      ].join("\n"),
  );
}

export async function encrypt({
  ctx,
  flags,
  globals,
  args,
}: Invocation<SecretsEncryptFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const done: EncryptedFile[] = [];
  for (const file of files(args)) done.push(await encryptFile(resolve(ctx.cwd, file), ctx.cwd));
  out.result({ items: done }, () =>
    done.map((d) => `encrypted ${d.path} for ${d.recipients.join(", ")}`).join("\n"),
  );
}

export async function decrypt({ ctx, args }: Invocation<SecretsDecryptFlags>): Promise<void> {
  ctx.stdout.write(await decryptFile(resolve(ctx.cwd, files(args)[0]!), resolveAgeKeys(ctx.env)));
}

export async function edit({ ctx, args, globals }: Invocation<SecretsEditFlags>): Promise<void> {
  const out = createOutput(ctx, globals);
  const { editor } = resolveRuntime(ctx.env);
  const result = await editFile(
    resolve(ctx.cwd, files(args)[0]!),
    editor,
    resolveAgeKeys(ctx.env),
    ctx.env,
  );
  out.info(result.changed ? `encrypted ${result.path} again` : `${result.path} unchanged`);
}

export async function rotate({
  ctx,
  flags,
  globals,
  args,
}: Invocation<SecretsRotateFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const done: EncryptedFile[] = [];
  for (const file of files(args))
    done.push(await rotateFile(resolve(ctx.cwd, file), ctx.cwd, resolveAgeKeys(ctx.env)));
  out.result({ items: done }, () =>
    done.map((d) => `new data key for ${d.path}, for ${d.recipients.join(", ")}`).join("\n"),
  );
}
