/**
 * The file side of `ksail workload watch`: a recursive fs.watch on the source directory (native
 * on Linux since Node 20.13, on macOS and Windows always), editor temp files dropped at the
 * event, bursts gathered until the directory has been quiet for `debounceMs`.
 * Which changes matter is decided later against the artifact's own file selection
 * (see relevantChanges), so .sourceignore, .gitignore and --ignore apply exactly as in a push.
 */
import { watch, type FSWatcher } from "node:fs";
import { posix, sep } from "node:path";
import ignore from "ignore";

/**
 * Files editors write next to the one being saved and remove again. The push leaves them out
 * too (as extra ignore patterns), so a cycle that lands while one exists never packages it.
 * vim: `4913` (its write test), `.name.swp`/`.swo`/`.swx`, `name~`; emacs: `.#name`, `#name#`;
 * JetBrains: `name___jb_tmp___`, `name___jb_old___`; Kate: `.name.kate-swp`; many tools: `*.tmp`.
 */
export const EDITOR_TEMP_PATTERNS: readonly string[] = [
  "4913",
  "*.swp",
  "*.swo",
  "*.swx",
  "*~",
  ".#*",
  "\\#*#",
  "*.tmp",
  "*___jb_tmp___",
  "*___jb_old___",
  "*.kate-swp",
];

const editorTemp = ignore().add([...EDITOR_TEMP_PATTERNS]);

/** True for a path (relative, posix) whose file name is an editor's temp file. */
export function isEditorTemp(path: string): boolean {
  const name = posix.basename(path);
  return name !== "" && editorTemp.ignores(name);
}

export interface ChangeBatch {
  /** Paths (relative to the watched directory, posix) named by the events; "" = unknown. */
  paths: Set<string>;
  /** performance.now() of the first event of the burst: "when the user saved". */
  firstAt: number;
}

export interface ChangeQueue {
  /**
   * The next batch once the burst is over (quiet for debounceMs, or maxWaitMs after its first
   * event), or undefined once the queue is closed. Events arriving while the caller works are
   * gathered into the following batch.
   */
  next(): Promise<ChangeBatch | undefined>;
  /** Whether events are waiting (the next call to next() would not wait for a new event). */
  readonly pending: boolean;
  close(): void;
}

export interface ChangeQueueOptions {
  debounceMs: number;
  /** A burst that never goes quiet is cut after this long. Default 10 × debounceMs, ≥ 500 ms. */
  maxWaitMs?: number;
  /** Called when the watcher itself fails (e.g. the directory was removed). */
  onError?: (error: Error) => void;
}

export function watchChanges(root: string, options: ChangeQueueOptions): ChangeQueue {
  const maxWaitMs = options.maxWaitMs ?? Math.max(500, options.debounceMs * 10);
  let batch: ChangeBatch | undefined;
  let lastAt = 0;
  let closed = false;
  let waiter: ((batch: ChangeBatch | undefined) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const deliver = () => {
    timer = undefined;
    if (!waiter || !batch) return;
    const now = performance.now();
    const quietFor = now - lastAt;
    const open = now - batch.firstAt;
    if (quietFor < options.debounceMs && open < maxWaitMs) {
      timer = setTimeout(deliver, Math.min(options.debounceMs - quietFor, maxWaitMs - open) + 1);
      return;
    }
    const ready = batch;
    const resolve = waiter;
    batch = undefined;
    waiter = undefined;
    resolve(ready);
  };
  const arm = () => {
    if (waiter && batch && !timer) timer = setTimeout(deliver, options.debounceMs);
  };

  const watcher: FSWatcher = watch(root, { recursive: true }, (_event, filename) => {
    const path = filename === null ? "" : String(filename).split(sep).join("/");
    if (path !== "" && isEditorTemp(path)) return;
    const now = performance.now();
    lastAt = now;
    if (!batch) batch = { paths: new Set(), firstAt: now };
    batch.paths.add(path);
    arm();
  });
  watcher.on("error", (error) => {
    options.onError?.(error);
    close();
  });

  function close(): void {
    if (closed) return;
    closed = true;
    watcher.close();
    if (timer) clearTimeout(timer);
    timer = undefined;
    const resolve = waiter;
    waiter = undefined;
    resolve?.(undefined);
  }

  return {
    next() {
      if (closed) return Promise.resolve(undefined);
      if (waiter) throw new Error("watchChanges: next() called while another call waits");
      return new Promise((resolve) => {
        waiter = resolve;
        arm();
      });
    },
    get pending() {
      return batch !== undefined;
    },
    close,
  };
}

/**
 * The changes of a batch that touch the artifact: paths selected now or before (edited, added,
 * removed), files under a directory an event named (a folder moved in or out), and every file
 * whose selection changed (an ignore file was edited). Empty when only ignored files changed.
 */
export function relevantChanges(
  batch: ChangeBatch,
  before: ReadonlySet<string>,
  after: ReadonlySet<string>,
): string[] {
  const changed = new Set<string>();
  const unknown = batch.paths.has("");
  for (const path of after) if (!before.has(path)) changed.add(path);
  for (const path of before) if (!after.has(path)) changed.add(path);
  for (const path of batch.paths) {
    if (path === "") continue;
    if (before.has(path) || after.has(path)) changed.add(path);
    const prefix = `${path}/`;
    for (const file of after) if (file.startsWith(prefix)) changed.add(file);
  }
  // The platform did not say which file changed: anything selected may have.
  if (unknown && changed.size === 0 && after.size > 0) return ["(unknown file)"];
  return [...changed].sort();
}
