/**
 * The context names of the kubeconfig files, read as YAML without the Kubernetes client: what
 * shell completion offers for --context, in the time of a key press.
 */
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

/** A kubeconfig is a few KiB; larger files are not read here. */
const MAX_KUBECONFIG_SIZE = 4 * 1024 * 1024;

/**
 * `kubeconfig` (--kubeconfig or spec.connection.kubeconfig) alone, else every file of
 * $KUBECONFIG, else ~/.kube/config; unreadable files give nothing.
 */
export async function kubeContextNames(options: {
  kubeconfig?: string;
  kubeconfigFiles: readonly string[];
}): Promise<string[]> {
  const files = options.kubeconfig
    ? [options.kubeconfig.replace(/^~(?=$|\/)/, homedir())]
    : options.kubeconfigFiles.length > 0
      ? options.kubeconfigFiles
      : [join(homedir(), ".kube", "config")];
  const names = new Set<string>();
  for (const file of files) {
    try {
      if ((await stat(file)).size > MAX_KUBECONFIG_SIZE) continue;
      const config = parse(await readFile(file, "utf8")) as { contexts?: unknown } | null;
      if (!Array.isArray(config?.contexts)) continue;
      for (const entry of config.contexts as { name?: unknown }[]) {
        if (typeof entry?.name === "string" && entry.name !== "") names.add(entry.name);
      }
    } catch {
      // Not there or not YAML: nothing to offer from it.
    }
  }
  return [...names];
}
