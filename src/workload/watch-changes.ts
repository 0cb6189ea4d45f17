/**
 * The file side of `ksail workload watch`: @parcel/watcher (inotify on Linux, FSEvents on macOS,
 * ReadDirectoryChangesW on Windows) on the source directory, one watch per directory, not per
 * file, so a file replaced by a rename (sed -i, git, an editor's safe write) is still seen.
 * Editor temp files are dropped at the event; bursts are gathered until the directory has been
 * quiet for `debounceMs`. Which changes matter is decided later against the artifact's own file
 * selection (see relevantChanges), so .sourceignore, .gitignore and --ignore apply exactly as in
 * a push.
 *
 * Three things the library leaves to us:
 * - A folder made or moved in with folders inside it (mkdir -p, git checkout, mv) gets a watch on
 *   its top only, so the subscription is renewed (the tree read again) after such an event.
 * - The watched directory itself removed or renamed: said once, then waited for (polled), and
 *   watched again when it is back, with a batch that makes the loop compare the whole selection.
 * - The inotify budget: a tree it cannot watch whole fails with the sysctl to raise, never a
 *   watch of part of the tree.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import parcel from "@parcel/watcher";
import ignore from "ignore";
import { KsailError } from "../errors.js";

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
  close(): Promise<void>;
}

export interface ChangeQueueOptions {
  debounceMs: number;
  /** A burst that never goes quiet is cut after this long. Default 10 × debounceMs, ≥ 500 ms. */
  maxWaitMs?: number;
  /** Called when the watcher fails for good (e.g. the inotify budget is spent); the queue closes. */
  onError?: (error: Error) => void;
  /** Status lines: the directory went away, came back. */
  onNotice?: (line: string) => void;
  /** How often a removed directory is looked for. Default 250 ms. */
  pollMs?: number;
  /** How often every folder is checked for its inotify watch (Linux). Default 5 s. */
  auditMs?: number;
}

/** The inotify watch limit in force (per user namespace; the sysctl shows the machine's). */
function inotifyLimit(): number | undefined {
  for (const file of [
    "/proc/sys/user/max_inotify_watches",
    "/proc/sys/fs/inotify/max_user_watches",
  ]) {
    try {
      const value = Number(readFileSync(file, "utf8").trim());
      if (Number.isFinite(value) && value > 0) return value;
    } catch {
      // not Linux, or not readable: try the next
    }
  }
  return undefined;
}

/** The inotify budget is spent: `folder` (and `count - 1` more) under `root` has no watch. */
function budgetSpent(root: string, folder: string, count?: number, cause?: unknown): KsailError {
  const limit = inotifyLimit();
  const raise = Math.max(524_288, (limit ?? 0) * 2);
  const more =
    count && count > 1 ? ` and ${count - 1} more ${count - 1 === 1 ? "folder" : "folders"}` : "";
  return new KsailError(
    "failed",
    `cannot watch ${folder}${more}: the inotify watch limit${limit ? ` (${limit})` : ""} is reached, so ${root} cannot be watched whole`,
    {
      hint: `Raise it: \`sudo sysctl fs.inotify.max_user_watches=${raise}\` (and put fs.inotify.max_user_watches=${raise} in /etc/sysctl.d/ to keep it), stop other watchers, or watch a smaller directory (--path).`,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** The watcher's own error as a KsailError: the inotify budget named, with what to raise. */
export function watcherFailure(root: string, error: unknown): KsailError {
  const message = error instanceof Error ? error.message : String(error);
  const spent = /inotify_add_watch on '([^']*)' failed: No space left on device/.exec(message);
  if (spent) return budgetSpent(root, spent[1]!, undefined, error);
  if (/inotify/.test(message) && /Too many open files/.test(message)) {
    return new KsailError("failed", `cannot watch ${root}: ${message}`, {
      hint: "Too many inotify instances: raise `sudo sysctl fs.inotify.max_user_instances=1024`, or stop other watchers.",
      cause: error,
    });
  }
  return new KsailError("failed", `watching ${root} failed: ${message}`, { cause: error });
}

/**
 * Linux: the inodes this process holds inotify watches on (hex, as /proc prints them), or
 * undefined elsewhere. Only the watcher library uses inotify in this process.
 */
function watchedInodes(): Set<string> | undefined {
  if (process.platform !== "linux") return undefined;
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync("/proc/self/fdinfo")) {
      let info: string;
      try {
        info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
      } catch {
        continue; // closed meanwhile
      }
      for (const m of info.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+)/gm)) inodes.add(m[1]!);
    }
  } catch {
    return undefined;
  }
  return inodes;
}

/**
 * Folders under `root` (itself included, symlinks not followed, `skip` left out) without an
 * inotify watch: the library drops a folder it cannot watch without a word, so the budget is
 * checked here. Undefined where this cannot be told (not Linux).
 */
export async function unwatchedFolders(
  root: string,
  skip: readonly string[],
): Promise<string[] | undefined> {
  const watched = watchedInodes();
  if (!watched) return undefined;
  const missing: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      const stat = await lstat(dir);
      if (!stat.isDirectory()) return;
      if (!watched.has(stat.ino.toString(16))) missing.push(dir);
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed meanwhile, or unreadable (the push names that)
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !skip.includes(path)) await walk(path);
    }
  };
  await walk(root);
  return missing;
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** Paths of one burst looked at (beyond: every event counts as news, as without looks). */
const MAX_LOOKS = 64;
/** How often delivery checks again while looks are running. */
const LOOK_WAIT_MS = 2;

/** A path's inode, size, and modification and change times ("absent" when it is gone). */
async function lookAt(path: string): Promise<string> {
  try {
    const stat = await lstat(path, { bigint: true });
    return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
  } catch {
    return "absent";
  }
}

export async function watchChanges(
  root: string,
  options: ChangeQueueOptions,
): Promise<ChangeQueue> {
  const quietMs = options.debounceMs;
  const maxWaitMs = options.maxWaitMs ?? Math.max(500, quietMs * 10);
  const pollMs = options.pollMs ?? 250;
  // Git's own folder is never packaged (nor is anything in it a manifest): no watches for it.
  const ignored = [join(root, ".git")];
  let batch: ChangeBatch | undefined;
  let lastAt = 0;
  let closed = false;
  let waiter: ((batch: ChangeBatch | undefined) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let subscription: parcel.AsyncSubscription | undefined;
  /** Renewing the subscription or waiting for the directory: one at a time. */
  let renewing: Promise<void> | undefined;
  let renewAgain = false;
  let gone = false;

  /**
   * What each path of the burst looked like at its latest event (see SeenFiles.look), and the
   * looks still running. An event for a path the burst has already seen counts as news only if
   * the path looks different since: the library hands over every save twice — its first event
   * at once, the same file again 50 ms later — and that repeat must not hold the cycle back for
   * another quiet period. A file still being written looks different at every event, so a slow
   * writer still keeps the burst open.
   */
  let looks = new Map<string, string>();
  let looking = 0;

  const deliver = () => {
    timer = undefined;
    if (!waiter || !batch || renewing) return;
    const now = performance.now();
    const quietFor = now - lastAt;
    const open = now - batch.firstAt;
    if ((quietFor < quietMs || looking > 0) && open < maxWaitMs) {
      const wait = looking > 0 ? LOOK_WAIT_MS : quietMs - quietFor;
      timer = setTimeout(deliver, Math.min(wait, maxWaitMs - open) + 1);
      return;
    }
    const ready = batch;
    const resolve = waiter;
    batch = undefined;
    looks = new Map();
    waiter = undefined;
    resolve(ready);
  };
  const arm = () => {
    if (waiter && batch && !timer && !renewing) timer = setTimeout(deliver, quietMs);
  };
  /** Looks at `path` for the burst `of`; news (lastAt = `at`) when it differs from before. */
  const look = (of: ChangeBatch, path: string, at: number, known: boolean) => {
    looking++;
    void lookAt(join(root, path)).then((seen) => {
      looking--;
      if (batch !== of) return; // delivered meanwhile: the loop compares what it takes
      if (known && looks.get(path) !== seen) lastAt = Math.max(lastAt, at);
      looks.set(path, seen);
    });
  };
  const record = (path: string) => {
    const now = performance.now();
    if (!batch) batch = { paths: new Set(), firstAt: now };
    const known = batch.paths.has(path);
    // A path without a name (""), or a burst too large to look at every file, is news each time.
    if (path === "" || batch.paths.size > MAX_LOOKS) lastAt = now;
    else {
      if (!known) lastAt = now;
      look(batch, path, now, known);
    }
    batch.paths.add(path);
    arm();
  };
  const fail = (error: unknown) => {
    if (closed) return;
    options.onError?.(error instanceof KsailError ? error : watcherFailure(root, error));
    void close();
  };

  const onEvents = (error: Error | null, events: parcel.Event[]) => {
    if (closed || gone) return;
    if (error) return fail(error);
    let folderAppeared = false;
    let rootGone = false;
    for (const event of events) {
      if (event.path === root) {
        if (event.type === "delete") rootGone = true;
        continue;
      }
      const path = relative(root, event.path).split(sep).join("/");
      if (isEditorTemp(path)) continue;
      record(path);
      if (event.type === "create" && isDirectory(event.path)) folderAppeared = true;
    }
    if (rootGone || !isDirectory(root)) renew("gone");
    else if (folderAppeared) renew("folder");
  };

  const subscribe = async () => {
    // Watches just given back are freed by the kernel a moment later: near the limit, a renewed
    // subscription may need a few tries before the budget is told to be spent.
    for (let attempt = 1; ; attempt++) {
      try {
        subscription = await parcel.subscribe(root, onEvents, { ignore: ignored });
        return;
      } catch (error) {
        if (attempt >= 4 || !/No space left on device/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  };

  /**
   * Every folder has its watch, or the budget is told: a folder made while the budget is spent
   * gets no watch and no event at all. A folder found without one is looked at again a second
   * later (the library may not have reached it yet) before the watch fails.
   */
  let auditing = false;
  const audit = async () => {
    if (auditing || closed || gone || renewing) return;
    auditing = true;
    try {
      const first = await unwatchedFolders(root, ignored);
      if (!first?.length) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (closed || gone || renewing) return;
      const still = (await unwatchedFolders(root, ignored))?.filter((dir) => first.includes(dir));
      if (still?.length) fail(budgetSpent(root, still[0]!, still.length));
    } finally {
      auditing = false;
    }
  };
  const auditTimer = setInterval(() => void audit(), options.auditMs ?? 5000);
  auditTimer.unref();
  const unsubscribe = async () => {
    const current = subscription;
    subscription = undefined;
    // After the directory went away the library cannot remove its watches (they are gone).
    await current?.unsubscribe().catch(() => undefined);
  };

  /**
   * Reads the tree again: after a folder appeared (its subfolders get watches), or after the
   * directory itself went away (waits for it first). Events during the renewal gather into the
   * batch, which is held back until it is done.
   */
  const renew = (why: "folder" | "gone") => {
    if (why === "gone") gone = true;
    if (renewing) {
      renewAgain = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = undefined;
    renewing = (async () => {
      do {
        renewAgain = false;
        await unsubscribe();
        if (gone) {
          options.onNotice?.(
            `${root} was removed or renamed; waiting for it to come back (Ctrl-C to stop).`,
          );
          while (!closed && !isDirectory(root)) {
            await new Promise((resolve) => setTimeout(resolve, pollMs));
          }
          if (closed) return;
          options.onNotice?.(`${root} is back; watching it again.`);
          gone = false;
          // Anything may have changed meanwhile: the loop compares the whole selection.
          record("");
        }
        try {
          await subscribe();
        } catch (error) {
          if (isDirectory(root)) throw error;
          // It went away again while it was being read: wait for it once more.
          gone = true;
          renewAgain = true;
        }
      } while (renewAgain && !closed);
    })()
      .catch(fail)
      .finally(() => {
        renewing = undefined;
        if (closed) void unsubscribe();
        else {
          arm();
          void audit();
        }
      });
  };

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    clearInterval(auditTimer);
    if (timer) clearTimeout(timer);
    timer = undefined;
    const resolve = waiter;
    waiter = undefined;
    resolve?.(undefined);
    await unsubscribe();
  }

  try {
    await subscribe();
  } catch (error) {
    clearInterval(auditTimer);
    throw watcherFailure(root, error);
  }
  void audit();

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

/** Stands for "a file, the platform did not say which" in a list of changes. */
export const UNKNOWN_FILE = "(unknown file)";

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
  if (unknown && changed.size === 0 && after.size > 0) return [UNKNOWN_FILE];
  return [...changed].sort();
}

/**
 * What each file looked like when a cycle last took it (inode, size, modification and change
 * times, or absent), so the rest of a save that arrives after its cycle began starts no second
 * cycle. The library hands over the first event of a burst at once and the rest 50 ms after the
 * last one: a save that renames the file away, writes it anew and removes the backup can come
 * in two batches, the second naming files the cycle already took as they are.
 */
export class SeenFiles {
  private readonly seen = new Map<string, string>();
  constructor(private readonly root: string) {}

  private look(path: string): Promise<string> {
    return lookAt(join(this.root, path));
  }

  /** The paths that differ from when a cycle last took them (all of them, for unknown ones). */
  async differing(paths: readonly string[]): Promise<string[]> {
    const looks = await Promise.all(paths.map((path) => this.look(path)));
    return paths.filter((path, i) => path === UNKNOWN_FILE || this.seen.get(path) !== looks[i]);
  }

  /** Remembers the paths as a cycle takes them: call before the cycle reads them. */
  async take(paths: readonly string[]): Promise<void> {
    const looks = await Promise.all(paths.map((path) => this.look(path)));
    paths.forEach((path, i) => {
      if (path !== UNKNOWN_FILE) this.seen.set(path, looks[i]!);
    });
  }
}
