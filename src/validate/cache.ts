/**
 * A memo of the fast path's result per file content (sha256 of the bytes), kept on disk, so
 * pushing a mostly unchanged directory again parses only the files that changed. Only files that
 * passed every per-file check are remembered; cross-file rules (duplicates, kustomization
 * paths) run on every push with the remembered identities.
 *
 * Scoped per source root: one file per root under the cache directory, named by a hash of the
 * root's absolute path, so a push reads only its own project's entries however many other
 * projects this machine pushes. On save the file keeps just the entries this run used (the
 * current tree's files) and is written only when that set changed.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { FastObject } from "./fast-objects.js";

/** Bump when fastObjects (or a per-file check) changes what it accepts or returns. */
const FORMAT = "ksail-validate-2";
/** Entries kept at most per source root. */
const MAX_ENTRIES = 50_000;
/** Characters of JSON written at a time. */
const WRITE_CHUNK = 256 * 1024;

export interface ValidationCache {
  /** Loads the entries of one source root; validateSource calls it before get/set. */
  scope(root: string): Promise<void>;
  get(digest: string): FastObject[] | undefined;
  set(digest: string, objects: FastObject[]): void;
  /** Writes the scope's entries if they changed; never fails the caller (a cache is optional). */
  save(): Promise<void>;
}

export const noValidationCache: ValidationCache = {
  scope: async () => {},
  get: () => undefined,
  set: () => {},
  save: async () => {},
};

/** The directory that holds one cache file per source root. */
export function validationCachePath(cacheDir: string): string {
  return join(cacheDir, "validate");
}

/** The cache file of one source root inside `dir`. */
export function validationCacheFile(dir: string, root: string): string {
  const key = createHash("sha256").update(resolve(root)).digest("hex").slice(0, 32);
  return join(dir, `${key}.json`);
}

async function load(file: string): Promise<Map<string, FastObject[]>> {
  try {
    const stored = JSON.parse(await readFile(file, "utf8")) as {
      format?: string;
      entries?: Record<string, FastObject[]>;
    };
    if (stored.format === FORMAT && stored.entries) return new Map(Object.entries(stored.entries));
  } catch {
    // missing or unreadable: start empty
  }
  return new Map();
}

/**
 * Writes the newest MAX_ENTRIES of `entries` as one JSON object, a few hundred entries per write:
 * a tree of 20,000 manifests never has its whole cache as one string in memory.
 */
async function writeEntries(path: string, entries: Map<string, FastObject[]>): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  try {
    let skip = Math.max(0, entries.size - MAX_ENTRIES);
    let chunk = `{"format":${JSON.stringify(FORMAT)},"entries":{`;
    let first = true;
    for (const [digest, objects] of entries) {
      if (skip > 0) {
        skip--;
        continue;
      }
      chunk += `${first ? "" : ","}${JSON.stringify(digest)}:${JSON.stringify(objects)}`;
      first = false;
      if (chunk.length >= WRITE_CHUNK) {
        await handle.writeFile(chunk);
        chunk = "";
      }
    }
    await handle.writeFile(`${chunk}}}`);
  } finally {
    await handle.close();
  }
}

/** A cache in directory `dir`; nothing is read until `scope(root)`. */
export async function openValidationCache(dir: string): Promise<ValidationCache> {
  let file: string | undefined;
  let stored = new Map<string, FastObject[]>();
  /** Entries this run looked up or added: what the next run of this tree needs. */
  let used = new Map<string, FastObject[]>();
  let added = false;
  return {
    scope: async (root) => {
      const next = validationCacheFile(dir, root);
      if (next === file) return;
      file = next;
      stored = await load(file);
      used = new Map();
      added = false;
    },
    get: (digest) => {
      const found = stored.get(digest) ?? used.get(digest);
      if (found !== undefined) used.set(digest, found);
      return found;
    },
    set: (digest, objects) => {
      if (used.has(digest)) return;
      used.set(digest, objects);
      if (!stored.has(digest)) added = true;
    },
    save: async () => {
      if (file === undefined) return;
      // Unchanged: nothing new and nothing to prune.
      if (!added && used.size === stored.size) return;
      const temporary = `${file}.${randomBytes(4).toString("hex")}`;
      try {
        await mkdir(dir, { recursive: true });
        await writeEntries(temporary, used);
        await rename(temporary, file);
        stored = new Map(used);
        added = false;
      } catch {
        await rm(temporary, { force: true }).catch(() => undefined);
        // a read-only or full cache directory only costs speed
      }
    },
  };
}
