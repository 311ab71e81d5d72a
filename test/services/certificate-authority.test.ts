// The CA service on each store back end: issuance rules, durable recording, key protection.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { sql } from "kysely";
import { Context, MIGRATION_ENCODERS } from "../../src/services/context.ts";
import { migrationProvider } from "../../src/store/migrations.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { asSchemaChange, backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-11-25T03:00:00Z";

for (const backend of backends()) {
  describe(`certificate authority on ${backend}`, () => {
    let t: TestContext;
    const keys = testPublicKeys(4);
    const addResident = (overrides: Partial<Parameters<TestContext["context"]["registry"]["add"]>[0]> = {}) =>
      t.context.registry.add({
        name: "佐藤 花子",
        birth: "1985-07-15",
        gender: "2",
        address: "東京都町田市中町１－２０－２３",
        municipality: "132098",
        ...overrides,
      });

    before(async () => {
      t = await openTestContext(backend, { now: NOW });
    });
    after(() => t.cleanup());

    test("a certificate's DER lives apart from its row, and migration 0016 moved older ones there", async () => {
      const resident = await addResident({ name: "分離 太郎" });
      const issued = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[3]! });
      const db = t.context.store.db;
      // The hot row has no der column any more (on both back ends, whatever other schemas hold).
      const noDerColumn = () => assert.rejects(sql`select der from certificates`.execute(db), /der/);
      await noDerColumn();
      const stored = await db.selectFrom("certificate_der").select("der").where("ca_type", "=", "auth").where("serial_hex", "=", issued.serialHex).executeTakeFirstOrThrow();
      assert.deepEqual(Buffer.from(stored.der), Buffer.from(issued.der));

      // Put the store back as it was before 0016 (DER in the row), then run the migration again.
      const all = await db.selectFrom("certificate_der").selectAll().orderBy("ca_type").orderBy("serial_hex").execute();
      assert.ok(all.length >= 1);
      await asSchemaChange(backend, async () => {
        const binary = t.context.store.dialect === "postgres" ? "bytea" : "blob";
        await sql`alter table certificates add column der ${sql.raw(binary)}`.execute(db);
        await sql`update certificates set der = (select d.der from certificate_der d where d.ca_type = certificates.ca_type and d.serial_hex = certificates.serial_hex)`.execute(db);
        await db.schema.dropTable("certificate_der").execute();
        const migrations = await migrationProvider(t.context.store.dialect, MIGRATION_ENCODERS).getMigrations();
        await migrations["0016-certificate-der"]!.up(db);
      });
      await noDerColumn();
      const moved = await db.selectFrom("certificate_der").selectAll().orderBy("ca_type").orderBy("serial_hex").execute();
      assert.deepEqual(moved.map((r) => [r.ca_type, r.serial_hex, Buffer.from(r.der).toString("hex")]), all.map((r) => [r.ca_type, r.serial_hex, Buffer.from(r.der).toString("hex")]));
      const again = await t.context.ca.certificate("auth", issued.serialHex);
      assert.deepEqual(Buffer.from(again.der), Buffer.from(issued.der));
    });

    test("the CA private keys are stored encrypted, never in clear", async () => {
      const rows = await t.context.store.db.selectFrom("authorities").select(["id", "private_key_pem"]).execute();
      assert.deepEqual(rows.map((r) => r.id).sort(), ["auth-1", "sign-1"]);
      for (const row of rows) {
        assert.match(row.private_key_pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
        assert.doesNotMatch(row.private_key_pem, /BEGIN (RSA )?PRIVATE KEY/);
      }
    });

    test("a wrong passphrase cannot open the CA", { skip: backend === "postgres" }, async () => {
      await assert.rejects(
        Context.open({ dataDir: t.dataDir, env: { OPENJPKI_CA_PASSPHRASE: "not-the-passphrase-at-all" } }),
        (e: unknown) => e instanceof ServiceError && e.code === "bad-passphrase",
      );
    });

    test("an under-15 gets an authentication certificate but no signing certificate", async () => {
      const child = await addResident({ name: "佐藤 次郎", birth: "2012-11-26", gender: "1" }); // 15 tomorrow
      const authCert = await t.context.ca.issue({ type: "auth", residentId: child.id, subjectPublicKey: keys[0]! });
      assert.equal(authCert.status, "valid");
      await assert.rejects(
        t.context.ca.issue({ type: "sign", residentId: child.id, subjectPublicKey: keys[1]! }),
        (e: unknown) => e instanceof ServiceError && e.code === "not-eligible" && /15/.test(e.message),
      );
      const recorded = await t.context.ca.certificatesOf(child.id);
      assert.deepEqual(recorded.map((c) => c.type), ["auth"], "the refused request left no record");
    });

    test("an adult under guardianship gets no signing certificate", async () => {
      const adult = await addResident({ name: "鈴木 一郎", guardianship: true, gender: "1" });
      await assert.rejects(
        t.context.ca.issue({ type: "sign", residentId: adult.id, subjectPublicKey: keys[0]! }),
        (e: unknown) => e instanceof ServiceError && e.code === "not-eligible",
      );
    });

    test("the signing certificate ends no later than the holder's authentication certificate", async () => {
      const holder = await addResident();
      // Authentication issued first, on a day when the 5th birthday comes sooner.
      const authCert = await t.context.ca.issue({ type: "auth", residentId: holder.id, subjectPublicKey: keys[0]!, cardExpiry: "2029-03-31" });
      assert.equal(authCert.expires, "2029-03-31", "capped by the card");
      const signCert = await t.context.ca.issue({ type: "sign", residentId: holder.id, subjectPublicKey: keys[1]! });
      assert.equal(signCert.expires, "2029-03-31", "capped by the authentication certificate");
    });

    test("a foreign resident's certificates end with the period of stay", async () => {
      const visitor = await addResident({ name: "SMITH JOHN", nationality: "US", residenceEnd: "2027-08-31", gender: "1" });
      const cert = await t.context.ca.issue({ type: "auth", residentId: visitor.id, subjectPublicKey: keys[2]! });
      assert.equal(cert.expires, "2027-08-31");
      assert.equal(new Date(new X509Certificate(cert.der).validTo).toISOString(), "2027-08-31T14:59:59.000Z");
    });

    test("resident input is validated with errors that name the field", async () => {
      const cases: [Record<string, string>, string][] = [
        [{ birth: "2023-02-30" }, "birth"],
        [{ birth: "2030-01-01" }, "birth"],
        [{ name: "" }, "name"],
        [{ gender: "4" }, "gender"],
        [{ municipality: "999999" }, "municipality"],
        [{ address: "" }, "address"],
        [{ name: "山田 太郎😀" }, "name"],
      ];
      for (const [override, field] of cases) {
        await assert.rejects(addResident(override), (e: unknown) => {
          assert.ok(e instanceof ServiceError, `${JSON.stringify(override)} → ServiceError`);
          assert.equal(e.field, field, `${JSON.stringify(override)} names ${field}: ${e.message}`);
          return true;
        });
      }
    });

    test("1,000 concurrent issuances produce 1,000 distinct serials, all recorded", async () => {
      const holder = await addResident({ name: "高橋 三郎", gender: "1" });
      const before = await t.context.ca.count("auth");
      const issued = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          t.context.ca.issue({ type: "auth", residentId: holder.id, subjectPublicKey: keys[i % keys.length]! }),
        ),
      );
      const serials = new Set(issued.map((c) => c.serialHex));
      assert.equal(serials.size, 1000);
      assert.equal(await t.context.ca.count("auth"), before + 1000);
      const stored = await t.context.store.db
        .selectFrom("certificates")
        .select(["serial_hex"])
        .where("resident_id", "=", holder.id)
        .execute();
      assert.deepEqual(new Set(stored.map((r) => r.serial_hex)), serials);
    });
  });
}
