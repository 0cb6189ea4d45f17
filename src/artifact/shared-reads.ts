/**
 * One read of each source file for several readers that go through the files in the same order,
 * each at its own pace — a push's validation and its layer build. A reader `take`s a file's
 * bytes and `release`s them when it is done with them; the bytes live until every reader still
 * running has released them, and a reader that gets more than `window` files ahead of the
 * slowest one waits for it, so memory stays bounded by the window whatever the two speeds are.
 *
 * Small files are read into reused slots: a new buffer per file (200 MiB of them for a large
 * tree) is garbage outside the JavaScript heap that V8 collects only once tens of MiB have
 * piled up. Each reader takes and releases each index at most once, must not use the bytes after
 * releasing them, and calls `finish()` when it takes no more (done, failed or stopped), which
 * releases what it still holds and stops it holding the others back.
 */
import { readSmallInto, readWhole, SYNC_READ_MAX, type SourceFile } from "./source-files.js";

export interface SharedReader {
  /** The bytes of `files[index]`, valid until this reader releases them. */
  take(index: number): Promise<Buffer>;
  /** This reader no longer uses the bytes of `files[index]`. */
  release(index: number): void;
  /** This reader takes nothing more; safe to call more than once. */
  finish(): void;
}

/** Files a reader may run ahead of the slowest reader. */
export const SHARED_READ_WINDOW = 64;
/**
 * Size of a reusable slot: the files readWhole would read synchronously; files that fill one
 * are read the ordinary way.
 */
export const SLOT_SIZE = SYNC_READ_MAX;

interface Entry {
  bytes: Promise<Buffer>;
  /** The reusable slot holding the bytes, if any. */
  slot?: Buffer;
  /** Bit r set: reader r has taken it. */
  takenBy: number;
  /** Bit r set: reader r has released it. */
  releasedBy: number;
}

export function sharedReads(
  files: readonly SourceFile[],
  readers: number,
  options: { window?: number } = {},
): SharedReader[] {
  if (readers < 1 || readers > 30) throw new RangeError(`sharedReads: ${readers} readers`);
  const window = options.window ?? SHARED_READ_WINDOW;
  const entries = new Map<number, Entry>();
  const freeSlots: Buffer[] = [];
  /** How many files each reader has taken: its position in the common order. */
  const taken = new Array<number>(readers).fill(0);
  /** Bit r set: reader r still takes files. */
  let active = (1 << readers) - 1;
  let waiting: { reader: number; index: number; go: () => void }[] = [];

  const read = (file: SourceFile): Pick<Entry, "bytes" | "slot"> => {
    if (file.size >= SLOT_SIZE) return { bytes: readWhole(file.absolutePath, file.size) };
    const slot = freeSlots.pop() ?? Buffer.allocUnsafe(SLOT_SIZE);
    try {
      const length = readSmallInto(file.absolutePath, slot);
      // A full slot: the file grew since it was listed; read it whole instead.
      if (length === SLOT_SIZE) {
        freeSlots.push(slot);
        return { bytes: readWhole(file.absolutePath) };
      }
      return { bytes: Promise.resolve(slot.subarray(0, length)), slot };
    } catch (error) {
      freeSlots.push(slot);
      return { bytes: Promise.reject(error as Error) };
    }
  };
  const heldBack = (reader: number, index: number): boolean => {
    for (let other = 0; other < readers; other++) {
      if (other !== reader && (active & (1 << other)) !== 0 && taken[other]! < index - window)
        return true;
    }
    return false;
  };
  const wake = (): void => {
    if (waiting.length === 0) return;
    const still: typeof waiting = [];
    for (const w of waiting) {
      if ((active & (1 << w.reader)) !== 0 && heldBack(w.reader, w.index)) still.push(w);
      else w.go();
    }
    waiting = still;
  };
  /** Frees the entry once every reader still running has released it. */
  const settle = (index: number, entry: Entry): void => {
    if ((entry.releasedBy & active) !== active) return;
    entries.delete(index);
    if (entry.slot !== undefined) freeSlots.push(entry.slot);
  };

  return taken.map((_, reader) => ({
    async take(index: number): Promise<Buffer> {
      if (heldBack(reader, index))
        await new Promise<void>((go) => waiting.push({ reader, index, go }));
      let entry = entries.get(index);
      if (entry === undefined) {
        entry = { ...read(files[index]!), takenBy: 0, releasedBy: 0 };
        entry.bytes.catch(() => undefined); // each reader handles it when awaited
        entries.set(index, entry);
      }
      entry.takenBy |= 1 << reader;
      taken[reader]!++;
      wake();
      return entry.bytes;
    },
    release(index: number): void {
      const entry = entries.get(index);
      if (entry === undefined || (entry.takenBy & (1 << reader)) === 0) return;
      entry.releasedBy |= 1 << reader;
      settle(index, entry);
    },
    finish(): void {
      if ((active & (1 << reader)) === 0) return;
      active &= ~(1 << reader);
      for (const [index, entry] of entries) settle(index, entry);
      wake();
    },
  }));
}
