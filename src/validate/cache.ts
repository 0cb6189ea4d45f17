/**
 * A memo of the fast path's result per file content (sha256 of the bytes), kept on disk, so
 * pushing a mostly unchanged directory again parses only the files that changed. Only files that
 * passed every per-file check are remembered; cross-file rules (duplicates, kustomization
 * paths) run on every push with the remembered identities.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FastObject } from "./fast-objects.js";

/** Bump when fastObjects (or a per-file check) changes what it accepts or returns. */
const FORMAT = "ksail-validate-1";
/** Entries kept at most; the oldest go first. */
const MAX_ENTRIES = 50_000;

export interface ValidationCache {
  get(digest: string): FastObject[] | undefined;
  set(digest: string, objects: FastObject[]): void;
  /** Writes new entries, if any; never fails the caller (a cache is optional). */
  save(): Promise<void>;
}

export const noValidationCache: ValidationCache = {
  get: () => undefined,
  set: () => {},
  save: async () => {},
};

export function validationCachePath(cacheDir: string): string {
  return join(cacheDir, "validate.json");
}

export async function openValidationCache(path: string): Promise<ValidationCache> {
  let entries = new Map<string, FastObject[]>();
  try {
    const stored = JSON.parse(await readFile(path, "utf8")) as {
      format?: string;
      entries?: Record<string, FastObject[]>;
    };
    if (stored.format === FORMAT && stored.entries)
      entries = new Map(Object.entries(stored.entries));
  } catch {
    // missing or unreadable: start empty
  }
  let changed = false;
  return {
    get: (digest) => entries.get(digest),
    set: (digest, objects) => {
      if (entries.has(digest)) return;
      entries.set(digest, objects);
      changed = true;
    },
    save: async () => {
      if (!changed) return;
      const kept = [...entries].slice(-MAX_ENTRIES);
      const temporary = `${path}.${randomBytes(4).toString("hex")}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(
          temporary,
          JSON.stringify({ format: FORMAT, entries: Object.fromEntries(kept) }),
        );
        await rename(temporary, path);
        changed = false;
      } catch {
        // a read-only or full cache directory only costs speed
      }
    },
  };
}
