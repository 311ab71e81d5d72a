import { realpath, stat, writeFile } from "node:fs/promises";
import { replaceDurably, type FileData } from "../services/temporary-files.ts";

/**
 * Write `data` to `path` so that `path` holds either its old content or all of the new, even if
 * the process dies (Ctrl-C, a crash), the disk fills up, or `data`'s chunks fail part way: what is
 * published must never be left empty or cut short, nor an old file lost to a failed new one
 * (replaceDurably: a temporary file beside it, fsynced, renamed over it; on failure removed, and
 * one a dead process left is swept by the next write). A symbolic link is followed (its target
 * is replaced, the link kept) and the old file's permission bits are kept (not setuid, setgid or
 * sticky); a new file gets `mode` less the umask. A path that is not a regular file (/dev/stdout,
 * a pipe, a link to one) is written through, as it is.
 */
export async function publishFile(path: string, data: FileData, options: { mode?: number } = {}): Promise<void> {
  let existing;
  try {
    existing = await stat(path); // through links: what a write to `path` would reach
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    return replaceDurably(path, data, options.mode ?? 0o666);
  }
  if (!existing.isFile()) return writeFile(path, data);
  return replaceDurably(await realpath(path), data, existing.mode & 0o777, { exactMode: true });
}
