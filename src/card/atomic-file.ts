/**
 * Files that appear whole or not at all. The content is written to a temporary file in the
 * same directory and fsynced first; only then does a link or rename give it its name, so no
 * reader, and no crash, ever finds the name holding part of it.
 */
import { randomBytes } from "node:crypto";
import { link, open, rename, unlink } from "node:fs/promises";
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


/** Replace `path` with `data`: a reader, or a crash, finds the old content or all of the new. */
export async function replaceDurably(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const tmp = await writeTemporary(path, data, mode);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDirectory(dirname(path));
}

/** The temporary name is `.<name>.<pid>.<hex>.tmp`: a leftover names the process that wrote it (chip-store.ts removes dead ones'). */
async function writeTemporary(path: string, data: Uint8Array | string, mode: number): Promise<string> {
  const tmp = temporaryName(path);
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.writeFile(data);
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

function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
