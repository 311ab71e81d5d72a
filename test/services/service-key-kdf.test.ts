// The services' own private keys (OCSP responders, terminals, the OIDC signing key) at rest at the
// CA keys' PBKDF2 count: new keys written at the configured count, keys written by earlier versions
// (2,048 iterations) still loaded and re-encryptable, and each key decrypted once, not per use.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, verify, X509Certificate, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import { Context } from "../../src/services/context.ts";
import { KeyWrapping, storedIterations, unwrapPrivateKey } from "../../src/services/keystore.ts";
import { OcspResponder } from "../../src/services/ocsp-responder.ts";
import { Terminals } from "../../src/services/terminals.ts";
import { Oidc } from "../../src/services/oidc.ts";
import { PBKDF2_ITERATIONS } from "../../src/pki/pbes2.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import { bytes } from "../../src/store/database.ts";
import { fixedClock } from "../../src/services/clock.ts";
import type { CaType } from "../../src/pki/jpki-profile.ts";
import { backends, openTestContext, TEST_KDF_ITERATIONS, TEST_PASSPHRASE, type Backend } from "../helpers/context.ts";
import { legacyEncryptedKey } from "../helpers/legacy-keys.ts";
import { requestDer } from "../helpers/ocsp.ts";

const NOW = "2026-11-25T03:00:00Z";

/** Every service key in the store, by table and row, with the PBKDF2 count it is stored at. */
async function storedCounts(context: Context): Promise<Record<string, number>> {
  const db = context.store.db;
  const counts: Record<string, number> = {};
  for (const r of await db.selectFrom("ocsp_responders").select(["id", "private_key_pem"]).execute()) counts[`ocsp:${r.id}`] = storedIterations(r.private_key_pem, r.id);
  for (const r of await db.selectFrom("terminal_keys").select(["id", "private_key_pem"]).execute()) counts[`terminal:${r.id}`] = storedIterations(r.private_key_pem, r.id);
  for (const r of await db.selectFrom("server_secrets").select(["name", "value"]).where("name", "=", "oidc-signing-key").execute()) counts[`oidc:${r.name}`] = storedIterations(r.value, r.name);
  return counts;
}

/** The OCSP answer of the `type` responder in use verifies under its certificate's key (so the loaded key is that one). */
async function responderSigns(context: Context, type: CaType): Promise<void> {
  const issuer = ocspIssuerFromCertificate(context.ca.authority(type).certificateDer);
  const answer = await context.ocsp.answer(requestDer(certIdFor(issuer, randomBytes(8)), { nonce: true }), type);
  const basic = AsnConvert.parse(AsnConvert.parse(answer.der, OCSPResponse).responseBytes!.response.buffer, BasicOCSPResponse);
  const responderKey = new X509Certificate(context.ocsp.responderCertificate(type)).publicKey;
  assert.ok(verify("sha256", Buffer.from(AsnConvert.serialize(basic.tbsResponseData)), responderKey, Buffer.from(basic.signature)), `${type} OCSP answer verifies`);
}

/** Counts the keys read back from the store (each a derivation: ≈0.2 s at production's count). */
class CountingKeyWrapping extends KeyWrapping {
  unwrapped: string[] = [];
  override unwrap(pem: string, what: string): Promise<KeyObject> {
    this.unwrapped.push(what);
    return super.unwrap(pem, what);
  }
}

/** A test store opened again at `kdfIterations` (the store, schema and data directory of `dataDir`/`schema`). */
function reopen(backend: Backend, dataDir: string, schema: string | undefined, kdfIterations: number): Promise<Context> {
  return Context.open({
    dataDir,
    env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE },
    ...(backend === "postgres" ? { databaseUrl: process.env.DATABASE_URL!, databaseSchema: schema! } : {}),
    clock: fixedClock(NOW),
    caKdfIterations: kdfIterations,
  });
}

describe("the services' keys under PBKDF2", () => {
  test("new OCSP responder, terminal and OIDC signing keys are stored at the configured count and load", async () => {
    const t = await openTestContext("sqlite", { now: NOW });
    try {
      const { context } = t;
      const counter = await context.terminals.terminal("counter-kdf", "counter");
      const kiosk = await context.terminals.terminal("kiosk-kdf", "kiosk");
      const { jwks } = await context.oidc.keys();
      assert.deepEqual(await storedCounts(context), {
        "ocsp:auth-ocsp-1": TEST_KDF_ITERATIONS,
        "ocsp:sign-ocsp-1": TEST_KDF_ITERATIONS,
        "terminal:terminal-ca": TEST_KDF_ITERATIONS,
        "terminal:counter-kdf": TEST_KDF_ITERATIONS,
        "terminal:kiosk-kdf": TEST_KDF_ITERATIONS,
        "oidc:oidc-signing-key": TEST_KDF_ITERATIONS,
      });
      for (const type of ["sign", "auth"] as const) await responderSigns(context, type);
      // What the services hold is what the store holds, under the passphrase.
      const rows = await context.store.db.selectFrom("terminal_keys").select(["id", "private_key_pem", "certificate_der"]).execute();
      for (const [id, made] of [["counter-kdf", counter], ["kiosk-kdf", kiosk]] as const) {
        const row = rows.find((r) => r.id === id)!;
        assert.ok((await unwrapPrivateKey(row.private_key_pem, TEST_PASSPHRASE, id)).key.equals(made.privateKey));
        assert.ok(new X509Certificate(bytes(row.certificate_der)).publicKey.equals(new X509Certificate(made.certificateDer).publicKey));
      }
      const oidcRow = await context.store.db.selectFrom("server_secrets").select("value").where("name", "=", "oidc-signing-key").executeTakeFirstOrThrow();
      assert.equal((await unwrapPrivateKey(oidcRow.value, TEST_PASSPHRASE, "OIDC")).key.export({ format: "jwk" }).n, jwks.keys[0]!.n);
      // A terminal asked for in the other role is refused, cached or not.
      await assert.rejects(context.terminals.terminal("counter-kdf", "kiosk"), /counter terminal, not kiosk/);
    } finally {
      await t.cleanup();
    }
  });

  test("a terminal key made with production's default count is stored at 600,000 iterations", async () => {
    const t = await openTestContext("sqlite", { now: NOW });
    try {
      const wrapping = new KeyWrapping(TEST_PASSPHRASE);
      assert.equal(wrapping.iterations, PBKDF2_ITERATIONS);
      const terminals = new Terminals(t.context.store.db, wrapping, fixedClock(NOW));
      const ca = await terminals.ca();
      const row = await t.context.store.db.selectFrom("terminal_keys").select("private_key_pem").where("id", "=", "terminal-ca").executeTakeFirstOrThrow();
      assert.equal(storedIterations(row.private_key_pem, "terminal CA"), 600_000);
      assert.ok(ca.publicKey.equals(new X509Certificate(ca.certificateDer).publicKey));
    } finally {
      await t.cleanup();
    }
  });

  test("stored keys are decrypted once and kept: OCSP only the responders in use, terminals and OIDC once however many ask", async () => {
    const t = await openTestContext("sqlite", { now: NOW });
    try {
      const { context } = t;
      await context.terminals.terminal("counter-kdf", "counter");
      await context.oidc.keys();
      // An earlier responder generation: never loaded (it signs nothing).
      const db = context.store.db;
      const first = await db.selectFrom("ocsp_responders").selectAll().where("id", "=", "sign-ocsp-1").executeTakeFirstOrThrow();
      await db.insertInto("ocsp_responders").values({ ...first, id: "sign-ocsp-0", generation: 0 }).execute();

      const wrapping = new CountingKeyWrapping(TEST_PASSPHRASE, TEST_KDF_ITERATIONS);
      const ocsp = new OcspResponder(context.store, context.ca, context.settings, wrapping, fixedClock(NOW));
      await Promise.all([ocsp.ensureResponders(), ocsp.ensureResponders()]);
      await ocsp.ensureResponders();
      assert.deepEqual(wrapping.unwrapped.sort(), ["auth OCSP responder", "sign OCSP responder"]);

      wrapping.unwrapped = [];
      const terminals = new Terminals(db, wrapping, fixedClock(NOW));
      const [a, b] = await Promise.all([terminals.terminal("counter-kdf", "counter"), terminals.terminal("counter-kdf", "counter"), terminals.ca(), terminals.ca()]);
      assert.equal(a, b);
      await terminals.terminal("counter-kdf", "counter");
      await terminals.ca();
      assert.deepEqual(wrapping.unwrapped.sort(), ["terminal CA", "terminal counter-kdf"]);

      wrapping.unwrapped = [];
      const oidc = new Oidc(db, context.portal, wrapping, fixedClock(NOW));
      const [k1, k2] = await Promise.all([oidc.keys(), oidc.keys()]);
      await oidc.keys();
      assert.deepEqual(k1.jwks, k2.jwks);
      assert.deepEqual(wrapping.unwrapped, ["OIDC signing"]);
    } finally {
      await t.cleanup();
    }
  });

  for (const backend of backends()) {
    test(`${backend}: keys stored at 2,048 iterations (earlier versions) still load, and rewrapStoredKeys encrypts them again, once`, async () => {
      const schema = backend === "postgres" ? `t_${randomBytes(6).toString("hex")}` : undefined;
      const t = await openTestContext(backend, { now: NOW, ...(schema ? { schema } : {}) });
      let context: Context | undefined;
      try {
        // A store as an earlier version left it: every service key at Node's default 2,048 iterations.
        const terminal = await t.context.terminals.terminal("kiosk-kdf", "kiosk");
        const terminalCaKey = (await t.context.terminals.ca()).publicKey;
        const n = (await t.context.oidc.keys()).jwks.keys[0]!.n;
        const db = t.context.store.db;
        const legacy = async (pem: string) => legacyEncryptedKey((await unwrapPrivateKey(pem, TEST_PASSPHRASE, "test")).key, TEST_PASSPHRASE);
        for (const r of await db.selectFrom("ocsp_responders").select(["id", "private_key_pem"]).execute()) {
          await db.updateTable("ocsp_responders").set({ private_key_pem: await legacy(r.private_key_pem) }).where("id", "=", r.id).execute();
        }
        for (const r of await db.selectFrom("terminal_keys").select(["id", "private_key_pem"]).execute()) {
          await db.updateTable("terminal_keys").set({ private_key_pem: await legacy(r.private_key_pem) }).where("id", "=", r.id).execute();
        }
        const oidcRow = await db.selectFrom("server_secrets").select("value").where("name", "=", "oidc-signing-key").executeTakeFirstOrThrow();
        await db.updateTable("server_secrets").set({ value: await legacy(oidcRow.value) }).where("name", "=", "oidc-signing-key").execute();
        await t.context.close();

        context = await reopen(backend, t.dataDir, schema, 4_096);
        assert.ok(Object.values(await storedCounts(context)).every((n) => n === 2048));
        for (const type of ["sign", "auth"] as const) await responderSigns(context, type);
        assert.ok((await context.terminals.terminal("kiosk-kdf", "kiosk")).privateKey.equals(terminal.privateKey));
        assert.equal((await context.oidc.keys()).jwks.keys[0]!.n, n);

        const rewrap = async () => ({
          ocsp: await context!.ocsp.rewrapStoredKeys(),
          terminals: await context!.terminals.rewrapStoredKeys(),
          oidc: await context!.oidc.rewrapStoredKeys(),
        });
        assert.deepEqual(await rewrap(), {
          ocsp: [{ id: "auth-ocsp-1", rewrapped: true }, { id: "sign-ocsp-1", rewrapped: true }],
          terminals: [{ id: "kiosk-kdf", rewrapped: true }, { id: "terminal-ca", rewrapped: true }],
          oidc: [{ id: "oidc-signing-key", rewrapped: true }],
        });
        assert.ok(Object.values(await storedCounts(context)).every((n) => n === 4_096), JSON.stringify(await storedCounts(context)));
        const again = await rewrap();
        assert.ok([...again.ocsp, ...again.terminals, ...again.oidc].every((k) => !k.rewrapped));
        await context.close();

        // The re-encrypted keys load and are the same keys.
        context = await reopen(backend, t.dataDir, schema, TEST_KDF_ITERATIONS);
        for (const type of ["sign", "auth"] as const) await responderSigns(context, type);
        assert.ok((await context.terminals.terminal("kiosk-kdf", "kiosk")).privateKey.equals(terminal.privateKey));
        assert.ok((await context.terminals.ca()).publicKey.equals(terminalCaKey));
        assert.equal((await context.oidc.keys()).jwks.keys[0]!.n, n);
      } finally {
        await context?.close();
        await t.cleanup();
      }
    });
  }
});
