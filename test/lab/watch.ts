/**
 * Runs `ksail workload watch` for a test and lets it wait for the loop's cycles, each a
 * CycleReport (what `-o json` prints, one object per line).
 */
import { loadConfig } from "../../src/config/load.js";
import { parseDuration } from "../../src/config/duration.js";
import { KubeClient } from "../../src/k8s/client.js";
import { RegistryClient } from "../../src/oci/client.js";
import { resolveTarget } from "../../src/workload/target.js";
import { watchWorkload, type CycleReport } from "../../src/workload/watch.js";
import type { KubeLab } from "./k8s/lab.js";
import type { LabRegistry } from "./registry.js";

export interface WatchRun {
  reports: CycleReport[];
  /** The n-th cycle report (1-based); fails after `timeoutMs` (default 90 s) with describe(). */
  cycle(n: number, timeoutMs?: number): Promise<CycleReport>;
  /** Ctrl-C: resolves when the loop has ended. */
  stop(): Promise<{ exitCode: number }>;
  /** Everything the loop said so far, for assertion messages. */
  describe(): string;
}

export interface StartWatchOptions {
  project: string;
  lab?: KubeLab;
  registry: LabRegistry;
  /** `workload watch` flags: --timeout D, --no-reconcile, --prune-keep N, --debounce D. */
  args?: string[];
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The watch service in this process, configured from the project as the command would be. */
export async function startWatch(options: StartWatchOptions): Promise<WatchRun> {
  const args = options.args ?? [];
  const reports: CycleReport[] = [];
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  const controller = new AbortController();
  const target = await resolveTarget({ cwd: options.project, env: {}, needsSource: true });
  const reconcile = !args.includes("--no-reconcile");
  const { config } = await loadConfig({ cwd: options.project, env: {} });
  const kube = reconcile
    ? KubeClient.connect({
        ...(config.spec.connection.kubeconfig
          ? { kubeconfig: config.spec.connection.kubeconfig }
          : {}),
        ...(config.spec.connection.context ? { context: config.spec.connection.context } : {}),
      })
    : undefined;
  const keep = flag(args, "--prune-keep");
  const debounce = flag(args, "--debounce");
  let exitCode: number | undefined;
  const done = watchWorkload(
    { client: new RegistryClient(), ...(kube ? { kube } : {}) },
    {
      repository: target.repository,
      sourceDir: target.sourceDir,
      signal: controller.signal,
      ...(debounce ? { debounceMs: parseDuration(debounce) ?? 75 } : {}),
      ...(keep ? { pruneKeep: Number(keep) } : {}),
      ...(reconcile
        ? {
            reconcile: {
              name: config.metadata.name,
              namespace: config.spec.options.flux.namespace,
              timeoutMs: parseDuration(flag(args, "--timeout") ?? "2m") ?? 120_000,
            },
          }
        : {}),
    },
    {
      cycle: (report) => {
        reports.push(report);
        lines.push(JSON.stringify(report));
        waiters.splice(0).forEach((wake) => wake());
      },
      notice: (line) => lines.push(line),
      warn: (line) => lines.push(`warning: ${line}`),
    },
  ).then(
    () => (exitCode = 0),
    (error: unknown) => {
      lines.push(`error: ${(error as Error).message}`);
      exitCode = 1;
      waiters.splice(0).forEach((wake) => wake());
    },
  );
  const describe = () => lines.join("\n");
  return {
    reports,
    describe,
    async cycle(n, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (reports.length < n) {
        if (exitCode !== undefined)
          throw new Error(`watch ended (exit ${exitCode}):\n${describe()}`);
        if (Date.now() > deadline) {
          throw new Error(`cycle ${n} did not come within ${timeoutMs / 1000} s:\n${describe()}`);
        }
        await Promise.race([
          new Promise<void>((resolve) => waiters.push(resolve)),
          new Promise((resolve) => setTimeout(resolve, 1000)),
        ]);
      }
      return reports[n - 1]!;
    },
    async stop() {
      controller.abort();
      await done;
      return { exitCode: exitCode ?? 1 };
    },
  };
}
