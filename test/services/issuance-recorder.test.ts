// Group commit of issued certificates (src/services/issuance-recorder.ts) and what the CA does
// with it, on each store back end: batches, their bound, the audit chain, failures that touch
// only their own callers, and register changes that race an issuance.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, SubjectAlternativeName } from "@peculiar/asn1-x509";
import { IssuanceRecorder, ResidentChangedError, residentSnapshot, type IssuanceRecord } from "../../src/services/issuance-recorder.ts";
import { verifyAudit } from "../../src/services/audit.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { randomSerial } from "../../src/pki/certificate.ts";
import { hex } from "../../src/pki/asn1.ts";
import { fromOtherNames } from "../../src/profile/attributes.ts";
import type { Resident } from "../../src/services/registry.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-11-25T03:00:00Z";

/** The name a signing certificate carries (its personal-data otherNames, UTF8String values). */
function nameIn(der: Uint8Array): string {
  const cert = AsnConvert.parse(der, Certificate);
  const san = cert.tbsCertificate.extensions!.find((e) => e.extnID === "2.5.29.17")!;
  const list = Array.from(AsnConvert.parse(san.extnValue.buffer, SubjectAlternativeName), (g) => {
    const value = new Uint8Array(g.otherName!.value);
    const lengthBytes = value[1]! < 0x80 ? 0 : value[1]! & 0x7f;
    return { oid: g.otherName!.typeId, value: Buffer.from(value.subarray(2 + lengthBytes)).toString("utf8") };
  });
  return fromOtherNames(list).name;
}

for (const backend of backends()) {
  describe(`issuance recording on ${backend}`, () => {
    let t: TestContext;
    /** Runs once, right after the registry's next read of a resident (the CA then builds from what it read). */
    let afterNextRead: (() => void) | undefined;
    const keys = testPublicKeys(2);
    const addResident = (name = "佐藤 花子", municipality = "132098") =>
      t.context.registry.add({ name, birth: "1985-07-15", gender: "2", address: "東京都町田市中町１－２０－２３", municipality });

    before(async () => {
      t = await openTestContext(backend, { now: NOW });
      const registry = t.context.registry;
      const read = registry.get.bind(registry);
      registry.get = async (id: string) => {
        const resident = await read(id);
        const hook = afterNextRead;
        afterNextRead = undefined;
        hook?.();
        return resident;
      };
    });
    after(() => t.cleanup());

    const recordFor = (resident: Resident, serial = randomSerial(), snapshot = residentSnapshot(resident)): IssuanceRecord => ({
      row: {
        ca_type: "auth",
        serial_hex: hex(serial),
        authority_id: "auth-1",
        resident_id: resident.id,
        card_id: null,
        subject_cn: `TEST${hex(serial)}`,
        municipality_code: resident.municipality.code,
        not_before: NOW,
        not_after: "2031-07-15T14:59:59.000Z",
        expires: "2031-07-15",
        issued_at: NOW,
        status: "valid",
        revoked_at: null,
        revocation_reason: null,
        invalidity_date: null,
        revoked_by: null,
      },
      der: Uint8Array.of(0x30, 0x00),
      audit: { actor: { actor: "test" }, entry: { action: "certificate.issue", subject: `auth:${hex(serial)}` }, at: new Date(NOW) },
      resident: snapshot,
    });

    const auditSubjects = async (from: number) =>
      (await t.context.store.db.selectFrom("audit_log").select(["seq", "subject"]).where("seq", ">", from).orderBy("seq").execute()).map((r) => r.subject);
    const auditHead = async () => Number((await t.context.store.db.selectFrom("audit_head").select("seq").executeTakeFirstOrThrow()).seq);

    test("records handed in together share one transaction; batches never exceed their bound; audit records chain in order", async () => {
      const resident = await addResident();
      const recorder = new IssuanceRecorder(t.context.store.db, { dialect: t.context.store.dialect, maxBatch: 4 });
      const headBefore = await auditHead();
      const records = Array.from({ length: 10 }, () => recordFor(resident));
      await Promise.all(records.map((r) => recorder.record(r)));
      assert.deepEqual(recorder.stats, { batches: 3, records: 10, largestBatch: 4 }, "4 + 4 + 2");
      assert.deepEqual(await auditSubjects(headBefore), records.map((r) => r.audit.entry.subject), "one audit record each, in the order handed in");
      const stored = await t.context.store.db.selectFrom("certificates").select("serial_hex").where("resident_id", "=", resident.id).execute();
      assert.equal(stored.length, 10);
      assert.equal((await verifyAudit(t.context.store.db)).ok, true);
    });

    test("a batch waits for announced issuances still on their way, so that they share its commit", async () => {
      const resident = await addResident();
      const recorder = new IssuanceRecorder(t.context.store.db, { dialect: t.context.store.dialect, maxWaitMs: 1000 });
      const [a, b, c, d] = [recorder.announce(), recorder.announce(), recorder.announce(), recorder.announce()];
      const first = [a.record(recordFor(resident)), b.record(recordFor(resident))];
      await new Promise((resolve) => setImmediate(resolve));
      d.cancel(); // refused before it got anywhere: nothing to wait for
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all([...first, c.record(recordFor(resident))]);
      assert.deepEqual(recorder.stats, { batches: 1, records: 3, largestBatch: 3 }, "the third joined the first two");
      c.cancel(); // after record(): no effect
      await recorder.record(recordFor(resident));
      assert.deepEqual(recorder.stats, { batches: 2, records: 4, largestBatch: 3 }, "nothing announced: committed at once");
    });

    test("a failing row fails only its own caller; the rest of its batch is recorded", async () => {
      const resident = await addResident();
      const recorder = new IssuanceRecorder(t.context.store.db, { dialect: t.context.store.dialect });
      const taken = randomSerial();
      await recorder.record(recordFor(resident, taken));
      const headBefore = await auditHead();
      const batch = [recordFor(resident), recordFor(resident), recordFor(resident, taken), recordFor(resident)];
      const outcomes = await Promise.allSettled(batch.map((r) => recorder.record(r)));
      assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      const code = ((outcomes[2] as PromiseRejectedResult).reason as { code?: string }).code;
      assert.ok(code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE", `a unique violation, not ${code}`);
      const good = [batch[0]!, batch[1]!, batch[3]!].map((r) => r.audit.entry.subject);
      assert.deepEqual(await auditSubjects(headBefore), good, "no audit record for the failed row");
      assert.equal((await verifyAudit(t.context.store.db)).ok, true);
    });

    test("an entry whose register entry changed since it was read is refused; the others go through", async () => {
      const resident = await addResident();
      const recorder = new IssuanceRecorder(t.context.store.db, { dialect: t.context.store.dialect });
      const stale = { ...residentSnapshot(resident), address: "東京都町田市森野１－１－１" };
      const outcomes = await Promise.allSettled([recorder.record(recordFor(resident)), recorder.record(recordFor(resident, randomSerial(), stale))]);
      assert.equal(outcomes[0]!.status, "fulfilled");
      assert.ok(outcomes[1]!.status === "rejected" && outcomes[1].reason instanceof ResidentChangedError);
    });

    test("one batch over several residents checks each against its own register entry (a changed one and a removed one refused)", async () => {
      const [kept, changed, other, removed] = [await addResident(), await addResident("鈴木 一郎"), await addResident("高橋 次郎"), await addResident("田中 三郎")];
      await t.context.store.db.deleteFrom("residents").where("id", "=", removed.id).execute();
      const recorder = new IssuanceRecorder(t.context.store.db, { dialect: t.context.store.dialect });
      const records = [
        recordFor(kept),
        recordFor(changed, randomSerial(), { ...residentSnapshot(changed), name: "鈴木 一朗" }),
        recordFor(other),
        recordFor(removed),
        recordFor(kept),
      ];
      const outcomes = await Promise.allSettled(records.map((r) => recorder.record(r)));
      assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
      for (const i of [1, 3]) assert.ok((outcomes[i] as PromiseRejectedResult).reason instanceof ResidentChangedError);
      assert.deepEqual(recorder.stats, { batches: 1, records: 3, largestBatch: 5 }, "one transaction checked all four residents at once");
    });

    test("a change of name while a signing certificate is being issued: no valid certificate carries the old name", async () => {
      const resident = await addResident("鈴木 一郎");
      let change: Promise<unknown> | undefined;
      afterNextRead = () => (change = t.context.events.changeAttributes(resident.id, { name: "鈴木 次郎" }));
      const issued = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: keys[0]! });
      await change;
      const current = await t.context.ca.certificate("sign", issued.serialHex);
      // Either the issuance saw the change and built the certificate again, or (PostgreSQL: the
      // change committed after the certificate) the change revoked it. Never a valid old name.
      assert.ok(current.status !== "valid" || nameIn(current.der) === "鈴木\u3000次郎", `valid certificate with ${nameIn(current.der)}`);
      if (backend === "sqlite") assert.equal(nameIn(issued.der), "鈴木\u3000次郎", "SQLite: the change commits first, the certificate is rebuilt");
      for (const c of await t.context.ca.certificatesOf(resident.id)) {
        if (c.type === "sign" && c.status === "valid") assert.equal(nameIn((await t.context.ca.certificate("sign", c.serialHex)).der), "鈴木\u3000次郎");
      }
    });

    test("a death while a certificate is being issued: the resident ends up with no valid certificate", async () => {
      const resident = await addResident("高橋 三郎");
      let death: Promise<unknown> | undefined;
      afterNextRead = () => (death = t.context.events.endRegistration(resident.id, { kind: "death" }));
      const outcome = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[1]! }).then(
        (record) => record,
        (error: unknown) => error,
      );
      await death;
      if (outcome instanceof Error) assert.ok(outcome instanceof ServiceError && outcome.code === "not-eligible", String(outcome));
      const valid = (await t.context.ca.certificatesOf(resident.id)).filter((c) => c.status === "valid");
      assert.deepEqual(valid, [], "nothing valid for a deceased resident");
      if (backend === "sqlite") assert.ok(outcome instanceof ServiceError, "SQLite: the death commits first, the issuance is refused");
    });

    test("the CA refuses a key JPKI does not allow, naming subjectPublicKey; a municipality scope hides other residents", async () => {
      const resident = await addResident();
      const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
      await assert.rejects(
        t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: ec }),
        (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "subjectPublicKey",
      );
      await assert.rejects(
        t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[0]!, municipality: "131016" }),
        (e: unknown) => e instanceof ServiceError && e.code === "not-found" && e.field === "residentId",
      );
      const ok = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[0]!, municipality: "132098" });
      assert.equal(ok.municipalityCode, "132098");
    });
  });
}
