// File-system faults injected into this process for a test, and taken out again: a disk that
// fills up part way through a write, a rename that fails.
import fsPromises, { type FileHandle } from "node:fs/promises";
import type { PathLike } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { resolve, sep } from "node:path";

function systemError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

/**
 * Make file writes under `dir` fail the way a full disk does (half the bytes reach the file,
 * then ENOSPC), or renames into `dir` fail, in this process. The CLI runs in-process and writes
 * through node:fs/promises (open, then the FileHandle's writeFile; rename); syncBuiltinESMExports
 * hands the patched functions to modules that imported them by name. Returns the undo.
 */
export async function injectFailure(dir: string, what: "write" | "rename"): Promise<() => void> {
  const saved = { open: fsPromises.open, rename: fsPromises.rename };
  const inDir = (path: unknown): boolean => typeof path === "string" && resolve(path).startsWith(dir + sep);
  const probe = await saved.open(process.execPath, "r");
  const fileHandle = Object.getPrototypeOf(probe) as { writeFile: (this: FileHandle, data: unknown, ...rest: unknown[]) => Promise<void> };
  await probe.close();
  const savedWriteFile = fileHandle.writeFile;
  if (what === "write") {
    const underDir = new WeakSet<FileHandle>();
    fsPromises.open = async function (path: PathLike, ...rest: unknown[]): Promise<FileHandle> {
      const handle = await (saved.open as (...args: unknown[]) => Promise<FileHandle>)(path, ...rest);
      if (inDir(path)) underDir.add(handle);
      return handle;
    } as typeof fsPromises.open;
    fileHandle.writeFile = async function (this: FileHandle, data: unknown, ...rest: unknown[]): Promise<void> {
      if (!underDir.has(this)) return savedWriteFile.call(this, data, ...rest);
      const bytes = typeof data === "string" ? Buffer.from(data) : (data as Uint8Array);
      await this.write(bytes, 0, Math.floor(bytes.byteLength / 2));
      throw systemError("ENOSPC", "write");
    };
  } else {
    fsPromises.rename = async function (from: PathLike, to: PathLike): Promise<void> {
      if (inDir(to)) throw systemError("EIO", "rename");
      return saved.rename(from, to);
    };
  }
  syncBuiltinESMExports();
  return () => {
    Object.assign(fsPromises, saved);
    fileHandle.writeFile = savedWriteFile;
    syncBuiltinESMExports();
  };
}

