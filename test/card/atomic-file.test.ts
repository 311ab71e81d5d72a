/**
 * The card's atomic files are written to `.<name>.<pid>.<hex>.tmp` first and then linked or renamed
 * into place; a writer killed in between (`kill -9`, a power cut) leaves that file forever unless a
 * later writer removes it. Every write clears a dead writer's leftovers for its own target first,
 * and never a live process's (it may be just about to rename its file) nor another target's.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createOnce, replaceDurably } from "../../src/card/atomic-file.ts";
import { deadPid, withLivePid } from "../helpers/pids.ts";
import { tempRoot } from "./fixtures/cards.ts";

/**
 * In a fresh directory, leave temporary files of `target` by a dead writer and a live one, and
 * one of another target by the same dead writer; run `write`, then list what is left.
 */
async function leftoversAfter(target: string, write: (path: string) => Promise<unknown>): Promise<{ names: string[]; dead: string; live: string; other: string }> {
  const dir = await tempRoot();
  const dead = await deadPid();
  return withLivePid(async (live) => {
    const names = {
      dead: `.${target}.${dead}.0a1b2c3d4e5f.tmp`,
      live: `.${target}.${live}.0a1b2c3d4e5f.tmp`,
      other: `.other-${target}.${dead}.0a1b2c3d4e5f.tmp`,
    };
    for (const name of Object.values(names)) await writeFile(join(dir, name), "part of it");
    await write(join(dir, target));
    return { names: await readdir(dir), ...names };
  });
}

describe("atomic files remove dead writers' leftovers before writing", () => {
  it("createOnce (the chip master key): the dead writer's temporary goes, a live one's and another file's stay", async () => {
    const left = await leftoversAfter("chip-master.key", (path) => createOnce(path, new Uint8Array(32), 0o600));
    assert.deepEqual(left.names.sort(), [left.live, left.other, "chip-master.key"].sort());
  });

  it("replaceDurably (the chip image): the dead writer's temporary goes, a live one's and another file's stay", async () => {
    let written = "";
    const left = await leftoversAfter("chip.json", async (path) => {
      await replaceDurably(path, "{}", 0o600);
      written = await readFile(path, "utf8");
    });
    assert.equal(written, "{}");
    assert.deepEqual(left.names.sort(), [left.live, left.other, "chip.json"].sort());
  });
});
