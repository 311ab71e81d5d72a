/**
 * The issuer client over the in-process reader: terminal credentials, APDU encoding,
 * the 券面事項入力補助AP encodings, and a full personalisation of a blank card.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate, createHash, verify as rsaVerify } from "node:crypto";
import { manufactureCard, TERMINAL_ROLE_OID as CARD_ROLE_OID, TERMINAL_AUTH_CONTEXT as CARD_CONTEXT } from "../../src/card/index.ts";
import { InProcessReader } from "../../src/readers/in-process.ts";
import { IssuerSession, IssuerCommandError, commandApdu, TERMINAL_AUTH_CONTEXT } from "../../src/client/issuer.ts";
import {
  createTerminalCa,
  createTerminalCredentials,
  TERMINAL_ROLE_OID,
  type TerminalCa,
  type TerminalCredentials,
} from "../../src/client/terminal-credentials.ts";
import { encodeAttributesFile, encodeMyNumberFile } from "../../src/client/kenhojo-encoding.ts";

let ca: TerminalCa;
let counter: TerminalCredentials;
before(async () => {
  ca = await createTerminalCa();
  counter = await createTerminalCredentials(ca, { role: "counter" });
});

describe("terminal credentials", () => {
  it("the client and the card agree on the role OID and the signed context", () => {
    assert.equal(TERMINAL_ROLE_OID, CARD_ROLE_OID);
    assert.equal(TERMINAL_AUTH_CONTEXT, CARD_CONTEXT);
  });
  it("a terminal certificate is issued by the terminal CA, not a CA itself, with a critical role extension", () => {
    const cert = new X509Certificate(counter.certificateDer);
    const caCert = new X509Certificate(ca.certificateDer);
    assert.ok(cert.verify(ca.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.ca, false);
    assert.equal(caCert.ca, true);
    // the role extension: OID, critical TRUE, OCTET STRING { ENUMERATED 1 }
    const der = Buffer.from(counter.certificateDer);
    const at = der.indexOf(Buffer.from("0101ff04030a0101", "hex"));
    assert.ok(at > 0);
  });
});

describe("commandApdu", () => {
  it("encodes short and extended forms", () => {
    const hex = (u: Uint8Array) => Buffer.from(u).toString("hex").toUpperCase();
    assert.equal(hex(commandApdu(0, 0x84, 0, 0, undefined, 16)), "0084000010");
    assert.equal(hex(commandApdu(0, 0xb0, 0, 0, undefined, 256)), "00B0000000");
    assert.equal(hex(commandApdu(0, 0x46, 0, 0x97, undefined, 65536)), "00460097000000");
    assert.equal(hex(commandApdu(0, 0x20, 0, 0x80)), "00200080");
    const long = commandApdu(0x80, 0xd6, 0, 0, new Uint8Array(300));
    assert.equal(hex(long.subarray(0, 7)), "80D6000000012C");
    assert.equal(long.length, 307);
    assert.throws(() => commandApdu(0, 0, 0, 0, new Uint8Array(70000)), RangeError);
  });
});

describe("kenhojo encodings", () => {
  it("EF 0001 is exactly 17 bytes", () => {
    assert.equal(Buffer.from(encodeMyNumberFile("123456789018")).toString("hex"), "ff100c313233343536373839303138ffff");
    assert.throws(() => encodeMyNumberFile("12345"));
  });
  it("EF 0002 is FF 20 with DF21 offsets pointing at DF22..DF25", () => {
    const f = encodeAttributesFile({ name: "山田　太郎", address: "東京都", birthDate: "20000101", sex: "1" });
    assert.equal(f[0], 0xff);
    assert.equal(f[1], 0x20);
    const offsets = [0, 1, 2, 3].map((i) => (f[6 + 2 * i]! << 8) | f[7 + 2 * i]!); // after FF 20 L DF 21 08
    assert.deepEqual(offsets.map((o) => f[o + 1]), [0x22, 0x23, 0x24, 0x25]);
    assert.ok(offsets.every((o) => f[o] === 0xdf));
    assert.throws(() => encodeAttributesFile({ name: "x", address: "y", birthDate: "2000-01-01", sex: "1" }));
    assert.throws(() => encodeAttributesFile({ name: "x".repeat(2000), address: "y", birthDate: "20000101", sex: "1" }));
  });
});

describe("IssuerSession over InProcessReader", () => {
  it("personalises a blank card: keys, certificates, PINs, kenhojo; the card then signs as the holder's card", async () => {
    const root = await mkdtemp(join(tmpdir(), "openjpki-issuer-"));
    try {
      const card = await manufactureCard({ dir: join(root, "card"), cardId: "C1", terminalCaPublicKeyDer: ca.publicKeyDer });
      const reader = new InProcessReader(card);
      await assert.rejects(reader.transmit(Uint8Array.of(0, 0xa4, 0, 0)), /not connected/);
      await reader.connect();
      const session = new IssuerSession(reader);
      await assert.rejects(session.generateKeyPair("auth"), /authenticate the terminal first/);
      await session.authenticate(counter);
      const authKey = await session.generateKeyPair("auth");
      assert.equal(
        (await session.readPublicKey("auth")).export({ type: "spki", format: "der" }).toString("hex"),
        authKey.export({ type: "spki", format: "der" }).toString("hex"),
      );
      await session.writeCertificate("auth-ca", ca.certificateDer); // any 30 82 DER object will do here
      await session.setPin("auth", "2468");
      await session.writeKenhojo({ myNumber: "123456789018", name: "山田　太郎", address: "東京都", birthDate: "20000101", sex: "1" });
      await session.setPin("kenhojo", "1357");
      await session.setPin("sign", "abc123"); // upper-cased like myna does
      await assert.rejects(session.setPin("auth", "12a4"), (e: unknown) => e instanceof IssuerCommandError && e.sw === 0x6a80);

      // As the holder, over the same reader.
      const send = async (hex: string) => Buffer.from(await reader.transmit(Buffer.from(hex, "hex")));
      assert.equal((await send("00A4040C0AD392F000260100000001")).toString("hex"), "9000");
      assert.equal((await send("0020009B06" + Buffer.from("ABC123").toString("hex"))).toString("hex"), "9000");
      assert.equal((await send("0020009804" + Buffer.from("2468").toString("hex"))).toString("hex"), "9000");
      const m = Buffer.from("hello");
      const di = "3031300d060960864801650304020105000420" + createHash("sha256").update(m).digest("hex");
      const r = await send(`802A009733${di}00`);
      assert.equal(r.subarray(256).toString("hex"), "9000");
      assert.ok(rsaVerify("sha256", m, authKey, r.subarray(0, 256)));
      await reader.disconnect();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
