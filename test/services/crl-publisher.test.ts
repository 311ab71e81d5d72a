// CRLs from the pre-encoded entries kept in the store (crl_entries), on each back end: the same
// bytes as the CRL encoded from the certificate records, entries written in the revocation's
// transaction, the 0014 backfill, paging, and failing closed on a damaged row.
import { MIGRATION_ENCODERS } from "../../src/services/context.ts";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { buildCrl, encodeCrlEntry, type CrlEntry } from "../../src/pki/crl.ts";
import { nameDer } from "../../src/pki/asn1.ts";
import { keyIdentifier } from "../../src/pki/certificate.ts";
import { readCertificateFields } from "../../src/pki/certificate-fields.ts";
import { crlDistributionPointName, type CaType } from "../../src/pki/jpki-profile.ts";
import type { RevocationReason } from "../../src/rules/revocation.ts";
import { applyRevocation, crlEntryRuns } from "../../src/services/revocation.ts";
import { CrlPublisher, type PublishedCrl } from "../../src/services/crl-publisher.ts";
import { buildApp } from "../../src/http/app.ts";
import { migrationProvider } from "../../src/store/migrations.ts";
import { asSchemaChange, backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { openssl, tempDir } from "../helpers/test-pki.ts";

const MACHIDA = { code: "132098", address: "東京都町田市原町田１－１－１" };
const CHIYODA = { code: "131016", address: "東京都千代田区霞が関２－１－２" };

let now = new Date();
const clock = () => new Date(now);

for (const backend of backends()) {
  describe(`CRLs from pre-encoded entries on ${backend}`, () => {
    let t: TestContext;
    const keys = testPublicKeys(2);

    async function issuePair(where: { code: string; address: string }): Promise<{ sign: string; auth: string }> {
      const resident = await t.context.registry.add({
        name: "試験 太郎",
        birth: "1980-04-01",
        gender: "1",
        address: where.address,
        municipality: where.code,
      });
      const auth = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[0]! });
      const sign = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: keys[1]! });
      return { sign: sign.serialHex, auth: auth.serialHex };
    }

    /** The CRL as it was built before crl_entries: every entry encoded from the certificate records. */
    async function fromRecords(published: PublishedCrl, municipality?: string): Promise<Uint8Array> {
      let query = t.context.store.db
        .selectFrom("certificates")
        .select(["serial_hex", "revoked_at", "revocation_reason", "invalidity_date"])
        .where("ca_type", "=", published.type)
        .where("status", "in", ["revoked", "hold"])
        .where("not_after", ">=", published.thisUpdate.toISOString())
        .orderBy("serial_hex");
      if (municipality) query = query.where("municipality_code", "=", municipality);
      const entries: CrlEntry[] = (await query.execute()).map((r) => ({
        serial: Buffer.from(r.serial_hex, "hex"),
        revokedAt: new Date(r.revoked_at!),
        reason: r.revocation_reason as RevocationReason,
        ...(r.invalidity_date ? { invalidityDate: new Date(r.invalidity_date) } : {}),
      }));
      const authority = t.context.ca.authority(published.type);
      const idp = municipality
        ? { issuingDistributionPoint: { fullNameDirectoryNameDer: nameDer(crlDistributionPointName(published.type, t.context.ca.naming, await t.context.registry.municipality(municipality))) } }
        : {};
      return buildCrl({
        issuerNameDer: readCertificateFields(authority.certificateDer).subjectNameDer,
        authorityKeyIdentifier: keyIdentifier(authority.publicKey),
        signer: authority.signer,
        thisUpdate: published.thisUpdate,
        nextUpdate: published.nextUpdate,
        crlNumber: published.crlNumber,
        ...idp,
        entries,
      });
    }

    async function storedEntries(type?: CaType): Promise<{ ca_type: string; serial_hex: string; municipality_code: string; not_after: string; entry: string }[]> {
      let query = t.context.store.db.selectFrom("crl_entries").selectAll().orderBy("ca_type").orderBy("serial_hex");
      if (type) query = query.where("ca_type", "=", type);
      return (await query.execute()).map((r) => ({ ...r, entry: Buffer.from(r.entry).toString("hex") }));
    }

    const expired: string[] = [];
    const machida: string[] = [];
    const chiyoda: string[] = [];

    before(async () => {
      now = new Date("2020-06-01T03:00:00Z");
      t = await openTestContext(backend, { clock });
      // Revoked in 2021; its five-year certificate has expired by the CRLs of 2026 below.
      const old = await issuePair(MACHIDA);
      now = new Date("2021-02-01T00:00:00Z");
      await t.context.ca.revoke({ type: "sign", serialHex: old.sign, reason: "keyCompromise", by: "counter" });
      expired.push(old.sign);

      now = new Date("2026-11-25T03:00:00Z");
      const reasons: RevocationReason[] = ["keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "unspecified", "cACompromise"];
      for (const [i, reason] of reasons.entries()) {
        const where = i % 2 === 0 ? MACHIDA : CHIYODA;
        const pair = await issuePair(where);
        now = new Date(now.getTime() + 61_000);
        await t.context.ca.revoke({
          type: "sign",
          serialHex: pair.sign,
          reason,
          by: "counter",
          ...(reason === "keyCompromise" ? { invalidityDate: new Date("2026-11-20T10:11:12.345Z") } : {}),
        });
        (where === MACHIDA ? machida : chiyoda).push(pair.sign);
      }
      // A hold, and a hold made final later (it keeps the hold's time).
      const held = await issuePair(MACHIDA);
      await t.context.ca.revoke({ type: "sign", serialHex: held.sign, reason: "certificateHold", by: "hotline" });
      const final = await issuePair(CHIYODA);
      await t.context.ca.revoke({ type: "sign", serialHex: final.sign, reason: "certificateHold", by: "hotline" });
      now = new Date(now.getTime() + 3600_000);
      await t.context.ca.revoke({ type: "sign", serialHex: final.sign, reason: "keyCompromise", by: "counter" });
      machida.push(held.sign);
      chiyoda.push(final.sign);
      now = new Date(now.getTime() + 3600_000);
    });
    after(() => t.cleanup());

    test("the full CRL and each partition are byte for byte the CRLs encoded from the certificate records", async () => {
      const full = await t.context.crls.build("sign", undefined);
      assert.deepEqual(Buffer.from(full.der), Buffer.from(await fromRecords(full)));
      const listed = new x509.X509Crl(full.der).entries.map((e) => e.serialNumber.toUpperCase());
      assert.deepEqual(listed, [...machida, ...chiyoda].sort(), "every unexpired revoked or held certificate, in serial order");
      assert.ok(!listed.includes(expired[0]!), "an expired certificate is left off");

      for (const [code, serials] of [[MACHIDA.code, machida], [CHIYODA.code, chiyoda]] as const) {
        const part = await t.context.crls.build("sign", code);
        assert.deepEqual(Buffer.from(part.der), Buffer.from(await fromRecords(part, code)), code);
        assert.deepEqual(new x509.X509Crl(part.der).entries.map((e) => e.serialNumber.toUpperCase()), [...serials].sort(), code);
      }
      const auth = await t.context.crls.build("auth", undefined);
      assert.equal(new x509.X509Crl(auth.der).entries.length, 0);
    });

    test("openssl verifies a CRL built from the store and reads back its reasons and times", async () => {
      const part = await t.context.crls.build("sign", CHIYODA.code);
      const dir = tempDir("crl-publisher");
      try {
        dir.write("crl.der", part.der);
        dir.write("ca.der", t.context.ca.authority("sign").certificateDer);
        assert.equal(openssl(["x509", "-inform", "DER", "-in", "ca.der", "-out", "ca.pem"], dir.dir).status, 0);
        const r = openssl(["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text"], dir.dir);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout + r.stderr, /verify OK/);
        assert.match(r.stdout, /Affiliation Changed/);
        assert.match(r.stdout, /Cessation Of Operation/);
        assert.match(r.stdout, /CA Compromise/);
        // The hold made final: keyCompromise, revoked at the time of the hold.
        const final = chiyoda.at(-1)!;
        assert.match(r.stdout, new RegExp(`Serial Number: ${final}\\s*\\n\\s*Revocation Date: [^\\n]+\\n\\s*CRL entry extensions:\\s*\\n\\s*X509v3 CRL Reason Code:\\s*\\n\\s*Key Compromise`));
      } finally {
        dir.dispose();
      }
    });

    test("the stored entry is the CRL's entry; a hold made final keeps the hold's time", async () => {
      const rows = await storedEntries("sign");
      assert.equal(rows.length, 1 + machida.length + chiyoda.length, "the expired certificate's entry stays, the build filters it");
      const record = await t.context.ca.certificate("sign", chiyoda.at(-1)!);
      const row = rows.find((r) => r.serial_hex === record.serialHex)!;
      assert.equal(row.municipality_code, CHIYODA.code);
      const expected = encodeCrlEntry({ serial: Buffer.from(record.serialHex, "hex"), revokedAt: new Date(record.revokedAt!), reason: "keyCompromise" });
      assert.equal(row.entry, Buffer.from(expected).toString("hex"));
      const held = rows.find((r) => r.serial_hex === machida.at(-1))!;
      assert.match(held.entry, /0603551d1504030a0106$/, "certificateHold (6) is the hold's reasonCode");
    });

    test("pages of any size give the same run of entries, in serial order", async () => {
      const at = new Date(now);
      const concat = async (pageSize?: number): Promise<Buffer> => {
        const runs: Uint8Array[] = [];
        for await (const run of crlEntryRuns(t.context.store.db, "sign", { dialect: t.context.store.dialect, at, ...(pageSize ? { pageSize } : {}) })) runs.push(run);
        if (pageSize) assert.equal(runs.length, Math.ceil((machida.length + chiyoda.length) / pageSize));
        return Buffer.concat(runs);
      };
      const whole = await concat();
      for (const size of [1, 2, 3, 7]) assert.deepEqual(await concat(size), whole, `pageSize ${size}`);
      const unexpired = (await storedEntries("sign")).filter((r) => !expired.includes(r.serial_hex));
      assert.equal(whole.toString("hex"), unexpired.map((r) => r.entry).join(""));
      const partition: Uint8Array[] = [];
      for await (const run of crlEntryRuns(t.context.store.db, "sign", { dialect: t.context.store.dialect, at, municipality: MACHIDA.code, pageSize: 2 })) partition.push(run);
      assert.equal(Buffer.concat(partition).toString("hex"), unexpired.filter((r) => r.municipality_code === MACHIDA.code).map((r) => r.entry).join(""));
      await assert.rejects(async () => {
        for await (const _ of crlEntryRuns(t.context.store.db, "sign", { dialect: t.context.store.dialect, at, pageSize: 0 })) void _;
      }, RangeError);
    });

    test("the entry is written in the revocation's transaction: a rolled back revocation leaves none", async () => {
      const pair = await issuePair(MACHIDA);
      await assert.rejects(
        t.context.store.db.transaction().execute(async (trx) => {
          await applyRevocation(trx, { type: "auth", serialHex: pair.auth, reason: "keyCompromise", at: now, by: "operator" });
          assert.equal((await trx.selectFrom("crl_entries").select("serial_hex").where("serial_hex", "=", pair.auth).execute()).length, 1);
          throw new Error("the caller's next step fails");
        }),
        /next step fails/,
      );
      assert.equal((await t.context.ca.certificate("auth", pair.auth)).status, "valid");
      assert.deepEqual(await storedEntries("auth"), []);
    });

    test("migration 0014 backfills the entries of certificates revoked before it", async () => {
      const before = await storedEntries();
      assert.ok(before.length > 5);
      await asSchemaChange(backend, async () => {
        await t.context.store.db.schema.dropTable("crl_entries").execute();
        const migrations = await migrationProvider(t.context.store.dialect, MIGRATION_ENCODERS).getMigrations();
        await migrations["0014-crl-entries"]!.up(t.context.store.db);
      });
      assert.deepEqual(await storedEntries(), before);
      const full = await t.context.crls.build("sign", undefined);
      assert.deepEqual(Buffer.from(full.der), Buffer.from(await fromRecords(full)));
    });

    test("a damaged stored entry fails the build instead of publishing it", async () => {
      const serial = machida[0]!;
      const [row] = await t.context.store.db.selectFrom("crl_entries").select("entry").where("ca_type", "=", "sign").where("serial_hex", "=", serial).execute();
      const damage = async (entry: Uint8Array) =>
        t.context.store.db.updateTable("crl_entries").set({ entry }).where("ca_type", "=", "sign").where("serial_hex", "=", serial).execute();
      try {
        await damage(Uint8Array.of(0x31, 0x03, 0x02, 0x01, 0x01)); // a SET, not an entry
        await assert.rejects(t.context.crls.build("sign", undefined), /CRL entr/);
        await damage(Uint8Array.of(0x30, 0x10, 0x02, 0x01)); // claims more bytes than it has
        await assert.rejects(t.context.crls.build("sign", MACHIDA.code), /CRL entr/);
      } finally {
        await damage(row!.entry);
      }
      await t.context.crls.build("sign", undefined);
    });

    test("the partition index serves a municipality's entries without visiting the table", async () => {
      if (t.context.store.dialect !== "sqlite") return; // PostgreSQL's plan depends on its statistics
      const plan = await sql<{ detail: string }>`explain query plan select serial_hex, entry from crl_entries
        where ca_type = 'sign' and municipality_code = '131016' and serial_hex > '' and not_after >= '' order by serial_hex limit 10`.execute(t.context.store.db);
      assert.match(plan.rows.map((r) => r.detail).join(" | "), /USING COVERING INDEX crl_entries_by_municipality/);
      assert.doesNotMatch(plan.rows.map((r) => r.detail).join(" | "), /TEMP B-TREE/);
    });
  });
}

for (const backend of backends()) {
  describe(`the CRL cache on ${backend}`, () => {
    test("a CRL asked for after a revocation returned lists it, even while a build from before it is still running", async () => {
      const t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
      try {
        const resident = await t.context.registry.add({ name: "試験 花子", birth: "1980-04-01", gender: "2", address: MACHIDA.address, municipality: MACHIDA.code });
        const victim = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
        const signer = t.context.ca.authority("sign").signer;
        const sign = signer.sign.bind(signer);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        signer.sign = async (data) => (await gate, sign(data)); // every CRL signature waits until released
        try {
          const before = t.context.crls.current("sign"); // reads the version, then builds up to its signature
          await new Promise((resolve) => setTimeout(resolve, 50));
          await t.context.ca.revoke({ type: "sign", serialHex: victim.serialHex, reason: "keyCompromise", by: "counter" });
          const after = t.context.crls.current("sign");
          release();
          const listed = (crl: PublishedCrl) => new x509.X509Crl(crl.der).entries.map((e) => e.serialNumber.toUpperCase());
          assert.deepEqual(listed(await before), [], "the build that started before the revocation");
          assert.deepEqual(listed(await after), [victim.serialHex.toUpperCase()], "the CRL asked for after revoke() returned lists it");
        } finally {
          release();
          signer.sign = sign;
        }
      } finally {
        await t.cleanup();
      }
    });

    // Two builds of one scope on two connections, as on two nodes: SQLite has one connection per
    // process, and holding it (as the gate below does) would stop the revocation too.
    test("a higher CRL number never holds less: a build held up while another reads and numbers its CRL", { skip: backend !== "postgres" && "needs two connections (PostgreSQL)" }, async () => {
      const t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
      let release: (() => void) | undefined;
      try {
        const resident = await t.context.registry.add({ name: "試験 次郎", birth: "1980-04-01", gender: "1", address: MACHIDA.address, municipality: MACHIDA.code });
        const victim = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
        // The held build stops at the result of its first query about CRL numbers or entries: before
        // this change that was its number (its entries then read after the revocation below); now it
        // is its first page of entries (read before it).
        let entered!: () => void;
        const reached = new Promise<void>((resolve) => (entered = resolve));
        const gate = new Promise<void>((resolve) => (release = resolve));
        const watched = new WeakSet<object>();
        let held = false;
        const slow = t.context.store.db.withPlugin({
          transformQuery: (args) => {
            if (/"crl_(numbers|entries)"|crl_entries|crl_numbers/.test(JSON.stringify(args.node))) watched.add(args.queryId);
            return args.node;
          },
          transformResult: async (args) => {
            if (!held && watched.has(args.queryId)) {
              held = true;
              entered();
              await gate;
            }
            return args.result;
          },
        });
        const heldUp = new CrlPublisher(slow, t.context.store.dialect, t.context.ca, t.context.registry, t.context.settings, () => new Date("2026-11-25T03:00:00Z"));
        const first = heldUp.build("sign", undefined);
        await reached;
        // Another node, meanwhile, before the revocation (bounded: a build that waits on the held one fails the test).
        const other = await Promise.race([
          t.context.crls.build("sign", undefined),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the other build waited for the held one")), 10_000).unref()),
        ]);
        await t.context.ca.revoke({ type: "sign", serialHex: victim.serialHex, reason: "keyCompromise", by: "counter" });
        release!();
        const last = await first;
        const listed = (crl: PublishedCrl) => new x509.X509Crl(crl.der).entries.map((e) => e.serialNumber.toUpperCase());
        const [lower, higher] = other.crlNumber < last.crlNumber ? [other, last] : [last, other];
        for (const serial of listed(lower)) assert.ok(listed(higher).includes(serial), `CRL #${lower.crlNumber} lists ${serial}, #${higher.crlNumber} does not`);
        const newest = await t.context.crls.build("sign", undefined);
        assert.ok(newest.crlNumber > higher.crlNumber);
        assert.deepEqual(listed(newest), [victim.serialHex.toUpperCase()]);
      } finally {
        release?.();
        await t.cleanup();
      }
    });

    // The same overtaking on one connection: the other build's numbering is written straight into
    // crl_numbers between this build's read and its numbering (nextNumber, wrapped).
    test("a build whose read another build overtook reads again, and its CRL lists what the later read saw", async () => {
      const t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
      try {
        const resident = await t.context.registry.add({ name: "試験 三郎", birth: "1980-04-01", gender: "1", address: MACHIDA.address, municipality: MACHIDA.code });
        const victim = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
        const previous = await t.context.crls.build("sign", undefined);
        const publisher = t.context.crls as unknown as { nextNumber: (type: CaType, scope: string, before: number, after: number) => Promise<bigint> };
        const nextNumber = publisher.nextNumber.bind(publisher);
        const reads: number[] = [];
        publisher.nextNumber = async (type, scope, before, after) => {
          reads.push(before);
          if (reads.length === 1) {
            // Meanwhile: a revocation, and another build that read after it numbers its CRL first.
            await t.context.ca.revoke({ type: "sign", serialHex: victim.serialHex, reason: "keyCompromise", by: "counter" });
            const overtaken = await t.context.store.db.selectFrom("revocation_versions").select("version").where("ca_type", "=", "sign").executeTakeFirstOrThrow();
            await t.context.store.db.updateTable("crl_numbers").set({ last_version: Number(overtaken.version) }).where("ca_type", "=", "sign").where("scope", "=", "full").execute();
          }
          return nextNumber(type, scope, before, after);
        };
        const built = await t.context.crls.build("sign", undefined);
        assert.equal(reads.length, 2, "read once more after the first was overtaken");
        assert.ok(reads[1]! > reads[0]!);
        assert.equal(built.crlNumber, previous.crlNumber + 1n);
        assert.deepEqual(new x509.X509Crl(built.der).entries.map((e) => e.serialNumber.toUpperCase()), [victim.serialHex.toUpperCase()]);
      } finally {
        await t.cleanup();
      }
    });

    test("a build overtaken every time gives up after 5 reads: the service is unavailable (HTTP 503), nothing is numbered", async () => {
      const t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z", settings: { openStatus: true } });
      try {
        await t.context.crls.build("sign", undefined);
        // As if other builds kept reading later than this one and numbering first.
        await t.context.store.db.updateTable("crl_numbers").set({ last_version: 2 ** 40 }).where("ca_type", "=", "sign").where("scope", "=", "full").execute();
        const numbered = async () => (await t.context.store.db.selectFrom("crl_numbers").select("last_number").where("ca_type", "=", "sign").executeTakeFirstOrThrow()).last_number;
        const before = await numbered();
        const publisher = t.context.crls as unknown as { nextNumber: (...args: unknown[]) => Promise<bigint> };
        const nextNumber = publisher.nextNumber.bind(publisher);
        let reads = 0;
        publisher.nextNumber = (...args) => (reads++, nextNumber(...args));
        await assert.rejects(t.context.crls.build("sign", undefined), (error: { code?: string; message?: string }) => {
          assert.equal(error.code, "service-unavailable");
          assert.match(error.message!, /a CRL read later was numbered first.*try again/);
          return true;
        });
        assert.equal(reads, 5);
        const app = await buildApp(t.context);
        try {
          const answer = await app.inject({ method: "GET", url: "/crl/sign.crl" });
          assert.equal(answer.statusCode, 503, answer.body);
          assert.equal(answer.json().error.code, "service-unavailable");
        } finally {
          await app.close();
        }
        assert.equal(await numbered(), before);
      } finally {
        await t.cleanup();
      }
    });
  });
}
