// Password hashing takes one libuv pool thread at most: scrypt runs one at a time in the process,
// in arrival order, so a flood of logins (even for logins that do not exist) cannot hold every
// pool thread and stall OCSP signing, which shares the pool. Logins queued beyond the bound are
// refused as busy (503). scrypt is observed through node:crypto itself: the wrapper below
// replaces crypto.scrypt and syncBuiltinESMExports carries it to the service's named import.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { syncBuiltinESMExports } from "node:module";
import { buildApp } from "../../../src/http/app.ts";
import { checkPassword, hashPassword } from "../../../src/services/counter/staff.ts";
import { openTestContext, type TestContext } from "../../helpers/context.ts";
import { waitFor } from "../../helpers/wait.ts";
import type { FastifyInstance } from "fastify";

type ScryptCallback = (err: Error | null, key: Buffer) => void;

const realScrypt = crypto.scrypt;
let running = 0;
let peak = 0;
/** The passwords scrypt was started with, in order. */
const started: string[] = [];
/** While set, a started scrypt waits here until `release`. */
let holding = false;
const held: (() => void)[] = [];
/** While set, scrypt answers with zeros at once (a wrong password), to keep a long queue quick. */
let faking = false;

function countingScrypt(password: crypto.BinaryLike, salt: crypto.BinaryLike, keylen: number, options: crypto.ScryptOptions, callback: ScryptCallback): void {
  running += 1;
  peak = Math.max(peak, running);
  started.push(String(password));
  const done: ScryptCallback = (err, key) => {
    running -= 1;
    callback(err, key);
  };
  const go = () => (faking ? setImmediate(() => done(null, Buffer.alloc(keylen))) : realScrypt(password, salt, keylen, options, done));
  if (holding) held.push(go);
  else go();
}

function release(): void {
  holding = false;
  for (const go of held.splice(0)) go();
}

function reset(): void {
  peak = running;
  started.length = 0;
}

before(() => {
  (crypto as { scrypt: unknown }).scrypt = countingScrypt;
  syncBuiltinESMExports();
});
after(() => {
  (crypto as { scrypt: unknown }).scrypt = realScrypt;
  syncBuiltinESMExports();
});

describe("password hashing", () => {
  test("the wrapper sees the service's scrypt calls", async () => {
    reset();
    await hashPassword("wrapper check");
    assert.deepEqual(started, ["wrapper check"]);
  });

  test("hashes and checks started together never overlap", async () => {
    const stored = await hashPassword("correct horse battery");
    reset();
    const results = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) => hashPassword(`password ${i}`)),
      ...Array.from({ length: 3 }, (_, i) => checkPassword(i % 2 === 0 ? "correct horse battery" : "wrong", stored)),
    ]);
    assert.equal(started.length, 6);
    assert.equal(peak, 1, "at most one scrypt at a time");
    assert.deepEqual(results.slice(3), [true, false, true]);
    for (const hash of results.slice(0, 3)) assert.match(String(hash), /^scrypt\$32768\$8\$1\$/);
  });

  test("waiting hashes run in the order they arrived", async () => {
    reset();
    holding = true;
    const first = hashPassword("p0");
    await waitFor(() => held.length === 1, 10_000);
    const rest = ["p1", "p2", "p3"].map((p) => hashPassword(p));
    faking = true; // the order is the point here, not the hashes
    release();
    await Promise.all([first, ...rest]);
    faking = false;
    assert.deepEqual(started, ["p0", "p1", "p2", "p3"]);
    assert.equal(peak, 1);
  });
});

describe("staff logins", () => {
  let t: TestContext;
  let app: FastifyInstance;
  const login = (name: string, password: string) => app.inject({ method: "POST", url: "/api/counter/login", payload: { login: name, password } });

  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-11-25T01:00:00Z" });
    app = await buildApp(t.context);
    await t.context.staff.add({ officeId: "machida-mnc", login: "tanaka", name: "田中 一郎", role: "clerk", password: "correct horse battery" });
    // The first unknown login computes the stand-in hash; later ones cost one scrypt each.
    assert.equal((await login("nobody", "y")).statusCode, 403);
  });
  after(async () => {
    await app.close();
    await t.cleanup();
  });

  test("concurrent logins, known and unknown, hash one at a time", async () => {
    reset();
    const answers = await Promise.all([...Array.from({ length: 4 }, (_, i) => login(`zz${i}`, "y")), login("tanaka", "correct horse battery")]);
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      [403, 403, 403, 403, 200],
    );
    assert.equal(started.length, 5);
    assert.equal(peak, 1, "at most one scrypt at a time");
  });

  test("logins beyond the queue's bound are refused as busy (503), the rest are answered", async () => {
    reset();
    holding = true;
    faking = true; // the queue is the point here, not the hashes
    const answers: { i: number; status: number; body: any }[] = [];
    // 1 hashing (held) + 64 waiting fill the queue; the 66th and later are refused.
    const all = Array.from({ length: 67 }, (_, i) =>
      login(`busy${i}`, "y").then((res) => {
        answers.push({ i, status: res.statusCode, body: res.json() });
      }),
    );
    await waitFor(() => answers.length === 2, 10_000);
    assert.deepEqual(
      answers.map((a) => [a.status, a.body.error.code, a.body.error.reason, a.body.error.field]),
      [
        [503, "service-unavailable", "busy", "login"],
        [503, "service-unavailable", "busy", "login"],
      ],
    );
    assert.equal(started.length, 1, "only one scrypt started while the first is held");
    release();
    await Promise.all(all);
    faking = false;
    const refused = answers.filter((a) => a.status === 503);
    assert.equal(refused.length, 2);
    assert.ok(answers.filter((a) => a.status !== 503).every((a) => a.status === 403 && a.body.error.reason === "bad-credentials"));
    assert.equal(started.length, 65);
    assert.equal(peak, 1);
  });
});
