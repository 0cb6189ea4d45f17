/**
 * Lists the files of a source directory that go into an artifact: honours `.sourceignore` (Flux's
 * file) and `.gitignore` files at any level, extra patterns and a default ignore list; never
 * follows symlinks (they are reported as skipped, like Flux's tar writer skips them).
 */
import { lstat, readdir, stat } from "node:fs/promises";
import { closeSync, openSync, readFile as readFileCallback, readFileSync, readSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import ignore, { type Ignore } from "ignore";
import { KsailError } from "../errors.js";
import { readBoundedFile } from "../util/bounded-read.js";
import { mapLimit } from "../util/map-limit.js";

export interface SourceFile {
  /** posix, relative to root, no leading ./ */
  path: string;
  absolutePath: string;
  size: number;
  executable: boolean;
}

export interface SkippedEntry {
  path: string;
  reason: "symlink" | "special-file";
}

export interface ListSourceFilesOptions {
  /** Extra gitignore-style patterns, relative to root; they win over every ignore file. */
  ignore?: string[];
}

/** Flux's `.sourceignore` file name. */
export const SOURCE_IGNORE_FILE = ".sourceignore";

/**
 * Always ignored unless an ignore file or an extra pattern re-includes them with `!pattern`.
 * VCS metadata (Flux's ExcludeVCS plus other VCSs), archives, editor and OS junk.
 */
export const DEFAULT_IGNORE_PATTERNS: readonly string[] = [
  ".git/",
  ".hg/",
  ".svn/",
  ".jj/",
  ".bzr/",
  ".gitignore",
  ".gitattributes",
  ".gitmodules",
  SOURCE_IGNORE_FILE,
  "*.tar",
  "*.tgz",
  "*.tar.gz",
  "*.zip",
  ".DS_Store",
  "Thumbs.db",
  "*.swp",
  "*.swo",
  "*~",
  ".#*",
  "\\#*#",
  ".idea/",
  ".vscode/",
];

interface ScopedMatcher {
  /** Directory the patterns belong to, relative to root ("" for root). */
  base: string;
  matcher: Ignore;
}

/** Ignore files this big are not ignore files. */
const MAX_IGNORE_FILE_SIZE = 4 * 1024 * 1024;

/**
 * A .gitignore/.sourceignore's text; undefined when there is none (or a directory has the name).
 * Read bounded: a FIFO or device with that name is refused at once (exit 8), never waited on.
 */
async function readIgnoreFile(path: string): Promise<string | undefined> {
  try {
    if ((await stat(path)).isDirectory()) return undefined;
    const bytes = await readBoundedFile(path, {
      maxBytes: MAX_IGNORE_FILE_SIZE,
      what: "ignore file",
      hint: "Ignore files hold gitignore patterns: replace it with a text file, or remove it.",
    });
    return bytes.toString("utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

/** gitignore semantics: the deepest matcher that has an opinion decides. */
function isIgnored(matchers: readonly ScopedMatcher[], relPath: string, isDir: boolean): boolean {
  let ignored = false;
  for (const { base, matcher } of matchers) {
    const local = base === "" ? relPath : relPath.slice(base.length + 1);
    const result = matcher.test(isDir ? `${local}/` : local);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

/** Sorts by the UTF-8 bytes of `key` (what Flux and tar order by), not by UTF-16 code units. */
function sortByBytes<T>(items: T[], key: (item: T) => string): void {
  // For ASCII the two orders agree, and comparing strings allocates nothing.
  if (items.every((item) => !/[^\p{ASCII}]/u.test(key(item)))) {
    items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    return;
  }
  const bytes = new Map(items.map((item) => [item, Buffer.from(key(item), "utf8")]));
  items.sort((a, b) => Buffer.compare(bytes.get(a)!, bytes.get(b)!));
}

/** lstat calls in flight per directory while listing, and subdirectories listed at once. */
const STAT_CONCURRENCY = 32;
const DIRECTORY_CONCURRENCY = 4;

export async function listSourceFiles(
  root: string,
  options: ListSourceFilesOptions = {},
): Promise<{ files: SourceFile[]; skipped: SkippedEntry[] }> {
  const absRoot = resolve(root);
  let rootStat;
  try {
    rootStat = await stat(absRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new KsailError("not-found", `source directory ${absRoot} does not exist`, {
        hint: "Pass --path with an existing directory of Kubernetes manifests.",
        cause: error,
      });
    }
    throw error;
  }
  if (!rootStat.isDirectory()) {
    throw new KsailError("usage", `source path ${absRoot} is not a directory`, {
      hint: "Pass --path with a directory of Kubernetes manifests.",
    });
  }

  const files: SourceFile[] = [];
  const skipped: SkippedEntry[] = [];
  /** Entries whose names are not UTF-8 (as `ls -b` shows them): refused below. */
  const undecodable: string[] = [];

  async function matcherFor(dirAbs: string, base: string, isRoot: boolean) {
    const [gitignore, sourceignore] = await Promise.all([
      readIgnoreFile(join(dirAbs, ".gitignore")),
      readIgnoreFile(join(dirAbs, SOURCE_IGNORE_FILE)),
    ]);
    const extra = isRoot ? (options.ignore ?? []) : [];
    if (!isRoot && gitignore === undefined && sourceignore === undefined) return undefined;
    const matcher = ignore();
    if (isRoot) matcher.add([...DEFAULT_IGNORE_PATTERNS]);
    if (gitignore !== undefined) matcher.add(gitignore);
    if (sourceignore !== undefined) matcher.add(sourceignore);
    if (extra.length > 0) matcher.add(extra);
    return { base, matcher };
  }

  async function walk(dirAbs: string, dirRel: string, inherited: ScopedMatcher[]): Promise<void> {
    const own = await matcherFor(dirAbs, dirRel, dirRel === "");
    const matchers = own === undefined ? inherited : [...inherited, own];
    const entries = await readdir(dirAbs, { withFileTypes: true });
    const subdirs: [string, string][] = [];
    const regular: [string, string][] = [];
    let notUtf8: Map<string, Buffer> | undefined;
    for (const entry of entries) {
      const rel = dirRel === "" ? entry.name : `${dirRel}/${entry.name}`;
      // Node decodes a name that is not UTF-8 with U+FFFD in place of the bad bytes, a name no
      // file has: such an entry cannot be opened by that name (nor packaged as a tar path).
      if (entry.name.includes("\uFFFD")) {
        notUtf8 ??= await namesNotUtf8(dirAbs);
        const raw = notUtf8.get(entry.name);
        if (raw !== undefined) {
          if (!isIgnored(matchers, rel, entry.isDirectory())) {
            undecodable.push(dirRel === "" ? escapeName(raw) : `${dirRel}/${escapeName(raw)}`);
          }
          continue;
        }
      }
      if (entry.isDirectory()) {
        if (!isIgnored(matchers, rel, true)) subdirs.push([join(dirAbs, entry.name), rel]);
      } else if (isIgnored(matchers, rel, false)) {
        continue;
      } else if (entry.isSymbolicLink()) {
        skipped.push({ path: rel, reason: "symlink" });
      } else if (entry.isFile()) {
        regular.push([join(dirAbs, entry.name), rel]);
      } else {
        skipped.push({ path: rel, reason: "special-file" });
      }
    }
    // Bounded at each level, so a tree of 20,000 files never has 20,000 calls in flight.
    await mapLimit(regular, STAT_CONCURRENCY, async ([abs, rel]) => {
      const s = await lstat(abs);
      files.push({
        path: rel,
        absolutePath: abs,
        size: s.size,
        executable: (s.mode & 0o100) !== 0,
      });
    });
    await mapLimit(subdirs, DIRECTORY_CONCURRENCY, ([abs, rel]) => walk(abs, rel, matchers));
  }

  await walk(absRoot, "", []);
  if (undecodable.length > 0) {
    undecodable.sort();
    throw new KsailError(
      "validation",
      `${undecodable.length === 1 ? "1 name" : `${undecodable.length} names`} in ${absRoot} ${undecodable.length === 1 ? "is" : "are"} not valid UTF-8; nothing was pushed`,
      {
        details: undecodable.map((name) => `${name}: the name is not UTF-8 (bad bytes as \\xNN)`),
        hint: "Rename them (an artifact's paths are UTF-8, as Flux and kustomize read them), or add them to .sourceignore.",
      },
    );
  }
  sortByBytes(files, (f) => f.path);
  sortByBytes(skipped, (s) => s.path);
  return { files, skipped };
}

/** The names in `dir` that are not UTF-8, keyed by the lossy string Node lists them under. */
async function namesNotUtf8(dir: string): Promise<Map<string, Buffer>> {
  const names = await readdir(dir, { encoding: "buffer" });
  return new Map(names.filter((name) => !isUtf8(name)).map((name) => [name.toString(), name]));
}

/** A name as `ls -b` shows it: printable ASCII as is, every other byte as \xNN. */
function escapeName(name: Buffer): string {
  let shown = "";
  for (const byte of name) {
    shown +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return shown;
}

/** fs.readFile with a callback: a single read for small files, ~2.5× faster than fs/promises'. */
const readAsync: (path: string) => Promise<Buffer> = promisify(readFileCallback);

/**
 * Reads a whole small file into `buffer` synchronously (see readWhole); returns its length, or
 * `buffer.length` when it may not have fit.
 */
export function readSmallInto(path: string, buffer: Buffer): number {
  const fd = openSync(path, "r");
  try {
    let filled = 0;
    while (filled < buffer.length) {
      const n = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (n === 0) break;
      filled += n;
    }
    return filled;
  } finally {
    closeSync(fd);
  }
}

/** Files up to this size are read synchronously (see readWhole). */
export const SYNC_READ_MAX = 64 * 1024;

/**
 * A file's bytes. A small file is read synchronously: from the page cache that takes a few
 * microseconds on this thread, while an asynchronous read is four round trips through libuv's
 * thread pool, which a push shares with gzip — on two cores that made reading most of a large
 * push's CPU time. `size` is the size listed for the file; it only picks the way to read.
 */
export function readWhole(path: string, size = Infinity): Promise<Buffer> {
  if (size > SYNC_READ_MAX) return readAsync(path);
  try {
    return Promise.resolve(readFileSync(path));
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/**
 * Every file's bytes, read with bounded concurrency; files larger than `maxSize` are left
 * unread (undefined) — validation reports them, nothing packages them.
 */
export function readSourceFiles(
  files: SourceFile[],
  maxSize = Infinity,
): Promise<(Buffer | undefined)[]> {
  return mapLimit(files, 32, async (file) =>
    file.size > maxSize ? undefined : readWhole(file.absolutePath, file.size),
  );
}
