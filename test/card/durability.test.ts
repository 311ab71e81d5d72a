/**
 * Retry counters are durable (issue 7): a card process killed right after the wrong
 * attempt reached storage, and before it answered, comes back with the counter
 * decremented. The card runs in a child process that SIGKILLs itself at that moment.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issuedCardTemplate, cloneCard, AUTH_PIN, SIGN_PIN, type CardTemplate } from "./fixtures/cards.ts";
import { expectSw, verifyApdu, SELECT_JPKI } from "./fixtures/apdu-helpers.ts";
import { openCard } from "../../src/card/index.ts";
import { InProcessReader } from "../../src/readers/in-process.ts";
import { deadPid } from "../helpers/pids.ts";

const CARD_PROCESS = fileURLToPath(new URL("./fixtures/card-process.ts", import.meta.url));

let t: CardTemplate;
before(async () => {
  t = await issuedCardTemplate();
});

interface Run {
  /** Responses in order, for each line sent. */
  responses: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
}

/** Run a card process, send it lines one at a time (waiting for each answer), collect the end. */
function runCardProcess(dir: string, lines: string[], killOn?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CARD_PROCESS], {
      env: { ...process.env, CARD_DIR: dir, ...(killOn ? { OPENJPKI_TEST_KILL_AFTER_COMMIT: killOn } : {}) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const responses: string[] = [];
    const queue = [...lines];
    const out = createInterface({ input: child.stdout });
    out.on("line", (line) => {
      if (line !== "ready") responses.push(line);
      const next = queue.shift();
      if (next === undefined) child.stdin.end();
      else child.stdin.write(next + "\n");
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ responses, signal, code }));
  });
}

const hexVerify = (pin: string, p2: string) => verifyApdu(pin, p2);

describe("durable retry counters", () => {
  it("a wrong VERIFY killed after the commit and before the answer still cost a try", async () => {
    const { dir, reader } = await cloneCard(t);
    await reader.disconnect();
    const run = await runCardProcess(dir, ["on", SELECT_JPKI, "00200098", hexVerify("0000", "98")], "verify-attempt");
    assert.equal(run.signal, "SIGKILL");
    assert.deepEqual(run.responses.slice(1), ["9000", "63c3"]); // no answer to the VERIFY ever left
    const card = new InProcessReader(await openCard(dir));
    await card.connect();
    await expectSw(card, SELECT_JPKI, "9000");
    await expectSw(card, "00200098", "63C2");
  });

  it("killing at every wrong attempt in turn blocks the PIN after exactly 3 attempts", async () => {
    const { dir, reader } = await cloneCard(t);
    await reader.disconnect();
    for (let i = 0; i < 3; i++) {
      const run = await runCardProcess(dir, ["on", SELECT_JPKI, hexVerify("9999", "98")], "verify-attempt");
      assert.equal(run.signal, "SIGKILL");
    }
    const run = await runCardProcess(dir, ["on", SELECT_JPKI, "00200098", hexVerify(AUTH_PIN, "98")]);
    assert.equal(run.code, 0);
    assert.deepEqual(run.responses.slice(1), ["9000", "63c0", "6984"]);
  });

  it("even a correct VERIFY interrupted after the decrement is counted (counter first, compare after)", async () => {
    const { dir, reader } = await cloneCard(t);
    await reader.disconnect();
    const run = await runCardProcess(dir, ["on", SELECT_JPKI, hexVerify(SIGN_PIN, "9B")], "verify-attempt");
    assert.equal(run.signal, "SIGKILL");
    const ok = await runCardProcess(dir, ["on", SELECT_JPKI, "0020009B", hexVerify(SIGN_PIN, "9B"), "0020009B"]);
    assert.deepEqual(ok.responses.slice(1), ["9000", "63c4", "9000", "63c5"]);
  });

  it("a storage failure after the comparison answers 6581 for a right and a wrong PIN alike (no oracle)", async () => {
    const failSecondWrite = (reason: string) => {
      if (reason === "verify-success" || reason === "verify-failure") throw new Error("simulated EEPROM failure");
    };
    for (const pin of [AUTH_PIN, "0000"]) {
      const { dir, reader } = await cloneCard(t);
      await reader.disconnect();
      const failing = new InProcessReader(await openCard(dir, { afterCommit: failSecondWrite }));
      await failing.connect();
      await expectSw(failing, SELECT_JPKI, "9000");
      await expectSw(failing, hexVerify(pin, "98"), "6581");
      await failing.disconnect();
    }
  });

  it("opening a card removes a dead writer's temporary image, not a live one's", async () => {
    const { dir, reader } = await cloneCard(t);
    await reader.disconnect();
    const dead = join(dir, `.chip.json.${await deadPid()}.0a1b2c3d4e5f.tmp`);
    const live = join(dir, `.chip.json.${process.pid}.0a1b2c3d4e5f.tmp`);
    writeFileSync(dead, "{");
    writeFileSync(live, "{");
    const card = new InProcessReader(await openCard(dir));
    await card.connect();
    await expectSw(card, SELECT_JPKI, "9000");
    assert.equal(existsSync(dead), false, "the dead writer's file is gone");
    assert.equal(existsSync(live), true, "a live writer's file stays");
  });

  it("without a kill the child answers like the in-process card", async () => {
    const { dir, reader } = await cloneCard(t);
    await reader.disconnect();
    const run = await runCardProcess(dir, ["on", SELECT_JPKI, hexVerify("0000", "98"), hexVerify(AUTH_PIN, "98"), "00200098"]);
    assert.equal(run.code, 0);
    assert.equal(run.responses[0], "3be000ff8131fe4514");
    assert.deepEqual(run.responses.slice(1), ["9000", "63c2", "9000", "63c3"]);
  });
});
