/** `ksail workload keygen [--output-dir DIR] [--force]`: cosign.key + cosign.pub, as cosign writes them. */
import { resolve } from "node:path";
import { assertNoKeyPair, generateKeyPair } from "../../../workload/sign.js";
import { createOutput } from "../../context.js";
import type { KeygenFlags } from "../../commands/workload.js";
import type { Invocation } from "../../seam.js";
import { newKeyPassword } from "../signing.js";

export async function run({ ctx, flags, globals }: Invocation<KeygenFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const outputDir = resolve(ctx.cwd, flags.outputDir ?? ".");
  // An existing pair is refused before the password is asked for and a key generated.
  await assertNoKeyPair(outputDir, flags.force === true);
  const password = await newKeyPassword(ctx);
  const result = await generateKeyPair(
    {
      outputDir,
      password,
      ...(flags.force === undefined ? {} : { force: flags.force }),
    },
    out,
  );
  out.result(result, () =>
    [
      `private key: ${result.privateKeyPath}`,
      `public key:  ${result.publicKeyPath}`,
      `Sign with: ksail workload push --sign-key ${result.privateKeyPath}`,
      `Verify in Flux: ksail flux sync --verify-key ${result.publicKeyPath}`,
    ].join("\n"),
  );
}
