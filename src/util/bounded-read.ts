/**
 * Reading a file the user names (ksail.yaml, key files): a regular file only, up to a size cap,
 * and never blocking. The file is opened non-blocking and checked on the open handle, so a FIFO,
 * a device (/dev/zero, /dev/urandom), a socket or a directory is refused at once — without
 * waiting for a writer or reading a byte — with an error that names the file (exit 8).
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { KsailError } from "../errors.js";

export interface BoundedReadOptions {
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** How messages name the file, e.g. "config file" or "key file". */
  what: string;
  /** What to do instead, for the hint of a file that is not regular or too big. */
  hint: string;
}

// O_NONBLOCK: opening a FIFO does not wait for a writer (the regular-file check then refuses it);
// for regular files it changes nothing. O_NOCTTY: a terminal device never becomes ours.
const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * The bytes of `path`, at most `maxBytes`. A missing file rejects with the ENOENT error itself
 * (callers decide what a missing file means); everything else with a KsailError naming the file.
 */
export async function readBoundedFile(path: string, options: BoundedReadOptions): Promise<Buffer> {
  const { maxBytes, what, hint } = options;
  let handle;
  try {
    handle = await open(path, FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw error;
    throw new KsailError("config", `cannot read ${what} ${path}: ${code ?? String(error)}`, {
      hint: "Check the path and its permissions.",
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new KsailError("config", `${what} ${path} is ${describeType(stat)}, not a file`, {
        hint,
      });
    }
    if (stat.size > maxBytes) throw tooBig(path, options, `${stat.size} bytes`);
    // Read at most one byte more than allowed: a file that grows meanwhile is still bounded.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, Math.max(stat.size + 1, 4096)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) break;
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw tooBig(path, options, `more than ${maxBytes} bytes`);
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof KsailError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new KsailError("config", `cannot read ${what} ${path}: ${code ?? String(error)}`, {
      hint: "Check the path and its permissions.",
    });
  } finally {
    await handle.close();
  }
}

function tooBig(path: string, options: BoundedReadOptions, size: string): KsailError {
  return new KsailError(
    "config",
    `${options.what} ${path} is ${size}; ksail reads at most ${formatLimit(options.maxBytes)}`,
    { hint: options.hint },
  );
}

function formatLimit(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function describeType(stat: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a named pipe (FIFO)";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  return "a special file";
}
