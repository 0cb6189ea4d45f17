/**
 * Read-only maintenance mode of the local registry container, for garbage collection.
 *
 * `registry garbage-collect` deletes every blob no manifest names at the moment it looks. Blobs
 * that a push is uploading right then are not named yet, and a manifest put while the collector
 * sweeps can name blobs it already removed: a tag on missing content. Distribution's answer is
 * `storage.maintenance.readonly`: while it is on, every write gets 405 and reads keep working.
 *
 * A container's environment cannot change, so ksail edits the config file inside the container
 * (Docker's archive API, no shell needed) and restarts it: the id, volume, port, labels and
 * network attachments stay as they are. The read-write config is saved next to it first, and
 * the read-only one starts with a marker line, so a run that dies in the middle is repaired by
 * the next `ksail registry start`, `ksail up` or prune (restoreReadWrite).
 */
import { dirname, join, posix } from "node:path";
import type { Readable } from "node:stream";
import { extract, pack } from "tar-stream";
import { parseDocument } from "yaml";
import { statusCodeOf, type Engine } from "../engine/docker.js";
import { KsailError } from "../errors.js";
import { withFileLock } from "../util/file-lock.js";
import { REGISTRY_CONFIG_PATH } from "./image-paths.js";

/** First line of the config while ksail holds the registry read-only. */
export const READ_ONLY_MARKER =
  "# ksail: read-only maintenance mode for garbage collection; ksail restores the read-write config";
/** Where the read-write config waits while the read-only one is in place. */
export const SAVED_CONFIG_PATH = `${REGISTRY_CONFIG_PATH}.ksail-read-write`;

const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Runs `run` while holding this machine's maintenance lock of registry `container`: one garbage
 * collection at a time, and a repair of the read-only mode never in the middle of one. A lock
 * whose process is gone is taken over. The lock file lives in `cacheDir`, ksail's cache
 * directory (Runtime.cacheDir), so every ksail of this user finds the same one.
 */
export function withMaintenanceLock<T>(
  container: string,
  run: () => Promise<T>,
  options: { cacheDir: string; onWait?: () => void },
): Promise<T> {
  const path = join(options.cacheDir, "locks", `registry-maintenance-${container}.lock`);
  return withFileLock(path, run, {
    timeoutMs: 10 * 60_000,
    ...(options.onWait ? { onWait: options.onWait } : {}),
  });
}

/** The registry's config with `storage.maintenance.readonly.enabled: true` and the marker. */
export function readOnlyConfig(original: string): string {
  const document = parseDocument(original);
  if (document.errors.length > 0 || !document.contents) {
    throw new KsailError(
      "failed",
      `the registry config ${REGISTRY_CONFIG_PATH} is not valid YAML, so ksail cannot switch it to read-only for garbage collection`,
      { details: document.errors.map((e) => e.message) },
    );
  }
  document.setIn(["storage", "maintenance", "readonly", "enabled"], true);
  return `${READ_ONLY_MARKER}\n${document.toString()}`;
}

export function isReadOnlyConfig(text: string | undefined): boolean {
  return text?.startsWith(READ_ONLY_MARKER) ?? false;
}

/** Reads one small file out of a container; undefined when it does not exist. */
export async function readContainerFile(
  engine: Engine,
  container: string,
  path: string,
): Promise<string | undefined> {
  let archive: Readable;
  try {
    archive = (await engine.docker
      .getContainer(container)
      .getArchive({ path })) as unknown as Readable;
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    return engine.call(`read ${path} in container ${container}`, () => Promise.reject(error));
  }
  return new Promise<string | undefined>((resolve, reject) => {
    const tar = extract();
    let text: string | undefined;
    tar.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on("data", (data: unknown) => {
        const chunk = data as Buffer;
        size += chunk.length;
        if (size <= MAX_CONFIG_BYTES) chunks.push(chunk);
      });
      stream.on("end", () => {
        if (text === undefined && header.type === "file" && size <= MAX_CONFIG_BYTES)
          text = Buffer.concat(chunks).toString("utf8");
        next();
      });
      stream.on("error", reject);
    });
    tar.on("finish", () => resolve(text));
    tar.on("error", reject);
    archive.on("error", reject);
    archive.pipe(tar);
  });
}

/** Writes one file into a container (running or not), mode 0644, owned by root. */
export async function writeContainerFile(
  engine: Engine,
  container: string,
  path: string,
  text: string,
): Promise<void> {
  const tar = pack();
  tar.entry({ name: posix.basename(path), mode: 0o644, uid: 0, gid: 0 }, text);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  await engine.call(`write ${path} in container ${container}`, () =>
    engine.docker
      .getContainer(container)
      .putArchive(Buffer.concat(chunks), { path: dirname(path) }),
  );
}

/**
 * Puts the read-only config in place (saving the read-write one first). The caller restarts the
 * registry for it to take effect. A leftover read-only config (an earlier run died) is kept and
 * the read-write config saved then stays the one to restore.
 */
export async function writeReadOnlyConfig(engine: Engine, container: string): Promise<void> {
  const current = await readContainerFile(engine, container, REGISTRY_CONFIG_PATH);
  if (current === undefined) {
    throw new KsailError(
      "failed",
      `registry container ${container} has no ${REGISTRY_CONFIG_PATH}, so ksail cannot make it read-only for garbage collection`,
      { hint: "Use a distribution registry image (registry:3) for the local registry." },
    );
  }
  if (isReadOnlyConfig(current)) return;
  await writeContainerFile(engine, container, SAVED_CONFIG_PATH, current);
  await writeContainerFile(engine, container, REGISTRY_CONFIG_PATH, readOnlyConfig(current));
}

/**
 * Puts the saved read-write config back when the read-only one is in place. Returns whether it
 * changed anything (then a running registry must be restarted).
 */
export async function writeReadWriteConfig(engine: Engine, container: string): Promise<boolean> {
  const current = await readContainerFile(engine, container, REGISTRY_CONFIG_PATH);
  if (!isReadOnlyConfig(current)) return false;
  const saved = await readContainerFile(engine, container, SAVED_CONFIG_PATH);
  const restored =
    saved !== undefined && !isReadOnlyConfig(saved) ? saved : withoutReadOnly(current as string);
  await writeContainerFile(engine, container, REGISTRY_CONFIG_PATH, restored);
  return true;
}

/** The read-only config minus what ksail added (when the saved copy is lost). */
function withoutReadOnly(text: string): string {
  const document = parseDocument(text.slice(READ_ONLY_MARKER.length + 1));
  document.deleteIn(["storage", "maintenance", "readonly"]);
  return document.toString();
}
