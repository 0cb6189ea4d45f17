/**
 * spec.images for the workload commands that push (build, push, reconcile --push): built
 * before anything is packaged, stopped cleanly by Ctrl-C — the engine's build is cancelled,
 * nothing is tagged or pushed, and the process then ends by the signal (exit 130).
 */
import type { BuiltImage } from "../../../images/build.js";
import { workloadImages } from "../../../workload/images.js";
import type { RegistryClient } from "../../../oci/client.js";
import type { Output } from "../../../ui/output.js";
import type { WorkloadTarget } from "../../../workload/target.js";
import type { CliContext } from "../../context.js";

export async function buildProjectImages(
  ctx: CliContext,
  target: WorkloadTarget,
  client: RegistryClient,
  out: Output,
  only?: readonly string[],
): Promise<BuiltImage[]> {
  const { images, destination } = workloadImages(target);
  const chosen = only && only.length > 0 ? images.filter((i) => only.includes(i.name)) : images;
  if (chosen.length === 0) return [];
  // The engine client and the build code load only for a project that has images.
  const [{ lazyEngine }, { buildImages }] = await Promise.all([
    import("../../../engine/docker.js"),
    import("../../../images/build.js"),
  ]);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    out.info(`Stopping (${signal}): cancelling the build; nothing is tagged or pushed…`);
    controller.abort(signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await buildImages(
      { client, engine: lazyEngine(ctx.env) },
      { images: chosen, destination, signal: controller.signal },
      out,
    );
  } catch (error) {
    if (controller.signal.aborted) {
      // End as the signal would have: the shell sees 130 (SIGINT) or 143 (SIGTERM).
      const signal = controller.signal.reason as NodeJS.Signals;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.kill(process.pid, signal);
      // Someone else handles the signal and keeps the process: exit as the shell would report it.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The JSON/YAML shape of a built image. */
export function builtImageJson(image: BuiltImage) {
  return {
    name: image.name,
    image: image.clusterImage,
    repository: image.repository,
    tag: image.tag,
    digest: image.digest,
    built: image.built,
    ...(image.layersPushed === undefined ? {} : { layersPushed: image.layersPushed }),
    ms: Math.round(image.ms),
  };
}
