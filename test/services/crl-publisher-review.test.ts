// CRLs around a revoked certificate's expiry (RFC 5280 §3.3), checked with OpenSSL.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { backends, openTestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { openssl, tempDir } from "../helpers/test-pki.ts";

const MACHIDA = { code: "132098", address: "東京都町田市原町田１－１－１" };

for (const backend of backends()) {
  describe(`CRLs and expiry on ${backend}`, () => {
    test("a revoked certificate stays on the CRLs issued during one CRL validity after it expires (RFC 5280 §3.3), then leaves", async () => {
      let now = new Date("2026-11-25T03:00:00Z");
      const t = await openTestContext(backend, { clock: () => new Date(now) });
      try {
        const resident = await t.context.registry.add({ name: "試験 四郎", birth: "1980-04-01", gender: "1", address: MACHIDA.address, municipality: MACHIDA.code });
        const issued = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
        await t.context.ca.revoke({ type: "sign", serialHex: issued.serialHex, reason: "keyCompromise", by: "counter" });
        const notAfter = new Date(new X509Certificate(issued.der).validTo);
        const hours = t.context.settings.crlValidityHours;
        const listed = async (at: Date, municipality?: string) => {
          now = at;
          const crl = await t.context.crls.build("sign", municipality);
          return { crl, serials: new x509.X509Crl(crl.der).entries.map((e) => e.serialNumber.toUpperCase()) };
        };
        // Before expiry, and the first CRLs after it: listed (a relying party checking a signature made
        // while the certificate was valid must still learn that it was revoked).
        assert.deepEqual((await listed(new Date(notAfter.getTime() - 3600_000))).serials, [issued.serialHex.toUpperCase()]);
        const after = await listed(new Date(notAfter.getTime() + 3600_000));
        assert.deepEqual(after.serials, [issued.serialHex.toUpperCase()], "the first CRL issued beyond the validity period lists it");
        assert.deepEqual((await listed(new Date(notAfter.getTime() + 3600_000), MACHIDA.code)).serials, [issued.serialHex.toUpperCase()], "so does the partition");

        const dir = tempDir("crl-expiry");
        try {
          dir.write("crl.der", after.crl.der);
          dir.write("ca.der", t.context.ca.authority("sign").certificateDer);
          assert.equal(openssl(["x509", "-inform", "DER", "-in", "ca.der", "-out", "ca.pem"], dir.dir).status, 0);
          const r = openssl(["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text"], dir.dir);
          assert.equal(r.status, 0, r.stderr);
          assert.match(r.stdout + r.stderr, /verify OK/);
          assert.match(r.stdout, new RegExp(`Serial Number: ${issued.serialHex.replace(/^0+/, "")}`, "i"));
        } finally {
          dir.dispose();
        }
        // Once a whole CRL validity has passed since expiry, it is left off.
        assert.deepEqual((await listed(new Date(notAfter.getTime() + (hours + 1) * 3600_000))).serials, []);
      } finally {
        await t.cleanup();
      }
    });
  });
}
