/**
 * Builds the artifact's single content layer: a reproducible gzip-compressed tar of the source
 * files, in the shape fluxcd/pkg `tar.Tar` writes (directory entries before their contents,
 * regular files, no symlinks, uid/gid 0, empty user/group names, zero timestamps).
 *
 * The tar headers are encoded here (POSIX USTAR, PAX `path` record only for names USTAR cannot
 * hold) rather than by a library, so a dependency update can never change the bytes.
 *
 * Reproducibility: entries are in `SourceFile` order (byte-sorted paths), each directory entry is
 * written once right before the first file below it, every mtime is 0 (1970-01-01), modes are
 * normalised (0644 files, 0755 executables and directories), names longer than USTAR allows use a
 * PAX header with fixed content. The gzip header has no name, mtime 0 and OS byte 255 ("unknown",
 * as Go's compress/gzip writes), so the layer digest does not depend on the machine, the
 * filesystem's timestamps, permissions, umask or creation order. The deflate stream itself comes
 * from Node's bundled zlib at level 6 (Go's default): the same Node zlib build (every Node 20–25
 * release ships 1.3.1-e00f703) gives the same bytes; the uncompressed tar (`diffId`) is stable
 * everywhere.
 */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip, constants as zlibConstants } from "node:zlib";
import { KsailError } from "../errors.js";
import type { SharedReader } from "./shared-reads.js";
import { readWhole, type SourceFile } from "./source-files.js";
import { makeTemporaryDirectory } from "./temporary.js";

export interface Layer {
  /** gzip-compressed tar, as pushed. */
  data: Buffer;
  /** sha256 of `data`, "sha256:<hex>". */
  digest: string;
  /** byte length of `data`. */
  size: number;
  /** byte length of the uncompressed tar. */
  uncompressedSize: number;
  /** number of regular files in the tar (directory entries not counted). */
  fileCount: number;
  /** sha256 of the uncompressed tar ("diff ID" in OCI image terms). */
  diffId: string;
}

export const FILE_MODE = 0o644;
export const EXECUTABLE_MODE = 0o755;
export const DIRECTORY_MODE = 0o755;
/** Go's gzip.DefaultCompression. */
export const GZIP_LEVEL = 6;
/** Files read at the same time while building. */
const READ_CONCURRENCY = 32;
/**
 * Tar bytes per gzip member. A layer larger than this is a multi-member gzip stream
 * (RFC 1952 §2.2), which Go's gzip reader (source-controller, containerd), GNU gzip and Node
 * read as one stream; its members are compressed in parallel. Smaller layers are one member.
 */
export const GZIP_SEGMENT = 4 * 1024 * 1024;
/**
 * Segments compressed at once: one core is left to the main thread, which validates the same
 * files meanwhile (a push) — on 2 cores one segment is in flight, which holds a 4 MiB segment and
 * its output less than two did (200 MiB tree on a busy 2-core machine: 172–190 MiB peak RSS
 * against 184–220, CPU time unchanged).
 */
const COMPRESS_CONCURRENCY = Math.max(1, Math.min(4, availableParallelism() - 1));
const GZIP_OPTIONS = {
  // Output buffer size only (fewer pieces to join); the deflate stream does not depend on it.
  chunkSize: 256 * 1024,
  level: GZIP_LEVEL,
  memLevel: 8,
  windowBits: 15,
  strategy: zlibConstants.Z_DEFAULT_STRATEGY,
};
const gzipAsync = promisify(gzip);
/** Offset of the OS byte in a gzip member header (RFC 1952). */
const GZIP_OS_OFFSET = 9;
const GZIP_OS_UNKNOWN = 0xff;

export function sha256Digest(data: Buffer | Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** Largest size an 11-digit octal USTAR field holds. */
const MAX_USTAR_SIZE = 0o77777777777;

function writeOctal(header: Buffer, offset: number, width: number, value: number): void {
  // width includes the terminating NUL, as Go's archive/tar and GNU tar write it.
  header.write(value.toString(8).padStart(width - 1, "0"), offset, width - 1, "ascii");
  header[offset + width - 1] = 0;
}

function isAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/** Splits a long name into USTAR prefix + name, or undefined when it does not fit. */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return { prefix: "", name };
  // The prefix ends at a "/" (not included); the rest must fit in 100 bytes.
  for (let i = name.indexOf("/"); i !== -1 && i <= 155; i = name.indexOf("/", i + 1)) {
    const rest = name.slice(i + 1);
    if (rest.length > 0 && rest.length <= 100) return { prefix: name.slice(0, i), name: rest };
  }
  return undefined;
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  typeflag: string;
}

function ustarHeader(fields: HeaderFields): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(fields.name, 0, 100, "utf8");
  writeOctal(header, 100, 8, fields.mode);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, fields.size);
  writeOctal(header, 136, 12, 0); // mtime: 1970-01-01T00:00:00Z
  header.fill(0x20, 148, 156); // checksum is computed with this field as spaces
  header.write(fields.typeflag, 156, 1, "ascii");
  header.write("ustar\0", 257, 6, "ascii");
  header.write("00", 263, 2, "ascii");
  // uname (265) and gname (297) stay empty; devmajor/devminor as zero octal fields.
  writeOctal(header, 329, 8, 0);
  writeOctal(header, 337, 8, 0);
  header.write(fields.prefix, 345, 155, "ascii");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0"), 148, 6, "ascii");
  header[154] = 0;
  header[155] = 0x20;
  return header;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : ZERO_BLOCK.subarray(0, BLOCK - rest);
}

/** One PAX record "<len> path=<value>\n", where <len> counts the whole record. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body, "utf8");
  let length = bodyLength + 1;
  while (String(length).length + bodyLength > length) length++;
  return Buffer.from(`${String(length)}${body}`, "utf8");
}

/** Header blocks (PAX extended header first when the name does not fit USTAR) for one entry. */
export function entryHeader(
  path: string,
  typeflag: "0" | "5",
  mode: number,
  size: number,
): Buffer[] {
  if (size > MAX_USTAR_SIZE) {
    throw new KsailError("validation", `${path} is too large for an artifact (${size} bytes)`);
  }
  const split = splitUstarName(path);
  if (split !== undefined) return [ustarHeader({ ...split, mode, size, typeflag })];
  const records = paxRecord("path", path);
  // Fixed, ASCII-only stand-in names keep the bytes identical everywhere.
  const fallback = path.replace(/[^\x20-\x7e]/g, "_").slice(-100);
  return [
    ustarHeader({
      name: "././@PaxHeader",
      prefix: "",
      mode: 0o644,
      size: records.length,
      typeflag: "x",
    }),
    records,
    padding(records.length),
    ustarHeader({ name: fallback, prefix: "", mode, size, typeflag }),
  ];
}

/** What packing the files produced, besides the compressed bytes themselves. */
interface Packed {
  uncompressedSize: number;
  fileCount: number;
  diffId: string;
}

export interface PackOptions {
  /** `contents[i]`, when given, is the bytes of `files[i]` (read once by the caller); others are read here. */
  contents?: (Buffer | undefined)[];
  /** Where the files' bytes come from (default: read here); each is released once in the tar. */
  source?: Pick<SharedReader, "take" | "release">;
  /** Stops reading and compressing (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * The layer as an ordered series of gzip members handed to `emit` (each one complete, its OS
 * byte set), holding at most COMPRESS_CONCURRENCY + 1 segments and READ_CONCURRENCY files in
 * memory. Both buildLayer and writeLayerFile use this, so they give the same bytes.
 */
async function packLayer(
  files: SourceFile[],
  emit: (member: Buffer) => Promise<void> | void,
  options: PackOptions = {},
): Promise<Packed> {
  const contents = options.contents ?? [];
  const { signal, source } = options;
  const read = (index: number): Promise<Buffer> =>
    source?.take(index) ?? readWhole(files[index]!.absolutePath, files[index]!.size);
  const tarHash = createHash("sha256");
  let tarSize = 0;
  // The tar stream is cut every GZIP_SEGMENT bytes; each segment becomes one gzip member,
  // compressed on the thread pool while later files are read. Cut points depend only on the
  // byte count, so the result does not depend on timing or on the number of cores.
  const members: Promise<Buffer>[] = [];
  let emitted = 0;
  // Segments are copied into a few reused buffers (the deflate input must stay put until its
  // member is done): allocating a fresh 4 MiB buffer per segment left hundreds of MiB of garbage
  // outside the JavaScript heap for the collector to find late.
  const spare: Buffer[] = [];
  let segment: Buffer = Buffer.allocUnsafe(GZIP_SEGMENT);
  let segmentSize = 0;
  const emitNext = async (): Promise<void> => {
    const member = await members[emitted]!;
    members[emitted++] = EMPTY_MEMBER;
    // Node writes no name, no comment and mtime 0; only the OS byte depends on the platform.
    member[GZIP_OS_OFFSET] = GZIP_OS_UNKNOWN;
    await emit(member);
  };
  const compressSegment = async (): Promise<void> => {
    const buffer = segment;
    const member = gzipAsync(buffer.subarray(0, segmentSize), GZIP_OPTIONS);
    segment = spare.pop() ?? Buffer.allocUnsafe(GZIP_SEGMENT);
    segmentSize = 0;
    member.then(
      () => spare.push(buffer),
      () => undefined, // awaited below
    );
    members.push(member);
    // Bound the work in flight (and the memory it holds) to the cores that can do it.
    while (members.length - emitted > COMPRESS_CONCURRENCY) await emitNext();
  };
  const write = async (chunks: Buffer[]): Promise<void> => {
    for (let chunk of chunks) {
      if (chunk.length === 0) continue;
      tarHash.update(chunk);
      tarSize += chunk.length;
      while (segmentSize + chunk.length >= GZIP_SEGMENT) {
        const take = GZIP_SEGMENT - segmentSize;
        chunk.copy(segment, segmentSize, 0, take);
        segmentSize += take;
        chunk = chunk.subarray(take);
        await compressSegment();
      }
      if (chunk.length > 0) {
        chunk.copy(segment, segmentSize);
        segmentSize += chunk.length;
      }
    }
  };

  // Read ahead a bounded number of files while earlier ones are written and compressed.
  const reads: Promise<Buffer>[] = [];
  const startRead = (index: number): void => {
    if (index < files.length) {
      const known = contents[index];
      const bytes = known ? Promise.resolve(known) : read(index);
      bytes.catch(() => undefined); // handled when awaited below
      reads[index] = bytes;
    }
  };
  for (let i = 0; i < Math.min(READ_CONCURRENCY, files.length); i++) startRead(i);

  try {
    const writtenDirs = new Set<string>();
    for (let i = 0; i < files.length; i++) {
      signal?.throwIfAborted();
      const file = files[i]!;
      const segments = file.path.split("/");
      for (let depth = 1; depth < segments.length; depth++) {
        const dir = segments.slice(0, depth).join("/");
        if (writtenDirs.has(dir)) continue;
        writtenDirs.add(dir);
        await write(entryHeader(`${dir}/`, "5", DIRECTORY_MODE, 0));
      }
      const content = await reads[i]!;
      reads[i] = Promise.resolve(EMPTY); // let the content be collected
      startRead(i + READ_CONCURRENCY);
      const mode = file.executable ? EXECUTABLE_MODE : FILE_MODE;
      await write([
        ...entryHeader(file.path, "0", mode, content.length),
        content,
        padding(content.length),
      ]);
      source?.release(i); // copied into the segment
    }
    await write([ZERO_BLOCK, ZERO_BLOCK]);
    if (segmentSize > 0) await compressSegment();
    while (emitted < members.length) await emitNext();
  } catch (error) {
    await Promise.allSettled([...members, ...reads]);
    throw error;
  }
  return {
    uncompressedSize: tarSize,
    fileCount: files.length,
    diffId: `sha256:${tarHash.digest("hex")}`,
  };
}

const EMPTY = Buffer.alloc(0);
const EMPTY_MEMBER = Promise.resolve(EMPTY);

/** The whole layer in memory; for small inputs and tests (a push streams it: writeLayerFile). */
export async function buildLayer(
  files: SourceFile[],
  contents: (Buffer | undefined)[] = [],
): Promise<Layer> {
  const compressed: Buffer[] = [];
  const packed = await packLayer(files, (member) => void compressed.push(member), { contents });
  const data = compressed.length === 1 ? compressed[0]! : Buffer.concat(compressed);
  return { data, digest: sha256Digest(data), size: data.length, ...packed };
}

/** A layer written to a file: same bytes as buildLayer's, never all in memory. */
export interface LayerFile extends Omit<Layer, "data"> {
  /** The compressed layer on disk (in a private temporary directory). */
  path: string;
  /** Deletes the file and its directory; safe to call more than once. */
  remove(): Promise<void>;
}

/**
 * Streams tar → gzip → sha256 into a file in a new private directory under `directory`
 * (default: ksail's `<cache>/tmp`, see temporary.ts). The file is removed when packing fails, by
 * `remove()`, and — as far as the process gets to run any code — when the process exits or is
 * stopped by SIGINT/SIGTERM/SIGHUP; after a SIGKILL, by the next push's sweep.
 */
export async function writeLayerFile(
  files: SourceFile[],
  options: Omit<PackOptions, "contents"> & { directory?: string } = {},
): Promise<LayerFile> {
  const { dir, remove: removal } = await makeTemporaryDirectory("ksail-layer-", options.directory);
  const path = join(dir, "layer.tar.gz");
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "wx", 0o600);
    const out = handle;
    const hash = createHash("sha256");
    let size = 0;
    const packed = await packLayer(
      files,
      async (member) => {
        hash.update(member);
        size += member.length;
        let written = 0;
        while (written < member.length) {
          const { bytesWritten } = await out.write(member, written);
          written += bytesWritten;
        }
      },
      options,
    );
    await handle.close();
    handle = undefined;
    return { path, digest: `sha256:${hash.digest("hex")}`, size, ...packed, remove: removal };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await removal();
    throw error;
  }
}
