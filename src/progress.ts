/** How services in every layer report progress without knowing about terminals or flags. */
export interface Progress {
  step<T>(label: string, run: () => Promise<T>, summary?: (result: T) => string): Promise<T>;
  info(line: string): void;
  warn(line: string): void;
}

/** Runs steps silently (for library callers and tests that do not care). */
export const silentProgress: Progress = {
  step: (_label, run) => run(),
  info: () => {},
  warn: () => {},
};
