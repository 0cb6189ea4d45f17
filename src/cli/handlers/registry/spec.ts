/** The registry container a `ksail registry` command works on, and how it is printed. */
import { connectEngine, type Engine } from "../../../engine/docker.js";
import { CONFIG_SETTINGS, type ConfigSetting } from "../../../config/settings.js";
import {
  registrySpecFromConfig,
  type RegistrySpec,
  type RegistryStatus,
} from "../../../registry/container.js";
import type { Output } from "../../../ui/output.js";
import { createOutput } from "../../context.js";
import type { RegistryFlags } from "../../commands/registry.js";
import type { Invocation } from "../../seam.js";
import { loadProject } from "../project.js";
import { resolveRuntime } from "../../../config/load.js";

/**
 * --port/--name/--image over ksail.yaml's spec.options.localRegistry (and KSAIL_REGISTRY_PORT),
 * each checked by the schema's own check of that field before the engine is asked; and the engine.
 */
export async function openRegistry({ ctx, flags, globals }: Invocation<RegistryFlags>): Promise<{
  out: Output;
  engine: Engine;
  spec: RegistrySpec;
  /** ksail's cache directory (Runtime.cacheDir), where the registry maintenance lock lives. */
  cacheDir: string;
}> {
  const out = createOutput(ctx, globals, flags.output);
  const { registryPort, registryName, registryImage } = CONFIG_SETTINGS;
  const given: [ConfigSetting, string | undefined, string][] = [
    [registryPort, flags.port, "--port"],
    [registryName, flags.name, "--name"],
    [registryImage, flags.image, "--image"],
  ];
  const overrides: Record<string, unknown> = {};
  if (given.some(([, text]) => text !== undefined)) {
    const { checkFlag } = await import("../../../config/parse.js");
    for (const [setting, text, flag] of given) {
      if (text !== undefined) overrides[setting.key] = checkFlag(setting, text, flag);
    }
  }
  const { config } = await loadProject(ctx, globals, { flags: overrides });
  const spec = registrySpecFromConfig(config);
  const engine = await connectEngine(ctx.env);
  return { out, engine, spec, cacheDir: resolveRuntime(ctx.env).cacheDir };
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
