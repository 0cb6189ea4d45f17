/**
 * How services in every layer report progress without knowing about terminals or flags.
 *
 * Services the CLI calls share one shape: `service(deps, input, progress = silentProgress)` —
 * `deps` the object of what it talks to (`{ client }`, `{ kube }`, `{ engine }`, a provisioner,
 * hooks), `input` the plain values saying what to do, `progress` last (README, "Development").
 */
export interface Progress {
  step<T>(label: string, run: () => Promise<T>, summary?: (result: T) => string): Promise<T>;
  info(line: string): void;
  warn(line: string): void;
  /**
   * What a Ctrl-C at this moment would leave half done (e.g. a version pushed whose `latest` was
   * not moved yet), said if the user interrupts; undefined when nothing is. Optional.
   */
  atInterrupt?(note: string | undefined): void;
}

/** Runs steps silently (for library callers and tests that do not care). */
export const silentProgress: Progress = {
  step: (_label, run) => run(),
  info: () => {},
  warn: () => {},
};
