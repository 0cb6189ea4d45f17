/** The registry container a `ksail registry` command works on, and how it is printed. */
import { connectEngine, type Engine } from "../../../engine/docker.js";
import { KsailError } from "../../../errors.js";
import {
  registrySpecFromConfig,
  type RegistrySpec,
  type RegistryStatus,
} from "../../../registry/container.js";
import type { Output } from "../../../ui/output.js";
import { createOutput, parseInteger } from "../../context.js";
import type { RegistryFlags } from "../../commands/registry.js";
import type { Invocation } from "../../seam.js";
import { loadProject } from "../project.js";

/** --port/--name/--image over ksail.yaml's spec.options.localRegistry, and the engine. */
export async function openRegistry({ ctx, flags, globals }: Invocation<RegistryFlags>): Promise<{
  out: Output;
  engine: Engine;
  spec: RegistrySpec;
}> {
  const out = createOutput(ctx, globals, flags.output);
  const hostPort = flags.port === undefined ? undefined : parseInteger(flags.port, "--port", 1);
  if (hostPort !== undefined && hostPort > 65535) {
    throw new KsailError("usage", `--port must be at most 65535, got ${hostPort}`);
  }
  // The name is also the registry's host name on the cluster network (DNS-1123, as in ksail.yaml).
  if (flags.name !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(flags.name)) {
    throw new KsailError(
      "usage",
      `--name must be lower-case letters, digits and '-', starting and ending with a letter or digit (at most 63), got "${flags.name}"`,
    );
  }
  const { config } = await loadProject(ctx, globals);
  const spec = registrySpecFromConfig(config, {
    ...(hostPort === undefined ? {} : { hostPort }),
    ...(flags.name === undefined ? {} : { name: flags.name }),
    ...(flags.image === undefined ? {} : { image: flags.image }),
  });
  const engine = await connectEngine(ctx.env);
  return { out, engine, spec };
}

/** What `status -o json` prints (and the other commands return). */
export function statusJson(status: RegistryStatus): Record<string, unknown> {
  return {
    name: status.name,
    image: status.image,
    hostBinding: status.hostBinding ?? null,
    volume: status.volume,
    volumeExists: status.volumeExists,
    exists: status.exists,
    running: status.running,
    state: status.state,
    hostAddress: status.hostAddress,
    inClusterAddress: status.inClusterAddress,
    networks: status.networks,
  };
}
