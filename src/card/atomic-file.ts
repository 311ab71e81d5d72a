/**
 * Files that appear whole or not at all. The content is written to a temporary file in the
 * same directory and fsynced first; only then does a link or rename give it its name, so no
 * reader, and no crash, ever finds the name holding part of it.
 */
import { randomBytes } from "node:crypto";
import { link, open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Give `path` the content `data` unless `path` already exists: exactly one of any number of
 * concurrent callers (processes included) wins. Returns whether this call's data was used;
 * on false, `path` holds the winner's data, already whole. Either way the name is durable
 * (the directory is fsynced) when this resolves, so a caller may build on what it then reads.
 */
export async function createOnce(path: string, data: Uint8Array, mode: number): Promise<boolean> {
  const tmp = await writeTemporary(path, data, mode);
  let created: boolean;
  try {
    // link(2), unlike rename(2), fails with EEXIST rather than replace: the first link wins.
    await link(tmp, path);
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    created = false;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
  return created;
}

/**
 * Replace `path` with `data`: a reader, or a crash, finds the old content or all of the new; on
 * failure (a full disk, say) `path` is untouched and the temporary file gone. The new file gets
 * `mode` less the umask, or with `exactMode` `mode` itself (to keep the mode of the file replaced).
 * Chunks (an AsyncIterable) are written as they are read: one that throws is such a failure.
 */
export async function replaceDurably(path: string, data: FileData, mode: number, options: { exactMode?: boolean } = {}): Promise<void> {
  const tmp = await writeTemporary(path, data, mode, options.exactMode === true);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDirectory(dirname(path));
}

/** What a file is written from: its content, or its chunks as they are read. */
export type FileData = Uint8Array | string | AsyncIterable<Uint8Array | string>;

/** Write `data` to a new temporary file beside `path`, fsynced; first clear dead writers' leftovers there. */
async function writeTemporary(path: string, data: FileData, mode: number, exactMode = false): Promise<string> {
  await removeDeadWritersTemporaries(path);
  const tmp = temporaryName(path);
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      if (exactMode) await fh.chmod(mode);
      await writeAll(fh, data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return tmp;
}

/**
 * `data` written whole: FileHandle.writeFile retries short writes, and writes at the handle's
 * position, so chunks, each written so in turn, follow one another.
 */
async function writeAll(fh: FileHandle, data: FileData): Promise<void> {
  if (typeof data === "string" || data instanceof Uint8Array) return fh.writeFile(data);
  for await (const chunk of data) await fh.writeFile(chunk);
}

/** Random bytes in a temporary name: concurrent writes in one process do not collide. */
const TEMPORARY_RANDOM_BYTES = 6;
/** What a temporary name holds between `.<name>.` and `.tmp`: the writer's pid and the random hex. */
const WRITER_AND_RANDOM = new RegExp(`^(\\d+)\\.[0-9a-f]{${TEMPORARY_RANDOM_BYTES * 2}}$`);

/**
 * A new temporary name for `path`, beside it: `.<name>.<pid>.<hex>.tmp`. A leftover names the
 * process that wrote it, so removeDeadWritersTemporaries can tell a dead writer's from a live one's.
 */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(TEMPORARY_RANDOM_BYTES).toString("hex")}.tmp`);
}

/**
 * Remove the temporary files of `path` (temporaryName's) whose writer died between writing and
 * renaming (a `kill -9`, a power cut): nothing else would ever remove them. `path` itself is
 * whole either way (rename and link are atomic). Only this target's, and only a dead process's:
 * a live writer's file, this process's included, must stay until it is renamed. Housekeeping: a
 * directory that cannot be listed is left as it is, and the write that follows reports what is wrong.
 */
export async function removeDeadWritersTemporaries(path: string): Promise<void> {
  const dir = dirname(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = writerOf(name, basename(path));
    if (pid === undefined || isAlive(pid)) continue;
    await unlink(join(dir, name)).catch(() => undefined); // another sweeper may have been first
  }
}

/** The pid in `name` if it is exactly a temporary name of `target` (temporaryName), else undefined. */
function writerOf(name: string, target: string): number | undefined {
  const prefix = `.${target}.`;
  if (!name.startsWith(prefix) || !name.endsWith(".tmp")) return undefined;
  const match = WRITER_AND_RANDOM.exec(name.slice(prefix.length, -".tmp".length));
  return match ? Number(match[1]) : undefined;
}

/** Dead only when the system says there is no such process (ESRCH); EPERM is a live process of another user. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
