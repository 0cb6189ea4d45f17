/**
 * An image's build context as `docker build DIR` sends it: the directory's entries after
 * `.dockerignore` (Docker's pattern rules, not gitignore's: @balena/dockerignore ports moby's
 * matcher), the Dockerfile and `.dockerignore` always included (the engine drops them again
 * when they are ignored, as the Docker CLI relies on), uid/gid 0, symlinks as links.
 *
 * ksail adds one rule of its own: the context's `.git` directory stays out unless
 * `.dockerignore` re-includes it (`!.git`). It changes with every git command, so it would
 * make every content hash — and every `watch` cycle — new.
 *
 * The content hash (`contextHash`) covers each entry's path, type, permission bits, file
 * content and link target, plus the Dockerfile path, the target stage and the build arguments:
 * what decides the image, short of base images pulled by the build. Timestamps are left out.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readFile, readdir, readlink, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import dockerignoreModule from "@balena/dockerignore";
import { pack } from "tar-stream";
import { KsailError } from "../errors.js";

export const DOCKERIGNORE_FILE = ".dockerignore";
export const DEFAULT_DOCKERFILE = "Dockerfile";

export interface ContextEntry {
  /** posix path relative to the context, no leading ./ */
  path: string;
  absolutePath: string;
  type: "file" | "directory" | "symlink";
  /** Permission bits (mode & 0o7777). */
  mode: number;
  size: number;
  mtimeMs: number;
  ino: number;
  linkTarget?: string;
}

export interface BuildContext {
  /** Absolute context directory. */
  directory: string;
  /** The Dockerfile's name inside the tar (what the engine's `dockerfile` parameter names). */
  dockerfile: string;
  /** Entries in byte order of their paths; an outside Dockerfile comes last. */
  entries: ContextEntry[];
  /** The patterns read from .dockerignore (ksail's `.git` rule first). */
  patterns: string[];
}

export interface BuildSettings {
  dockerfile?: string | undefined;
  target?: string | undefined;
  buildArgs?: Record<string, string> | undefined;
}

/** Where an outside Dockerfile goes in the tar (the Docker CLI picks a random name there). */
const OUTSIDE_DOCKERFILE = ".ksail.Dockerfile";

// The package is CommonJS with a `default` export (its own typings say so).
const dockerignore = dockerignoreModule.default;

function posixPath(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

/**
 * The patterns of `<context>/.dockerignore` (comments and blank lines dropped, as Docker reads
 * them), after ksail's `.git` rule.
 */
export async function readDockerignore(directory: string): Promise<string[]> {
  let text = "";
  try {
    text = await readFile(join(directory, DOCKERIGNORE_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const patterns = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  return [".git", ...patterns];
}

/** Lists the context of `directory` with `settings.dockerfile` (relative to the context). */
export async function listBuildContext(
  directory: string,
  settings: Pick<BuildSettings, "dockerfile"> = {},
): Promise<BuildContext> {
  const root = resolve(directory);
  const rootStat = await stat(root).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  });
  if (rootStat === undefined || !rootStat.isDirectory()) {
    throw new KsailError(
      "not-found",
      `build context ${root} ${rootStat ? "is not a directory" : "does not exist"}`,
      { hint: "Fix `context` of this image in spec.images (relative to ksail.yaml)." },
    );
  }
  const dockerfileGiven = settings.dockerfile ?? DEFAULT_DOCKERFILE;
  const dockerfileAbs = resolve(root, dockerfileGiven);
  const dockerfileStat = await stat(dockerfileAbs).catch(() => undefined);
  if (dockerfileStat === undefined || !dockerfileStat.isFile()) {
    throw new KsailError("not-found", `Dockerfile ${dockerfileAbs} does not exist`, {
      hint: "Add it, or set `dockerfile` of this image in spec.images (relative to its context).",
    });
  }
  const insideRel = relative(root, dockerfileAbs);
  const inside = insideRel !== "" && !insideRel.startsWith("..") && !isAbsolute(insideRel);
  const dockerfilePath = inside ? posixPath(insideRel) : OUTSIDE_DOCKERFILE;

  const patterns = await readDockerignore(root);
  // The Docker CLI keeps the Dockerfile and .dockerignore in the context even when ignored
  // (the engine reads them, then leaves them out of COPY . when they are ignored).
  const keep = new Set([DOCKERIGNORE_FILE, ...(inside ? [dockerfilePath] : [])]);
  const matcher = dockerignore().add(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith("!"));
  const entries: ContextEntry[] = [];

  async function walk(dirAbs: string, dirRel: string): Promise<void> {
    const names = (await readdir(dirAbs)).sort();
    for (const name of names) {
      const rel = dirRel === "" ? name : `${dirRel}/${name}`;
      const abs = join(dirAbs, name);
      const info = await lstat(abs);
      const ignored = !keep.has(rel) && matcher.ignores(rel);
      if (info.isDirectory()) {
        // An ignored directory is still walked when an exception (`!pattern`) may re-include
        // something below it, as Docker's archive walker does.
        if (!ignored) entries.push(entryOf(rel, abs, info, "directory"));
        if (!ignored || hasExceptions) await walk(abs, rel);
        continue;
      }
      if (ignored) continue;
      if (info.isSymbolicLink()) {
        entries.push({ ...entryOf(rel, abs, info, "symlink"), linkTarget: await readlink(abs) });
      } else if (info.isFile()) {
        entries.push(entryOf(rel, abs, info, "file"));
      }
      // Sockets, FIFOs and devices are left out, as Docker's archiver skips sockets; a FIFO
      // would block the read.
    }
  }
  await walk(root, "");
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  if (!inside) {
    entries.push(entryOf(OUTSIDE_DOCKERFILE, dockerfileAbs, dockerfileStat, "file"));
  }
  return { directory: root, dockerfile: dockerfilePath, entries, patterns };
}

function entryOf(
  path: string,
  absolutePath: string,
  info: { mode: number; size: number; mtimeMs: number; ino: number },
  type: ContextEntry["type"],
): ContextEntry {
  return {
    path,
    absolutePath,
    type,
    mode: info.mode & 0o7777,
    size: type === "file" ? info.size : 0,
    mtimeMs: info.mtimeMs,
    ino: info.ino,
  };
}

/**
 * sha256 of file contents by (path, size, mtime, inode): `watch` hashes the same contexts again
 * and again; an unchanged file is not read twice.
 */
export class FileDigestCache {
  private readonly digests = new Map<string, string>();

  key(entry: ContextEntry): string {
    return `${entry.absolutePath}\0${entry.size}\0${entry.mtimeMs}\0${entry.ino}`;
  }

  get(entry: ContextEntry): string | undefined {
    return this.digests.get(this.key(entry));
  }

  set(entry: ContextEntry, digest: string): void {
    this.digests.set(this.key(entry), digest);
  }
}

async function fileDigest(entry: ContextEntry, cache?: FileDigestCache): Promise<string> {
  const known = cache?.get(entry);
  if (known !== undefined) return known;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(entry.absolutePath)) hash.update(chunk as Buffer);
  const digest = hash.digest("hex");
  cache?.set(entry, digest);
  return digest;
}

/** One line of the hashed listing; a file's line carries the sha256 of its content. */
function entryLine(entry: ContextEntry, contentDigest: string): string {
  const mode = entry.mode.toString(8).padStart(4, "0");
  if (entry.type === "file") return `file ${mode} ${contentDigest} ${entry.path}`;
  if (entry.type === "symlink") return `link ${mode} ${entry.path} -> ${entry.linkTarget}`;
  return `dir ${mode} ${entry.path}`;
}

function settingsLine(context: BuildContext, settings: BuildSettings): string {
  const args = Object.entries(settings.buildArgs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify({ dockerfile: context.dockerfile, target: settings.target ?? "", args });
}

function finish(lines: string[], context: BuildContext, settings: BuildSettings): string {
  const hash = createHash("sha256");
  hash.update(`ksail-image-context-v1\n${settingsLine(context, settings)}\n`);
  for (const line of lines) hash.update(`${line}\n`);
  return hash.digest("hex");
}

/** The content hash of a context (hex sha256), reading each file once (or not, with a cache). */
export async function contextHash(
  context: BuildContext,
  settings: BuildSettings,
  cache?: FileDigestCache,
): Promise<string> {
  const lines: string[] = [];
  for (const entry of context.entries) {
    lines.push(entryLine(entry, entry.type === "file" ? await fileDigest(entry, cache) : ""));
  }
  return finish(lines, context, settings);
}

/**
 * The context as a tar stream for the engine, and the content hash of exactly the bytes that
 * went into it (`hash` resolves when the stream has ended). A file that changed size since the
 * listing fails the stream. `signal` stops it.
 */
export function packBuildContext(
  context: BuildContext,
  settings: BuildSettings,
  options: { signal?: AbortSignal; cache?: FileDigestCache } = {},
): { stream: Readable; hash: Promise<string> } {
  const tar = pack();
  const hash = (async () => {
    const lines: string[] = [];
    for (const entry of context.entries) {
      options.signal?.throwIfAborted();
      const header = {
        name: entry.type === "directory" ? `${entry.path}/` : entry.path,
        mode: entry.mode,
        uid: 0,
        gid: 0,
        mtime: new Date(Math.floor(entry.mtimeMs / 1000) * 1000),
      };
      if (entry.type === "directory") {
        await addEntry(tar, { ...header, type: "directory" });
        lines.push(entryLine(entry, ""));
      } else if (entry.type === "symlink") {
        await addEntry(tar, { ...header, type: "symlink", linkname: entry.linkTarget ?? "" });
        lines.push(entryLine(entry, ""));
      } else {
        const digest = await addFile(tar, entry, header);
        options.cache?.set(entry, digest);
        lines.push(entryLine(entry, digest));
      }
    }
    tar.finalize();
    return finish(lines, context, settings);
  })();
  hash.catch((error: unknown) => tar.destroy(error as Error));
  return { stream: tar as unknown as Readable, hash };
}

type TarPack = ReturnType<typeof pack>;

function addEntry(tar: TarPack, header: Parameters<TarPack["entry"]>[0]): Promise<void> {
  return new Promise((done, fail) => {
    tar.entry(header, (error) => (error ? fail(error) : done()));
  });
}

/** Streams one file into the tar and returns the sha256 of the bytes written. */
async function addFile(
  tar: TarPack,
  entry: ContextEntry,
  header: { name: string; mode: number; uid: number; gid: number; mtime: Date },
): Promise<string> {
  const hash = createHash("sha256");
  let written = 0;
  await new Promise<void>((done, fail) => {
    const sink = tar.entry({ ...header, type: "file", size: entry.size }, (error) =>
      error ? fail(changed(entry, error)) : done(),
    );
    const source = createReadStream(entry.absolutePath);
    source.on("error", (error) => {
      sink.destroy(error);
      fail(error);
    });
    source.on("data", (chunk) => {
      const buffer = chunk as Buffer;
      written += buffer.length;
      if (written > entry.size) {
        source.destroy();
        fail(changed(entry));
        return;
      }
      hash.update(buffer);
      if (!sink.write(buffer)) {
        source.pause();
        sink.once("drain", () => source.resume());
      }
    });
    source.on("end", () => {
      if (written !== entry.size) fail(changed(entry));
      else sink.end(Buffer.alloc(0));
    });
  });
  return hash.digest("hex");
}

function changed(entry: ContextEntry, cause?: unknown): KsailError {
  return new KsailError("failed", `${entry.absolutePath} changed while it was being sent`, {
    hint: "Build again once the file is saved.",
    ...(cause === undefined ? {} : { cause }),
  });
}
