// A card is in one reader at a time (src/services/card-slot.ts): concurrent users of one card take
// turns, so PIN tries are counted against the state the previous user left; a card attached to vpcd
// or held by another process is refused with who holds it; a crashed holder releases it at once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CardSlots } from "../../src/services/card-slot.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { attachCardToVpcd } from "../../src/services/vpcd-attachment.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { openTestContextWithCard, type TestContextWithCard } from "../helpers/context.ts";

const reasonOf = (outcome: PromiseSettledResult<unknown>): string =>
  outcome.status === "fulfilled" ? "logged-in" : outcome.reason instanceof ServiceError ? (outcome.reason.reason ?? outcome.reason.code) : String(outcome.reason);

const refusedAs = (reason: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ServiceError, String(e));
  assert.equal(e.reason, reason, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

describe("card slots: one reader at a time", () => {
  let t: TestContextWithCard;
  before(async () => {
    t = await openTestContextWithCard("2026-11-25T03:00:00Z");
  });
  after(() => t.cleanup());

  test("parallel logins guessing the 4-digit PIN: three tries are counted (the third blocks it), and the right PIN comes too late", async () => {
    const guesses = [...Array.from({ length: 19 }, (_, i) => String(7000 + i)), "1234"];
    const outcomes = await Promise.allSettled(guesses.map((pin) => t.context.cards.withReader(t.card.id, (reader) => t.context.portal.loginWithCard(reader, pin))));
    const reasons = outcomes.map(reasonOf);
    // Before the slots, each login counted from the same image: 19 wrong answers and the last one logged in.
    assert.deepEqual(reasons.slice(0, 2), ["wrong-pin", "wrong-pin"], reasons.join());
    assert.deepEqual(new Set(reasons.slice(2)), new Set(["pin-blocked"]), reasons.join());
    const left = await t.context.cards.withReader(t.card.id, (reader) => new JpkiClient(reader).triesLeft("auth"));
    assert.equal(left, 0);
  });

  test("a card attached to vpcd is in that reader only: others are refused with who holds it, and get it back once detached", async () => {
    const vpcd: Server = createServer();
    vpcd.listen(0, "127.0.0.1");
    await once(vpcd, "listening");
    const port = (vpcd.address() as { port: number }).port;
    try {
      const attachment = await attachCardToVpcd(t.context.cards, t.card.id, { host: "127.0.0.1", port });
      try {
        await assert.rejects(
          t.context.cards.withReader(t.card.id, async () => "used"),
          refusedAs("card-in-use", new RegExp(`card ${t.card.id} is in another reader \\(this process: attached to vpcd at 127\\.0\\.0\\.1:${port}\\)`)),
        );
      } finally {
        await attachment.close();
      }
      assert.equal(await t.context.cards.withReader(t.card.id, async () => "used"), "used");
    } finally {
      vpcd.close();
    }
  });
});

describe("card slots across processes", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openjpki-slot-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("another process's slot is refused naming its pid; killing that process frees the card at once", async () => {
    const slotModule = fileURLToPath(new URL("../../src/services/card-slot.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { CardSlots } = await import(${JSON.stringify(slotModule)});
         await new CardSlots(${JSON.stringify(dir)}).take("C-AAAAAAAAAA", "a test holder");
         process.stdout.write("held\\n");
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const [first] = (await once(child.stdout!, "data")) as [Buffer];
      assert.equal(first.toString(), "held\n");
      const slots = new CardSlots(dir, { waitMs: 200 });
      await assert.rejects(
        slots.hold("C-AAAAAAAAAA", "test", async () => "used"),
        refusedAs("card-in-use", new RegExp(`\\(process ${child.pid}: a test holder\\)`)),
      );
      assert.equal(await slots.hold("C-BBBBBBBBBB", "test", async () => "other card"), "other card");
      child.kill("SIGKILL");
      await once(child, "exit");
      assert.equal(await new CardSlots(dir, { waitMs: 0 }).hold("C-AAAAAAAAAA", "test", async () => "used"), "used");
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("users in one process queue in order; beyond the limit they are refused as busy; a nested use is a programming error", async () => {
    const slots = new CardSlots(dir, { maxWaiting: 3, waitMs: 5000 });
    const order: number[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const first = slots.hold("C-CCCCCCCCCC", "test", async () => {
      await gate;
      order.push(1);
    });
    const second = slots.hold("C-CCCCCCCCCC", "test", async () => void order.push(2));
    const third = slots.hold("C-CCCCCCCCCC", "test", async () => void order.push(3));
    await new Promise((r) => setImmediate(r));
    await assert.rejects(slots.hold("C-CCCCCCCCCC", "test", async () => void order.push(4)), refusedAs("card-busy"));
    open();
    await Promise.all([first, second, third]);
    assert.deepEqual(order, [1, 2, 3]);
    await assert.rejects(
      slots.hold("C-CCCCCCCCCC", "outer", () => slots.hold("C-CCCCCCCCCC", "inner", async () => "nested")),
      /already in a reader in this procedure/,
    );
  });

  test("a user that waited too long gives up without stalling those queued behind it", async () => {
    const slots = new CardSlots(dir, { waitMs: 100 });
    const takeOut = await slots.take("C-DDDDDDDDDD", "long holder");
    await assert.rejects(slots.hold("C-DDDDDDDDDD", "test", async () => "used"), refusedAs("card-in-use", /this process: long holder/));
    await takeOut();
    assert.equal(await slots.hold("C-DDDDDDDDDD", "test", async () => "used"), "used");
  });
});
