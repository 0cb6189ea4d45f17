/**
 * One read of each source file for several readers that go through the files in the same order,
 * each at its own pace — a push's validation and its layer build. A file's bytes are kept only
 * until every reader still running has taken them, and a reader that gets more than `window`
 * files ahead of the slowest one waits for it, so memory stays bounded by the window whatever
 * the two speeds are. Each reader takes each index at most once and calls `finish()` when it
 * takes no more (done, failed or stopped), after which it no longer holds the others back.
 */
import { readWhole, type SourceFile } from "./source-files.js";

export interface SharedReader {
  /** The bytes of `files[index]`. */
  take(index: number): Promise<Buffer>;
  /** This reader takes nothing more; safe to call more than once. */
  finish(): void;
}

/** Files a reader may run ahead of the slowest reader. */
export const SHARED_READ_WINDOW = 64;

interface Entry {
  bytes: Promise<Buffer>;
  /** Bit r set: reader r has taken it. */
  takenBy: number;
}

export function sharedReads(
  files: readonly SourceFile[],
  readers: number,
  options: { window?: number; read?: (file: SourceFile) => Promise<Buffer> } = {},
): SharedReader[] {
  if (readers < 1 || readers > 30) throw new RangeError(`sharedReads: ${readers} readers`);
  const window = options.window ?? SHARED_READ_WINDOW;
  const read = options.read ?? ((file: SourceFile) => readWhole(file.absolutePath, file.size));
  const entries = new Map<number, Entry>();
  /** How many files each reader has taken: its position in the common order. */
  const taken = new Array<number>(readers).fill(0);
  /** Bit r set: reader r still takes files. */
  let active = (1 << readers) - 1;
  let waiting: { reader: number; index: number; go: () => void }[] = [];

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
  /** Drops the entry once every reader still running has taken it. */
  const settle = (index: number, entry: Entry): void => {
    if ((entry.takenBy & active) === active) entries.delete(index);
  };

  return taken.map((_, reader) => ({
    async take(index: number): Promise<Buffer> {
      if (heldBack(reader, index))
        await new Promise<void>((go) => waiting.push({ reader, index, go }));
      let entry = entries.get(index);
      if (entry === undefined) {
        const bytes = read(files[index]!);
        bytes.catch(() => undefined); // each reader handles it when awaited
        entry = { bytes, takenBy: 0 };
        entries.set(index, entry);
      }
      entry.takenBy |= 1 << reader;
      settle(index, entry);
      taken[reader]!++;
      wake();
      return entry.bytes;
    },
    finish(): void {
      if ((active & (1 << reader)) === 0) return;
      active &= ~(1 << reader);
      for (const [index, entry] of entries) settle(index, entry);
      wake();
    },
  }));
}
