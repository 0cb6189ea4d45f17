/** `ksail workload build [name...]`: build and push spec.images. */
import { KsailError } from "../../../errors.js";
import { formatElapsed, formatTable } from "../../../ui/output.js";
import type { BuildFlags } from "../../commands/workload.js";
import { createOutput } from "../../context.js";
import type { Invocation } from "../../seam.js";
import { buildProjectImages, builtImageJson } from "./images.js";
import { openTarget } from "./target.js";

export async function run({ ctx, flags, globals, args }: Invocation<BuildFlags>): Promise<void> {
  const out = createOutput(ctx, globals, flags.output);
  const { target, client } = await openTarget(ctx, globals, flags, out, true);
  const declared = target.loaded.config.spec.images.map((i) => i.name);
  if (declared.length === 0) {
    throw new KsailError(
      "config",
      `${target.loaded.path ?? "ksail.yaml"} has no spec.images to build`,
      {
        hint: "List your images under spec.images, e.g.\n  images:\n    - name: web\n      context: ./web",
      },
    );
  }
  const names = (args[0] as unknown as string[] | undefined) ?? [];
  const unknown = names.filter((n) => !declared.includes(n));
  if (unknown.length > 0) {
    throw new KsailError("usage", `no image ${unknown.join(", ")} in spec.images`, {
      hint: `spec.images has: ${declared.join(", ")}.`,
    });
  }
  const built = await buildProjectImages(ctx, target, client, out, names);
  out.list(built.map(builtImageJson), () =>
    formatTable(
      ["NAME", "IMAGE", "TAG", "RESULT", "TIME"],
      built.map((i) => [
        i.name,
        `${i.clusterName}@${i.digest.slice(0, 19)}…`,
        i.tag,
        i.built ? "built" : "unchanged",
        formatElapsed(i.ms),
      ]),
    ),
  );
}
