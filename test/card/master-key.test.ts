/**
 * The chip master key file (`cards/chip-master.key`): every card made with a key needs that key to
 * open again, so the file must appear whole, once. Two processes making their first card at the
 * same moment used to collide (one failed with EEXIST, or read the file before the key was in it,
 * and its card was spoiled), and a crash between creating the file and writing the key left an
 * empty file (now refused with what to do).
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { manufactureCard, openCard } from "../../src/card/index.ts";
import { tempRoot } from "./fixtures/cards.ts";

const MAKE_CARD_PROCESS = fileURLToPath(new URL("./fixtures/make-card-process.ts", import.meta.url));
const PROCESSES = 4;
const ROUNDS = 2;

let terminalCaPublicKeyDer: Uint8Array;
before(() => {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  terminalCaPublicKeyDer = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
});

interface Outcome {
  cardId: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Make one card in each of `cardIds`' own process, all with the key file `keyFile`: the processes
 * load first, then are started together, so they reach the key file at the same moment.
 */
async function makeCardsAtOnce(cardsDir: string, keyFile: string, cardIds: string[]): Promise<Outcome[]> {
  const children = cardIds.map((cardId) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAKE_CARD_PROCESS], {
      env: {
        ...process.env,
        CARD_DIR: join(cardsDir, cardId),
        CARD_ID: cardId,
        KEY_FILE: keyFile,
        TERMINAL_CA: Buffer.from(terminalCaPublicKeyDer).toString("base64"),
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", () => reject(new Error(`card process ${cardId} exited before it was ready: ${stderr}`)));
      createInterface({ input: child.stdout }).on("line", (line) => {
        stdout += line + "\n";
        if (line === "ready") resolve();
      });
    });
    const done = new Promise<Outcome>((resolve) => {
      child.on("close", (code) => resolve({ cardId, code, stdout, stderr }));
    });
    return { child, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const { child } of children) child.stdin.end("go\n");
  return Promise.all(children.map((c) => c.done));
}

/** The key file is a whole 0600 key, every card opens with it, and no temporary file is left. */
async function assertOneKeyForAll(cardsDir: string, keyFile: string, cardIds: string[]): Promise<void> {
  const key = await readFile(keyFile);
  assert.equal(key.length, 32);
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  for (const cardId of cardIds) {
    // openCard checks the card's masterKeyCheck: a card made with another key is refused.
    const card = await openCard(join(cardsDir, cardId), { chipMasterKeyFile: keyFile });
    assert.ok(card, cardId);
  }
  assert.deepEqual((await readdir(cardsDir)).filter((name) => name.endsWith(".tmp")), []);
}

describe("chip master key file", () => {
  it("first cards made at the same moment by several processes all get the one key", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const cardsDir = join(await tempRoot(), "cards"); // created by the processes themselves
      const keyFile = join(cardsDir, "chip-master.key");
      const cardIds = Array.from({ length: PROCESSES }, (_, i) => `RACE-${round}-${i}`);
      const outcomes = await makeCardsAtOnce(cardsDir, keyFile, cardIds);
      for (const o of outcomes) assert.equal(o.code, 0, `round ${round}, ${o.cardId}: ${o.stderr}`);
      await assertOneKeyForAll(cardsDir, keyFile, cardIds);
      assert.deepEqual((await readdir(cardsDir)).sort(), ["chip-master.key", ...cardIds].sort());
    }
  });

  it("an empty key file (an older version's crash) is refused, named, with what to do", async () => {
    const cardsDir = join(await tempRoot(), "cards");
    await mkdir(cardsDir);
    const keyFile = join(cardsDir, "chip-master.key");
    await writeFile(keyFile, "", { mode: 0o600 });
    await assert.rejects(
      manufactureCard({ dir: join(cardsDir, "AFTER-CRASH-1"), cardId: "AFTER-CRASH-1", chipMasterKeyFile: keyFile, terminalCaPublicKeyDer }),
      (e: Error) => e.message.includes(keyFile) && /is empty .*: delete it/.test(e.message),
    );
  });

  it("a key file of another wrong length is refused, named, and left as it is", async () => {
    const cardsDir = join(await tempRoot(), "cards");
    await mkdir(cardsDir);
    const keyFile = join(cardsDir, "chip-master.key");
    await writeFile(keyFile, "7 bytes", { mode: 0o600 });
    await assert.rejects(
      manufactureCard({ dir: join(cardsDir, "SHORT-1"), cardId: "SHORT-1", chipMasterKeyFile: keyFile, terminalCaPublicKeyDer }),
      (e: Error) => {
        assert.ok(e.message.includes(keyFile), e.message);
        assert.match(e.message, /must hold exactly 32 bytes but holds 7: it is not replaced/);
        return true;
      },
    );
    assert.equal(await readFile(keyFile, "utf8"), "7 bytes");
    assert.deepEqual((await readdir(cardsDir)).sort(), ["SHORT-1", "chip-master.key"]);
    assert.deepEqual(await readdir(join(cardsDir, "SHORT-1")), [], "no card was made");
  });
});
