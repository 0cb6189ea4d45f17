/**
 * Reads and extracts an artifact layer (gzip-compressed tar) safely.
 *
 * The whole layer is parsed and checked in memory before anything is written, so a refused layer
 * leaves nothing behind. Rules (stricter than fluxcd/pkg `tar.Untar`, which source-controller
 * runs with symlinks skipped and a 100 MiB cap):
 * - names: absolute paths, drive letters, backslashes, NUL bytes and any `..` segment are refused;
 *   a leading `./` and the root entry `.` (Flux's tar writes one) are accepted;
 * - symlinks and hard links whose target stays inside the layer are skipped and reported (as
 *   source-controller skips symlinks); links whose target is absolute or leaves the layer are
 *   refused;
 * - character/block devices, FIFOs and unknown entry types are refused;
 * - the same path twice is refused (tar would silently overwrite);
 * - total file bytes, decompressed size and entry count are capped (zip-bomb guard).
 * Files are written with 0644 (0755 when the entry has an execute bit), directories 0755, never
 * over an existing file; the destination must be empty or absent.
 */
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, posix, resolve, sep } from "node:path";
import { promisify } from "node:util";
import { gunzip as gunzipCallback } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import { KsailError } from "../errors.js";

const gunzip = promisify(gunzipCallback);

export interface ExtractLimits {
  /** Total bytes of regular files; default 100 MiB (Flux's DefaultMaxUntarSize). */
  maxSize?: number;
  /** Number of tar entries; default 50,000. */
  maxEntries?: number;
}

export const DEFAULT_MAX_EXTRACT_SIZE = 100 * 1024 * 1024;
export const DEFAULT_MAX_ENTRIES = 50_000;

export interface SkippedLink {
  path: string;
  reason: "symlink" | "hardlink";
  target: string;
}

interface ParsedLayer {
  files: Map<string, { content: Buffer; executable: boolean }>;
  directories: Set<string>;
  skipped: SkippedLink[];
}

function refuse(message: string): KsailError {
  return new KsailError("validation", message, {
    hint: "The artifact was not built by ksail or Flux, or it was tampered with; nothing was written.",
  });
}

/** Normalises an entry name; undefined for the root entry. Throws on unsafe names. */
function safeEntryPath(name: string): string | undefined {
  if (name.includes("\0"))
    throw refuse(`layer entry ${JSON.stringify(name)} has a NUL byte in its name`);
  if (name.includes("\\")) throw refuse(`layer entry "${name}" has a backslash in its name`);
  if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) {
    throw refuse(`layer entry "${name}" has an absolute path`);
  }
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw refuse(`layer entry "${name}" has a ".." path segment`);
  return segments.length === 0 ? undefined : segments.join("/");
}

/** Whether a link target, resolved from the link's directory (symlink) or the root (hard link), stays inside. */
function linkStaysInside(entryPath: string, target: string, kind: "symlink" | "hardlink"): boolean {
  if (
    target === "" ||
    target.startsWith("/") ||
    target.includes("\\") ||
    /^[a-zA-Z]:/.test(target)
  ) {
    return false;
  }
  const base = kind === "symlink" ? posix.dirname(entryPath) : ".";
  const resolved = posix.normalize(posix.join(base, target));
  return resolved !== ".." && !resolved.startsWith("../");
}

async function decompress(data: Buffer, maxOutput: number): Promise<Buffer> {
  try {
    return await gunzip(data, { maxOutputLength: maxOutput });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || error instanceof RangeError) {
      throw refuse(`layer is larger than ${maxOutput} bytes when decompressed`);
    }
    throw new KsailError("validation", "layer is not valid gzip data", { cause: error });
  }
}

async function parseLayer(data: Buffer, limits: ExtractLimits = {}): Promise<ParsedLayer> {
  const maxSize = limits.maxSize ?? DEFAULT_MAX_EXTRACT_SIZE;
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  // Headers take 512 bytes, PAX records and padding at most a few more blocks per entry.
  const tar = await decompress(data, maxSize + maxEntries * 2048 + 1024 * 1024);

  const parsed: ParsedLayer = { files: new Map(), directories: new Set(), skipped: [] };
  const seen = new Set<string>();
  let entries = 0;
  let total = 0;
  const extractor = tarExtract();
  const consume = (async () => {
    for await (const entry of extractor) {
      const header = entry.header;
      entries++;
      if (entries > maxEntries) throw refuse(`layer has more than ${maxEntries} entries`);
      const path = safeEntryPath(header.name);
      const type = header.type ?? "file";
      if (path === undefined) {
        if (type !== "directory") throw refuse(`layer entry "${header.name}" is not a file name`);
        entry.resume();
        continue;
      }
      if (seen.has(path) && !(type === "directory" && parsed.directories.has(path))) {
        throw refuse(`layer entry "${header.name}" appears more than once`);
      }
      seen.add(path);
      switch (type) {
        case "file":
        case "contiguous-file": {
          const size = header.size ?? 0;
          total += size;
          if (total > maxSize) throw refuse(`layer files add up to more than ${maxSize} bytes`);
          const chunks: Buffer[] = [];
          for await (const chunk of entry) chunks.push(chunk as Buffer);
          const content = Buffer.concat(chunks);
          if (content.length !== size) throw refuse(`layer entry "${header.name}" is truncated`);
          parsed.files.set(path, { content, executable: ((header.mode ?? 0) & 0o111) !== 0 });
          break;
        }
        case "directory":
          parsed.directories.add(path);
          entry.resume();
          break;
        case "symlink":
        case "link": {
          const kind = type === "symlink" ? "symlink" : "hardlink";
          const target = header.linkname ?? "";
          if (!linkStaysInside(path, target, kind)) {
            throw refuse(
              `layer entry "${header.name}" is a ${kind} pointing outside the artifact (${target})`,
            );
          }
          parsed.skipped.push({ path, reason: kind, target });
          entry.resume();
          break;
        }
        default:
          throw refuse(
            `layer entry "${header.name}" is a ${type}, which artifacts may not contain`,
          );
      }
    }
  })();
  extractor.end(tar);
  try {
    await consume;
  } catch (error) {
    extractor.destroy();
    if (error instanceof KsailError) throw error;
    throw new KsailError(
      "validation",
      `layer is not a valid tar archive: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }

  // A file may not sit where a directory is needed (e.g. "a" as a file and "a/b").
  for (const path of parsed.files.keys()) {
    const segments = path.split("/");
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join("/");
      if (parsed.files.has(parent)) {
        throw refuse(`layer entry "${path}" is below "${parent}", which is a file`);
      }
    }
    if (parsed.directories.has(path))
      throw refuse(`layer entry "${path}" is both a file and a directory`);
  }
  return parsed;
}

/** Regular files of a layer, path → content (links and directories left out). */
export async function readLayerFiles(
  data: Buffer,
  limits?: ExtractLimits,
): Promise<Map<string, Buffer>> {
  const parsed = await parseLayer(data, limits);
  const out = new Map<string, Buffer>();
  for (const path of [...parsed.files.keys()].sort())
    out.set(path, parsed.files.get(path)!.content);
  return out;
}

async function ensureEmptyDestination(destination: string): Promise<void> {
  let info;
  try {
    info = await stat(destination);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      await mkdir(destination, { recursive: true, mode: 0o755 });
      return;
    }
    throw error;
  }
  if (!info.isDirectory()) {
    throw new KsailError("conflict", `destination ${destination} exists and is not a directory`, {
      hint: "Choose a new or empty directory.",
    });
  }
  if ((await readdir(destination)).length > 0) {
    throw new KsailError("conflict", `destination ${destination} is not empty`, {
      hint: "Choose a new or empty directory; ksail never overwrites files.",
    });
  }
}

export async function extractLayer(
  data: Buffer,
  destination: string,
  limits?: ExtractLimits,
): Promise<{ files: string[]; skipped: SkippedLink[] }> {
  const parsed = await parseLayer(data, limits);
  const root = resolve(destination);
  await ensureEmptyDestination(root);

  const inside = (path: string): string => {
    const target = join(root, ...path.split("/"));
    if (!target.startsWith(root + sep))
      throw refuse(`layer entry "${path}" resolves outside ${root}`);
    return target;
  };
  for (const dir of [...parsed.directories].sort()) {
    await mkdir(inside(dir), { recursive: true, mode: 0o755 });
  }
  const files = [...parsed.files.keys()].sort();
  const made = new Set<string>();
  for (const path of files) {
    const target = inside(path);
    const parent = dirname(target);
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true, mode: 0o755 });
      made.add(parent);
    }
    const file = parsed.files.get(path)!;
    // "wx": never replace something that is already there.
    await writeFile(target, file.content, { flag: "wx", mode: file.executable ? 0o755 : 0o644 });
  }
  return { files, skipped: parsed.skipped };
}
