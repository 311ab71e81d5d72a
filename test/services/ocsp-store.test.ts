// The durable OCSP response store, the responder's cache → store → sign path, and the batch
// refresher — on SQLite, and on PostgreSQL when DATABASE_URL is set.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, X509Certificate } from "node:crypto";
import { Context } from "../../src/services/context.ts";
import { fixedClock, type Clock } from "../../src/services/clock.ts";
import { OcspRefresher } from "../../src/services/ocsp-refresher.ts";
import { dropPostgresSchema } from "../../src/store/database.ts";
import type { StoredOcspResponse } from "../../src/services/ocsp-response-store.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import type { CaType } from "../../src/pki/jpki-profile.ts";
import type { Settings } from "../../src/config/defaults.ts";
import { backends, TEST_PASSPHRASE, type Backend } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { openssl } from "../helpers/test-pki.ts";
import { readAnswer, requestDer } from "../helpers/ocsp.ts";

// openssl checks answers against the real clock, so "now" follows it (whole seconds).
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);
const later = (ms: number) => new Date(T0.getTime() + ms);
const VALIDITY_MS = 600_000; // the default settings.ocspValiditySeconds

/** One store opened (and reopened, as another process would) at chosen instants. */
interface Stores {
  open(now: Date | Clock, settings?: Partial<Settings>): Promise<Context>;
  dataDir: string;
  cleanup(): Promise<void>;
}

function stores(backend: Backend): Stores {
  const dataDir = mkdtempSync(join(tmpdir(), "openjpki-ocsp-store-"));
  const schema = backend === "postgres" ? `t_${randomBytes(6).toString("hex")}` : undefined;
  const opened: Context[] = [];
  return {
    dataDir,
    async open(now, settings) {
      const context = await Context.open({
        dataDir,
        ...(settings ? { settings } : {}),
        env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE },
        clock: typeof now === "function" ? now : fixedClock(now),
        ...(schema ? { databaseUrl: process.env.DATABASE_URL!, databaseSchema: schema } : {}),
      });
      opened.push(context);
      return context;
    },
    async cleanup() {
      for (const c of opened) await c.close();
      if (schema) await dropPostgresSchema(process.env.DATABASE_URL!, schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function addResident(context: Context, i = 0): Promise<string> {
  const resident = await context.registry.add({ name: `応答 太郎${i}`, birth: "1980-04-01", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
  return resident.id;
}

/** `n` certificate rows written straight into the store (no DER: OCSP never reads it); every `revokedEvery`-th revoked. */
async function addRows(context: Context, type: CaType, n: number, revokedEvery = 0): Promise<string[]> {
  const residentId = await addResident(context, 99);
  const serials: string[] = [];
  const rows = Array.from({ length: n }, (_, i) => {
    const serial = randomBytes(16);
    serial[0] = (serial[0]! & 0x3f) | 0x40;
    const serialHex = serial.toString("hex").toUpperCase();
    serials.push(serialHex);
    const revoked = revokedEvery > 0 && i % revokedEvery === 0;
    return {
      ca_type: type, serial_hex: serialHex, authority_id: `${type}-1`, resident_id: residentId, card_id: null, subject_cn: `ROW${serialHex}`,
      municipality_code: "131016", not_before: "2025-01-01T00:00:00.000Z", not_after: "2031-03-31T14:59:59.000Z", expires: "2031-03-31",
      issued_at: "2025-01-01T00:00:00.000Z", status: revoked ? ("revoked" as const) : ("valid" as const),
      revoked_at: revoked ? "2025-06-01T00:00:00.000Z" : null, revocation_reason: revoked ? "keyCompromise" : null, invalidity_date: null,
      revoked_by: revoked ? "operator" : null,
    };
  });
  for (let i = 0; i < rows.length; i += 200) await context.store.db.insertInto("certificates").values(rows.slice(i, i + 200)).execute();
  return serials;
}

async function storedCount(context: Context, type: CaType): Promise<number> {
  const row = await context.store.db.selectFrom("ocsp_responses").select((eb) => eb.fn.countAll<number | string>().as("n")).where("ca_type", "=", type).executeTakeFirstOrThrow();
  return Number(row.n);
}

const certIdOf = (context: Context, type: CaType, serialHex: string, hash: "sha1" | "sha256" = "sha1") =>
  certIdFor(ocspIssuerFromCertificate(context.ca.authority(type).certificateDer), Buffer.from(serialHex, "hex"), hash);

for (const backend of backends()) {
  describe(`OCSP response store (${backend})`, () => {
    let s: Stores;
    before(() => {
      s = stores(backend);
    });
    after(async () => {
      await s.cleanup();
    });

    test("round trip: put, get, replace; candidates show what is stored", async () => {
      const context = await s.open(T0);
      const [a, b] = await addRows(context, "auth", 2);
      const row = (serialHex: string, state: string, tbs: number[]): StoredOcspResponse => ({
        type: "auth", serialHex, state, generation: 1, thisUpdate: T0, nextUpdate: later(VALIDITY_MS), parts: { tbs: Uint8Array.from(tbs), signature: Uint8Array.of(0xee, 0xff) },
      });
      const plain = (r: StoredOcspResponse | undefined) => r && { ...r, parts: { tbs: [...r.parts.tbs], signature: [...r.parts.signature] } };
      assert.equal(await context.ocsp.responses.get("auth", a!), undefined);
      await context.ocsp.responses.putMany([row(a!, "good", [1, 2, 3]), row(b!, "good", [4, 5])]);
      const got = await context.ocsp.responses.get("auth", a!);
      assert.deepEqual(plain(got), plain(row(a!, "good", [1, 2, 3])));
      await context.ocsp.responses.putMany([{ ...row(a!, "revoked:2025-06-01T00:00:00.000Z:keyCompromise", [9]), generation: 2, thisUpdate: later(1000) }]);
      const replaced = await context.ocsp.responses.get("auth", a!);
      assert.equal(replaced!.state, "revoked:2025-06-01T00:00:00.000Z:keyCompromise");
      assert.equal(replaced!.generation, 2);
      assert.equal(replaced!.thisUpdate.getTime(), later(1000).getTime());
      assert.deepEqual([...replaced!.parts.tbs], [9]);
      assert.equal(await storedCount(context, "auth"), 2);
      assert.equal(await context.ocsp.responses.get("sign", a!), undefined, "per CA");
      const page = await context.ocsp.responses.candidates("auth", { after: "", limit: 10, notExpiredAt: T0 });
      const bySerial = new Map(page.map((c) => [c.serialHex, c]));
      assert.equal(bySerial.get(b!)!.stored!.state, "good");
      assert.equal(bySerial.get(b!)!.status.status, "valid");
      assert.equal(bySerial.get(a!)!.stored!.generation, 2);
      assert.equal(await context.ocsp.responses.countCertificates("auth", T0), page.length);
    });

    test("an answer signed on demand is stored, and after a restart served from the store, not signed again", async () => {
      const first = await s.open(T0);
      const residentId = await addResident(first, 1);
      const cert = await first.ca.issue({ type: "sign", residentId, subjectPublicKey: testPublicKeys(1)[0]! });
      const request = requestDer(certIdOf(first, "sign", cert.serialHex));
      const signed = await first.ocsp.answer(request, "sign");
      assert.equal(readAnswer(signed.der).status, "good");
      await first.ocsp.flush();
      const stored = await first.ocsp.storedAnswer("sign", cert.serialHex);
      assert.equal(stored?.state, "good");
      assert.deepEqual(Buffer.from(stored!.der), Buffer.from(signed.der), "stored without the responder certificate, put back together the same");

      const restarted = await s.open(later(120_000)); // another process, two minutes on
      const served = await restarted.ocsp.answer(request, "sign");
      assert.deepEqual(Buffer.from(served.der), Buffer.from(signed.der), "the stored answer, thisUpdate still T0");
      assert.equal(readAnswer(served.der).thisUpdate.getTime(), T0.getTime());
      assert.equal(served.cache?.thisUpdate.getTime(), T0.getTime());
    });

    test("a stored (and cached) good answer is never served after a revocation, from this process or another", async () => {
      const context = await s.open(T0);
      const residentId = await addResident(context, 2);
      const [k1, k2] = testPublicKeys(2);
      const local = await context.ca.issue({ type: "sign", residentId, subjectPublicKey: k1! });
      const remote = await context.ca.issue({ type: "auth", residentId, subjectPublicKey: k2! });
      const refresher = new OcspRefresher(context.ocsp);
      await refresher.refresh({ type: "sign", withinMs: 0 });
      await refresher.refresh({ type: "auth", withinMs: 0 });
      const requests = { sign: requestDer(certIdOf(context, "sign", local.serialHex)), auth: requestDer(certIdOf(context, "auth", remote.serialHex)) };
      for (const [type, serial] of [["sign", local.serialHex], ["auth", remote.serialHex]] as const) {
        const stored = await context.ocsp.storedAnswer(type, serial);
        assert.equal(stored?.state, "good");
        const answer = await context.ocsp.answer(requests[type], type);
        assert.deepEqual(Buffer.from(answer.der), Buffer.from(stored!.der), "served from the store, then cached");
      }

      await context.ca.revoke({ type: "sign", serialHex: local.serialHex, reason: "keyCompromise", by: "operator" });
      const other = await s.open(T0); // another process revokes the other one
      await other.ca.revoke({ type: "auth", serialHex: remote.serialHex, reason: "affiliationChanged", by: "operator" });

      for (const [type, serial] of [["sign", local.serialHex], ["auth", remote.serialHex]] as const) {
        const answer = await context.ocsp.answer(requests[type], type);
        assert.equal(readAnswer(answer.der).status, "revoked", `${type}: the next request says revoked`);
        await context.ocsp.flush();
        assert.match((await context.ocsp.responses.get(type, serial))!.state, /^revoked:/, `${type}: the store now holds the revoked answer`);
      }
    });

    test("refresh signs what is due and skips fresh answers; a revocation or the window makes answers due again", async () => {
      const context = await s.open(T0);
      const serials = await addRows(context, "auth", 25, 5);
      const refresher = new OcspRefresher(context.ocsp);
      const before = await storedCount(context, "auth");
      const first = await refresher.refresh({ type: "auth", withinMs: 0, batchSize: 7 });
      assert.equal(first.written, 25 + before - first.fresh);
      assert.equal(await storedCount(context, "auth"), before + first.written);
      for (const [i, serial] of serials.entries()) {
        const stored = (await context.ocsp.storedAnswer("auth", serial))!;
        const read = readAnswer(stored.der);
        assert.equal(read.serialHex, serial);
        assert.equal(read.status, i % 5 === 0 ? "revoked" : "good");
        assert.equal(stored.state, i % 5 === 0 ? "revoked:2025-06-01T00:00:00.000Z:keyCompromise" : "good");
        assert.equal(stored.thisUpdate.getTime(), T0.getTime());
        assert.equal(stored.nextUpdate.getTime(), T0.getTime() + VALIDITY_MS);
      }

      const again = await refresher.refresh({ type: "auth", withinMs: 0 });
      assert.equal(again.written, 0, "nothing due");
      assert.equal(again.fresh, again.scanned);

      await context.ca.revoke({ type: "auth", serialHex: serials[1]!, reason: "keyCompromise", by: "operator" });
      const afterRevocation = await refresher.refresh({ type: "auth", withinMs: 0 });
      assert.equal(afterRevocation.written, 1);
      assert.equal(readAnswer((await context.ocsp.storedAnswer("auth", serials[1]!))!.der).status, "revoked");

      const window = await refresher.refresh({ type: "auth", withinMs: VALIDITY_MS });
      assert.equal(window.written, window.scanned, "every answer expires within the window");
    });

    test("refresh resumes after a crash: committed batches stay, the next run signs only the rest", async () => {
      const context = await s.open(T0);
      await addRows(context, "sign", 35);
      const refresher = new OcspRefresher(context.ocsp);
      const before = await storedCount(context, "sign");
      const candidates = await context.ocsp.responses.countCertificates("sign", T0);
      const due = candidates - before;
      const store = context.ocsp.responses;
      const putMany = store.putMany.bind(store);
      let writes = 0;
      store.putMany = async (rows) => {
        if (++writes === 2) throw new Error("disk full (simulated crash)");
        return putMany(rows);
      };
      try {
        await assert.rejects(refresher.refresh({ type: "sign", withinMs: 0, batchSize: 10, pageSize: 8 }), /disk full/);
      } finally {
        store.putMany = putMany;
      }
      assert.equal(await storedCount(context, "sign"), before + 10, "the first batch was committed");
      const resumed = await refresher.refresh({ type: "sign", withinMs: 0, batchSize: 10 });
      assert.equal(resumed.written, due - 10);
      assert.equal(resumed.fresh, before + 10);
      assert.equal(await storedCount(context, "sign"), candidates);
    });

    test("refresh stops on its signal after the batch in progress, and the next run finishes", async () => {
      const context = await s.open(T0);
      await addRows(context, "sign", 30);
      const refresher = new OcspRefresher(context.ocsp);
      const candidates = await context.ocsp.responses.countCertificates("sign", T0);
      const before = await storedCount(context, "sign");
      const stop = new AbortController();
      const stopped = await refresher.refresh({
        type: "sign", withinMs: 0, batchSize: 5, inFlight: 2, pageSize: 4, signal: stop.signal,
        onProgress: (p) => void (p.written > 0 && stop.abort()),
      });
      assert.equal(stopped.stopped, true);
      assert.ok(stopped.written > 0 && stopped.written < candidates - before, `wrote ${stopped.written}`);
      assert.equal(await storedCount(context, "sign"), before + stopped.written, "everything signed was committed");
      const rest = await refresher.refresh({ type: "sign", withinMs: 0 });
      assert.equal(rest.stopped, false);
      assert.equal(rest.written, candidates - before - stopped.written);
    });

    test("a responder rollover makes every stored answer due; the responder signs anew instead of serving the old one", async () => {
      const own = stores(backend); // its own store: the rolled-over responder is not valid yet at the real clock
      try {
        // Answers valid for 100 days, so the stored one is still within its validity after the rollover.
        const settings = { ocspValiditySeconds: 100 * 86_400 };
        const first = await own.open(T0, settings);
        const [serial] = await addRows(first, "auth", 1);
        await new OcspRefresher(first.ocsp).refresh({ type: "auth", withinMs: 0 });
        const old = (await first.ocsp.responses.get("auth", serial!))!;
        const oldDer = (await first.ocsp.storedAnswer("auth", serial!))!.der;
        const rolled = await own.open(later(61 * 86_400_000), settings); // past the rollover point (validity 90 d, rollover 30 d before)
        const answer = await rolled.ocsp.answer(requestDer(certIdOf(rolled, "auth", serial!)), "auth");
        assert.notDeepEqual(Buffer.from(answer.der), Buffer.from(oldDer));
        assert.equal(readAnswer(answer.der).thisUpdate.getTime(), later(61 * 86_400_000).getTime());
        await rolled.ocsp.flush(); // the on-demand answer above is already stored for the new generation…
        await rolled.ocsp.responses.putMany([old]); // …so put the old one back: the refresher must find it due
        const run = await new OcspRefresher(rolled.ocsp).refresh({ type: "auth", withinMs: 0 });
        assert.equal(run.written, 1);
        assert.equal((await rolled.ocsp.responses.get("auth", serial!))!.generation, old.generation + 1);
      } finally {
        await own.cleanup();
      }
    });

    test("requests arriving together at a rollover share one new responder: one key pair per CA, not one per request", async () => {
      const own = stores(backend);
      try {
        let now = T0;
        const context = await own.open(() => new Date(now));
        const serials = await addRows(context, "auth", 3);
        const created: string[] = [];
        const ocsp = context.ocsp as unknown as { createResponder(type: CaType, generation: number): Promise<void> };
        const create = ocsp.createResponder.bind(ocsp);
        ocsp.createResponder = (type, generation) => (created.push(`${type}:${generation}`), create(type, generation));
        now = later(61 * 86_400_000); // past the rollover point (validity 90 d, rollover 30 d before)
        const answers = await Promise.all(
          Array.from({ length: 24 }, (_, i) => context.ocsp.answer(requestDer(certIdOf(context, "auth", serials[i % 3]!)), "auth")),
        );
        assert.deepEqual(created.sort(), ["auth:2", "sign:2"]);
        const responder = Buffer.from(context.ocsp.responderCertificate("auth"));
        for (const answer of answers) {
          assert.equal(readAnswer(answer.der).status, "good");
          assert.ok(Buffer.from(answer.der).includes(responder), "signed by the rolled-over responder");
        }
      } finally {
        await own.cleanup();
      }
    });

    test("responders end with their CA at the latest; in the CA's last weeks the last responder serves on instead of being replaced per request", async () => {
      const own = stores(backend);
      try {
        let now = T0;
        const context = await own.open(() => new Date(now));
        const [serial] = await addRows(context, "auth", 1);
        const caEnd = new Date(new X509Certificate(context.ca.authority("auth").certificateDer).validTo).getTime();
        const created: string[] = [];
        const ocsp = context.ocsp as unknown as { createResponder(type: CaType, generation: number): Promise<void> };
        const create = ocsp.createResponder.bind(ocsp);
        ocsp.createResponder = (type, generation) => (created.push(`${type}:${generation}`), create(type, generation));
        const responderEnd = () => new Date(new X509Certificate(context.ocsp.responderCertificate("auth")).validTo).getTime();

        now = new Date(caEnd - 50 * 86_400_000); // a rollover is due; 90 days would outlive the CA
        await context.ocsp.answer(requestDer(certIdOf(context, "auth", serial!)), "auth");
        assert.deepEqual(created.sort(), ["auth:2", "sign:2"]);
        assert.equal(responderEnd(), caEnd, "cut at the CA's end");

        for (const daysLeft of [20, 5, 1]) {
          now = new Date(caEnd - daysLeft * 86_400_000); // inside the rollover window, but no later end is possible
          await context.ocsp.answer(requestDer(certIdOf(context, "auth", serial!)), "auth");
          await context.ocsp.answer(requestDer(certIdOf(context, "auth", serial!)), "auth");
        }
        assert.deepEqual(created.sort(), ["auth:2", "sign:2"], "no responder minted per request");
      } finally {
        await own.cleanup();
      }
    });

    test("a confirmed answer is served without reading its row until the CA's revocation version moves; unknown ones are always read", async () => {
      const context = await s.open(T0);
      const other = await s.open(T0); // another process, revoking
      const [serial, neighbour] = await addRows(context, "sign", 2);
      const [authSerial] = await addRows(context, "auth", 1);
      const reads: string[] = [];
      const status = context.store.certificateStatus;
      context.store.certificateStatus = (type, serialHex) => (reads.push(`${type}:${serialHex}`), status(type, serialHex));
      try {
        const request = requestDer(certIdOf(context, "sign", serial!));
        const path = Buffer.from(request).toString("base64");
        await context.ocsp.answerGet(path, "sign"); // signs, reads the row
        await context.ocsp.answerGet(path, "sign"); // a hit, vouched for by the version read with the row
        reads.length = 0;
        for (let i = 0; i < 5; i++) assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "good");
        await context.ocsp.answer(request, "sign"); // POST without nonce: the same cache entry
        assert.deepEqual(reads, [], "no row read while nothing was revoked");

        await other.ca.revoke({ type: "auth", serialHex: authSerial!, reason: "keyCompromise", by: "operator" });
        await context.ocsp.answerGet(path, "sign");
        assert.deepEqual(reads, [], "the other CA's revocation moves only its own version");

        await other.ca.revoke({ type: "sign", serialHex: neighbour!, reason: "keyCompromise", by: "operator" });
        assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "good");
        assert.deepEqual(reads, [`sign:${serial}`], "a revocation in the CA: the row is read again, once");
        await context.ocsp.answerGet(path, "sign");
        assert.equal(reads.length, 1);

        await other.ca.revoke({ type: "sign", serialHex: serial!, reason: "affiliationChanged", by: "operator" });
        assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "revoked", "and the next request says revoked");

        const stranger = "4" + randomBytes(15).toString("hex").toUpperCase() + "1";
        const unknownPath = Buffer.from(requestDer(certIdOf(context, "sign", stranger))).toString("base64");
        assert.equal(readAnswer((await context.ocsp.answerGet(unknownPath, "sign")).der).status, "unknown");
        reads.length = 0;
        await context.ocsp.answerGet(unknownPath, "sign");
        await context.ocsp.answerGet(unknownPath, "sign");
        assert.deepEqual(reads, [`sign:${stranger}`, `sign:${stranger}`], "unknown answers are checked on every request (issuing bumps no version)");
      } finally {
        context.store.certificateStatus = status;
      }
    });

    test("nonce answers (signed per request) read a known certificate's row only when its CA's revocation version moves", async () => {
      const context = await s.open(T0);
      const other = await s.open(T0); // another process, revoking
      const [serial, neighbour, heldSerial] = await addRows(context, "sign", 3);
      const [authSerial] = await addRows(context, "auth", 1);
      const reads: string[] = [];
      const status = context.store.certificateStatus;
      context.store.certificateStatus = (type, serialHex, options) => (reads.push(`${type}:${serialHex}`), status(type, serialHex, options));
      const answerOf = async (serialHex: string) => readAnswer((await context.ocsp.answer(requestDer(certIdOf(context, "sign", serialHex), { nonce: true }), "sign")).der);
      const ask = async (serialHex: string) => (await answerOf(serialHex)).status;
      try {
        assert.equal(await ask(serial!), "good");
        assert.deepEqual(reads, [`sign:${serial}`], "the first answer reads the row");
        for (let i = 0; i < 5; i++) assert.equal(await ask(serial!), "good");
        assert.deepEqual(reads, [`sign:${serial}`], "no row read while nothing was revoked");

        await other.ca.revoke({ type: "auth", serialHex: authSerial!, reason: "keyCompromise", by: "operator" });
        assert.equal(await ask(serial!), "good");
        assert.equal(reads.length, 1, "the other CA's revocation moves only its own version");

        await other.ca.revoke({ type: "sign", serialHex: neighbour!, reason: "keyCompromise", by: "operator" });
        assert.equal(await ask(serial!), "good");
        assert.deepEqual(reads.slice(1), [`sign:${serial}`], "a revocation in the CA: the row is read again, once");
        assert.equal(await ask(serial!), "good");
        assert.equal(reads.length, 2);

        await other.ca.revoke({ type: "sign", serialHex: serial!, reason: "affiliationChanged", by: "operator" });
        assert.equal(await ask(serial!), "revoked", "another process's revocation shows on the very next request");
        assert.equal(await ask(serial!), "revoked");

        // A hold, then made final: each change is read again, and the answer carries the new reason.
        const reasonOf = async (serialHex: string) => (await answerOf(serialHex)).reasonCode;
        assert.equal(await ask(heldSerial!), "good");
        await other.ca.revoke({ type: "sign", serialHex: heldSerial!, reason: "certificateHold", by: "hotline" });
        assert.equal(await reasonOf(heldSerial!), 6, "certificateHold");
        reads.length = 0;
        await other.ca.revoke({ type: "sign", serialHex: heldSerial!, reason: "keyCompromise", by: "operator" });
        assert.equal(await reasonOf(heldSerial!), 1, "keyCompromise, once the hold is made final");
        assert.deepEqual(reads, [`sign:${heldSerial}`]);

        const stranger = "4" + randomBytes(15).toString("hex").toUpperCase() + "1";
        reads.length = 0;
        for (let i = 0; i < 2; i++) assert.equal(await ask(stranger), "unknown");
        assert.deepEqual(reads, [`sign:${stranger}`, `sign:${stranger}`], "unknown serials are read on every request (issuing bumps no version)");
      } finally {
        context.store.certificateStatus = status;
      }
    });

    test("a version read ahead of the status (another source: a standby further on, or the primary) pins no stale 'good'", async () => {
      const context = await s.open(T0);
      const other = await s.open(T0);
      const [serial] = await addRows(context, "sign", 1);
      const path = Buffer.from(requestDer(certIdOf(context, "sign", serial!))).toString("base64");
      await context.ocsp.answerGet(path, "sign");
      await context.ocsp.answerGet(path, "sign"); // a hit, vouched for by the version read with the row
      const versions = context.store.revocationVersions;
      const current = Number((await versions()).find((row) => row.ca_type === "sign")?.version ?? 0);
      // The version source already shows the revocation about to commit; the status source does not yet.
      context.store.revocationVersions = async () => [{ ca_type: "sign", version: current + 1 }];
      try {
        assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "good", "the status source still says good");
        await other.ca.revoke({ type: "sign", serialHex: serial!, reason: "keyCompromise", by: "operator" }); // now both show it
        assert.equal(
          readAnswer((await context.ocsp.answerGet(path, "sign")).der).status,
          "revoked",
          "'good' was vouched for by the version seen with it, not by the one read ahead",
        );
      } finally {
        context.store.revocationVersions = versions;
      }
    });

    test("nonce answers too: a version read ahead of the status pins no stale 'good'", async () => {
      const context = await s.open(T0);
      const other = await s.open(T0);
      const [serial] = await addRows(context, "sign", 1);
      const ask = async () => readAnswer((await context.ocsp.answer(requestDer(certIdOf(context, "sign", serial!), { nonce: true }), "sign")).der).status;
      assert.equal(await ask(), "good"); // read, kept with the version of its snapshot
      const versions = context.store.revocationVersions;
      const current = Number((await versions()).find((row) => row.ca_type === "sign")?.version ?? 0);
      // The version source already shows the revocation about to commit; the status source does not yet.
      context.store.revocationVersions = async () => [{ ca_type: "sign", version: current + 1 }];
      try {
        assert.equal(await ask(), "good", "the status source still says good");
        await other.ca.revoke({ type: "sign", serialHex: serial!, reason: "keyCompromise", by: "operator" }); // now both show it
        assert.equal(await ask(), "revoked", "'good' was kept with the version seen with it, not with the one read ahead");
      } finally {
        context.store.revocationVersions = versions;
      }
    });

    test("a revocation lost in a failover does not hand its version to the next one: a 'good' cached after it is read again", async () => {
      const context = await s.open(T0);
      const other = await s.open(T0); // the primary, before and after the failover
      const [lost, serial] = await addRows(context, "sign", 2);
      const path = Buffer.from(requestDer(certIdOf(context, "sign", serial!))).toString("base64");
      const before = await other.store.db.selectFrom("revocation_versions").selectAll().where("ca_type", "=", "sign").executeTakeFirst();
      await other.ca.revoke({ type: "sign", serialHex: lost!, reason: "keyCompromise", by: "operator" });
      await context.ocsp.answerGet(path, "sign");
      assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "good"); // confirmed under the version after `lost`
      // The failover: the new primary never received that revocation (asynchronous replication).
      const db = other.store.db;
      await db.updateTable("certificates").set({ status: "valid", revoked_at: null, revocation_reason: null, revoked_by: null }).where("serial_hex", "=", lost!).execute();
      await db.deleteFrom("crl_entries").where("serial_hex", "=", lost!).execute();
      if (before) await db.updateTable("revocation_versions").set({ version: before.version }).where("ca_type", "=", "sign").execute();
      else await db.deleteFrom("revocation_versions").where("ca_type", "=", "sign").execute();
      // The next revocation on the new primary: with a counter it would reuse the lost one's number.
      await other.ca.revoke({ type: "sign", serialHex: serial!, reason: "keyCompromise", by: "operator" });
      assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "revoked");
    });

    test("revocation versions only grow, past 32 bits, and a revocation past there still shows", async () => {
      const context = await s.open(T0);
      const [serial] = await addRows(context, "sign", 1);
      const path = Buffer.from(requestDer(certIdOf(context, "sign", serial!))).toString("base64");
      assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "good");
      const high = 2 ** 31 + 5; // past PostgreSQL's integer
      const db = context.store.db;
      await db.insertInto("revocation_versions").values({ ca_type: "sign", version: high }).onConflict((oc) => oc.column("ca_type").doUpdateSet({ version: high })).execute();
      await context.ca.revoke({ type: "sign", serialHex: serial!, reason: "keyCompromise", by: "operator" });
      const after = Number((await db.selectFrom("revocation_versions").select("version").where("ca_type", "=", "sign").executeTakeFirstOrThrow()).version);
      assert.ok(after > high && after < high + 2 ** 24, String(after));
      assert.equal(readAnswer((await context.ocsp.answerGet(path, "sign")).der).status, "revoked");
    });

    test("only the RFC 5019 form is stored: not unknown serials, SHA-256 CertIDs, absent parameters or nonce answers", async () => {
      const context = await s.open(T0);
      const [serial] = await addRows(context, "sign", 1);
      const stranger = randomBytes(16);
      stranger[0] = 0x41;
      const requests = [
        requestDer(certIdOf(context, "sign", stranger.toString("hex").toUpperCase())),
        requestDer(certIdOf(context, "sign", serial!, "sha256")),
        requestDer(certIdOf(context, "sign", serial!), { absentParameters: true }),
        requestDer(certIdOf(context, "sign", serial!), { nonce: true }),
      ];
      const statuses = [];
      for (const request of requests) statuses.push(readAnswer((await context.ocsp.answer(request, "sign")).der).status);
      assert.deepEqual(statuses, ["unknown", "good", "good", "good"]);
      await context.ocsp.flush();
      assert.equal(await context.ocsp.responses.get("sign", serial!), undefined);
      assert.equal(await context.ocsp.responses.get("sign", stranger.toString("hex").toUpperCase()), undefined);
      await context.ocsp.answer(requestDer(certIdOf(context, "sign", serial!)), "sign");
      await context.ocsp.flush();
      assert.equal((await context.ocsp.responses.get("sign", serial!))?.state, "good", "the RFC 5019 form is");
    });

    test("openssl verifies the refresher's answers for really issued certificates", async () => {
      const context = await s.open(T0);
      const residentId = await addResident(context, 3);
      const cert = await context.ca.issue({ type: "sign", residentId, subjectPublicKey: testPublicKeys(1)[0]! });
      await context.ca.revoke({ type: "sign", serialHex: cert.serialHex, reason: "affiliationChanged", by: "operator" });
      await new OcspRefresher(context.ocsp).refresh({ type: "sign", withinMs: 0 });
      const pem = (der: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
      writeFileSync(join(s.dataDir, "ca.pem"), pem(context.ca.authority("sign").certificateDer));
      writeFileSync(join(s.dataDir, "leaf.pem"), pem(cert.der));
      writeFileSync(join(s.dataDir, "answer.der"), (await context.ocsp.storedAnswer("sign", cert.serialHex))!.der);
      const r = openssl(["ocsp", "-respin", "answer.der", "-CAfile", "ca.pem", "-issuer", "ca.pem", "-cert", "leaf.pem", "-no_nonce"], s.dataDir);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr + r.stdout, /Response verify OK/);
      assert.match(r.stdout, /leaf\.pem: revoked/);
      assert.match(r.stdout, /Reason: affiliationChanged/);
    });
  });
}
