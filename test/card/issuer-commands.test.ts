/**
 * Issuer-side commands (docs/card-issuer-commands.md): refused (69 82) without an
 * authenticated terminal, all allowed to a counter terminal, and only the PIN resets
 * of spec rules §2.4 to a kiosk terminal. Also key custody and persistence.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createHash, verify as rsaVerify, sign as rsaSign, generateKeyPairSync, constants } from "node:crypto";
import { issuedCardTemplate, cloneCard, tempRoot, AUTH_PIN, SIGN_PIN, type CardTemplate } from "./fixtures/cards.ts";
import { certifyCardKey } from "./fixtures/pki.ts";
import { expectSw, send, selectEf, verifyApdu, toHex, SELECT_JPKI, SELECT_KENHOJO } from "./fixtures/apdu-helpers.ts";
import { manufactureCard, openCard } from "../../src/card/index.ts";
import { InProcessReader } from "../../src/readers/in-process.ts";
import { IssuerSession, IssuerCommandError, commandApdu, TERMINAL_AUTH_CONTEXT } from "../../src/client/issuer.ts";
import { createTerminalCa, createTerminalCredentials, TERMINAL_ROLE_OID } from "../../src/client/terminal-credentials.ts";
import "reflect-metadata";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import * as asn1X509 from "@peculiar/asn1-x509";

let t: CardTemplate;
before(async () => {
  t = await issuedCardTemplate();
});

const DI = "3031300d060960864801650304020105000420";
const sha256DigestInfo = (m: Buffer) => DI + createHash("sha256").update(m).digest("hex");
const hexOf = (s: string) => Buffer.from(s, "ascii").toString("hex");

async function rejects(p: Promise<unknown>, sw: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof IssuerCommandError && e.sw === sw);
}

describe("issuer commands without terminal authentication", () => {
  it("GENERATE KEY PAIR, REPLACE BINARY and RESET RETRY COUNTER answer 6982", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00460097000000", "6982");
    await expectSw(reader, "00460197000000", "6982");
    await expectSw(reader, selectEf("000A"), "9000");
    await expectSw(reader, commandApdu(0x80, 0xd6, 0, 0, t.authCert), "6982");
    await expectSw(reader, "002C02980439393939", "6982");
    await expectSw(reader, "002C0398", "6982");
    // even right after the holder's PIN: PINs are not terminal authentication
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await expectSw(reader, "002C029B06" + hexOf("NEWPW1"), "6982");
  });
  it("a terminal certificate from another CA is refused (6A80) and EXTERNAL AUTHENTICATE then fails (6985)", async () => {
    const { reader } = await cloneCard(t);
    const rogueCa = await createTerminalCa();
    const rogue = await createTerminalCredentials(rogueCa, { role: "counter" });
    await expectSw(reader, SELECT_JPKI, "9000");
    const challenge = await expectSw(reader, "0084000010", "9000");
    await expectSw(reader, commandApdu(0x00, 0x2a, 0x00, 0xbe, rogue.certificateDer), "6A80");
    const sig = rsaSign("sha256", Buffer.concat([Buffer.from(TERMINAL_AUTH_CONTEXT, "latin1"), challenge]), rogue.privateKey);
    await expectSw(reader, commandApdu(0x00, 0x82, 0, 0, sig), "6985");
    await expectSw(reader, "00460097000000", "6982");
    await rejects(new IssuerSession(reader).authenticate(rogue), 0x6a80);
  });
  it("the role extension must be critical; an unknown critical extension or a keyUsage without digitalSignature is refused (6A80)", async () => {
    // The counter terminal's own key, certified again by the trusted CA with its extensions changed.
    const variant = async (change: (extensions: asn1X509.Extension[]) => void): Promise<Uint8Array> => {
      const cert = AsnConvert.parse(t.pki.counter.certificateDer, asn1X509.Certificate);
      const extensions = cert.tbsCertificate.extensions!;
      // Parsing reads the role's 128-bit UUID arc as a double: the extension is written anew, as terminal-credentials does.
      extensions[extensions.length - 1] = new asn1X509.Extension({ extnID: TERMINAL_ROLE_OID, critical: true, extnValue: new OctetString(Uint8Array.of(0x0a, 0x01, 0x01)) });
      change(extensions);
      cert.signatureValue = new Uint8Array(rsaSign("sha256", new Uint8Array(AsnConvert.serialize(cert.tbsCertificate)), t.pki.terminalCa.privateKey)).buffer;
      return new Uint8Array(AsnConvert.serialize(cert));
    };
    const isRole = (e: asn1X509.Extension) => e.extnID === TERMINAL_ROLE_OID;
    const authenticated = async (der: Uint8Array) => {
      const { reader } = await cloneCard(t);
      await expectSw(reader, SELECT_JPKI, "9000");
      const answer = toHex(await reader.transmit(commandApdu(0x00, 0x2a, 0x00, 0xbe, der)));
      return answer.slice(-4);
    };
    assert.equal(await authenticated(await variant(() => {})), "9000", "re-signed unchanged: accepted");
    const notCritical = await variant((exts) => {
      for (const e of exts) if (isRole(e)) e.critical = false;
    });
    assert.equal(await authenticated(notCritical), "6A80");
    const unknownCritical = await variant((exts) => {
      exts.push(new asn1X509.Extension({ extnID: "1.2.3.4.5", critical: true, extnValue: new OctetString(Uint8Array.of(5, 0)) }));
    });
    assert.equal(await authenticated(unknownCritical), "6A80");
    const unknownNotCritical = await variant((exts) => {
      exts.push(new asn1X509.Extension({ extnID: "1.2.3.4.5", critical: false, extnValue: new OctetString(Uint8Array.of(5, 0)) }));
    });
    assert.equal(await authenticated(unknownNotCritical), "9000", "a non-critical extension the card does not know is ignored");
    const signOnlyKeyUsage = await variant((exts) => {
      const at = exts.findIndex((e) => e.extnID === "2.5.29.15");
      exts[at] = new asn1X509.Extension({ extnID: "2.5.29.15", critical: true, extnValue: new OctetString(Uint8Array.of(0x03, 0x02, 0x02, 0x04)) }); // keyCertSign only
    });
    assert.equal(await authenticated(signOnlyKeyUsage), "6A80");
  });
  it("a signature by another key over the challenge fails (6300); a challenge is used once", async () => {
    const { reader } = await cloneCard(t);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    await expectSw(reader, SELECT_JPKI, "9000");
    let challenge = await expectSw(reader, "0084000010", "9000");
    await expectSw(reader, commandApdu(0x00, 0x2a, 0x00, 0xbe, t.pki.counter.certificateDer), "9000");
    const msg = (c: Uint8Array) => Buffer.concat([Buffer.from(TERMINAL_AUTH_CONTEXT, "latin1"), c]);
    await expectSw(reader, commandApdu(0x00, 0x82, 0, 0, rsaSign("sha256", msg(challenge), other)), "6300");
    await expectSw(reader, "00460097000000", "6982");
    // the right key, but the challenge is spent
    await expectSw(reader, commandApdu(0x00, 0x2a, 0x00, 0xbe, t.pki.counter.certificateDer), "9000");
    await expectSw(reader, commandApdu(0x00, 0x82, 0, 0, rsaSign("sha256", msg(challenge), t.pki.counter.privateKey)), "6985");
    // a short challenge is not enough
    challenge = await expectSw(reader, "0084000008", "9000");
    await expectSw(reader, commandApdu(0x00, 0x2a, 0x00, 0xbe, t.pki.counter.certificateDer), "9000");
    await expectSw(reader, commandApdu(0x00, 0x82, 0, 0, rsaSign("sha256", msg(challenge), t.pki.counter.privateKey)), "6985");
    // and then properly
    challenge = await expectSw(reader, "0084000010", "9000");
    await expectSw(reader, commandApdu(0x00, 0x2a, 0x00, 0xbe, t.pki.counter.certificateDer), "9000");
    await expectSw(reader, commandApdu(0x00, 0x82, 0, 0, rsaSign("sha256", msg(challenge), t.pki.counter.privateKey)), "9000");
    assert.equal((await expectSw(reader, "00460197000000", "9000")).length, 294);
  });
  it("an expired terminal certificate is refused (card clock)", async () => {
    const { reader } = await cloneCard(t, { clock: () => new Date(Date.UTC(2099, 0, 1)) });
    await rejects(new IssuerSession(reader).authenticate(t.pki.counter), 0x6a80);
  });
  it("terminal authentication ends with reset and with selecting another AP", async () => {
    const { reader } = await cloneCard(t);
    await new IssuerSession(reader).authenticate(t.pki.counter);
    await expectSw(reader, "00460197000000", "9000");
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00460197000000", "6982");
    await new IssuerSession(reader).authenticate(t.pki.counter);
    await reader.reset();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00460197000000", "6982");
  });
});

describe("counter terminal", () => {
  it("restores a blocked PIN's counter (P1 03) and sets a new PIN (P1 02)", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_JPKI, "9000");
    for (const sw of ["63C2", "63C1", "63C0"]) await expectSw(reader, verifyApdu("0000", "98"), sw);
    const issuer = new IssuerSession(reader);
    await issuer.authenticate(t.pki.counter);
    await issuer.restoreRetryCounter("auth");
    await expectSw(reader, "00200098", "63C3");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await issuer.setPin("sign", "newpass99");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "63C4");
    await expectSw(reader, verifyApdu("NEWPASS99", "9B"), "9000");
    await rejects(issuer.setPin("auth", "12345"), 0x6a80);
    await rejects(issuer.setPin("sign", "SHORT"), 0x6a80);
  });
  it("certificate EFs accept only one DER object with a 30 82 header, within the EF's size", async () => {
    const { reader } = await cloneCard(t);
    const issuer = new IssuerSession(reader);
    await issuer.authenticate(t.pki.counter);
    await rejects(issuer.writeCertificate("auth", Uint8Array.of(0x30, 0x03, 1, 2, 3)), 0x6a80);
    await rejects(issuer.writeCertificate("auth", Buffer.concat([t.authCert, Buffer.of(0)])), 0x6a80);
    await rejects(issuer.writeCertificate("auth", new Uint8Array(5000)), 0x6700);
    await expectSw(reader, selectEf("0006"), "9000");
    await expectSw(reader, commandApdu(0x80, 0xd6, 0, 0, new Uint8Array(160)), "6985");
    await expectSw(reader, selectEf("0008"), "9000");
    await expectSw(reader, commandApdu(0x80, 0xd6, 0, 0, Uint8Array.of(0, 0, 0)), "6985");
    await expectSw(reader, selectEf("0017"), "9000");
    await expectSw(reader, commandApdu(0x80, 0xd6, 0, 0, t.authCert), "6981");
  });
  it("a new key empties its certificate EF; the new key signs, and survives reopen", async () => {
    const { reader, dir } = await cloneCard(t);
    const issuer = new IssuerSession(reader);
    await issuer.authenticate(t.pki.counter);
    const pub = await issuer.generateKeyPair("sign");
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(pub.asymmetricKeyDetails?.publicExponent, 65537n);
    assert.notEqual(toHex(pub.export({ type: "spki", format: "der" })), toHex(t.signPublicKey.export({ type: "spki", format: "der" })));
    assert.equal(toHex(await expectSw(reader, "00B0880003", "9000")), "8F0000");
    const cert = await certifyCardKey(t.pki.jpkiCa, pub, "renewed sign");
    await issuer.writeCertificate("sign", cert);
    assert.equal(toHex(await expectSw(reader, "00B0880003", "9000")), "8F8F00");

    const again = new InProcessReader(await openCard(dir));
    await again.connect();
    await expectSw(again, SELECT_JPKI, "9000");
    await expectSw(again, verifyApdu(SIGN_PIN, "9B"), "9000");
    const m = Buffer.from("after reopen");
    const sig = await expectSw(again, `802A009A33${sha256DigestInfo(m)}00`, "9000");
    assert.ok(rsaVerify("sha256", m, pub, sig));
    assert.ok(!rsaVerify("sha256", m, t.signPublicKey, sig));
    const read = await expectSw(again, "00B08100000000", "9000");
    assert.deepEqual(new Uint8Array(read), cert);
  });
  it("GENERATE KEY PAIR needs extended Le for the 294-byte key and refuses non-key references", async () => {
    const { reader } = await cloneCard(t);
    await new IssuerSession(reader).authenticate(t.pki.counter);
    await expectSw(reader, "0046019700", "6700");
    await expectSw(reader, "00460198000000", "6A88");
    await expectSw(reader, "00460297000000", "6A86");
    await expectSw(reader, "00460080000000", "6A86");
  });
});

describe("kiosk terminal (rules §2.4)", () => {
  it("may not generate keys, write certificates, restore counters or touch the kenhojo PIN", async () => {
    const { reader } = await cloneCard(t);
    const kiosk = new IssuerSession(reader);
    await kiosk.authenticate(t.pki.kiosk);
    await rejects(kiosk.generateKeyPair("auth"), 0x6982);
    await rejects(kiosk.writeCertificate("auth", t.authCert), 0x6982);
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await rejects(kiosk.restoreRetryCounter("sign"), 0x6982);
    await rejects(kiosk.setPin("kenhojo", "1111"), 0x6982);
  });
  it("resets the signing password only after the holder verified the auth PIN in this session", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_JPKI, "9000");
    for (const sw of ["63C4", "63C3", "63C2", "63C1", "63C0"]) await expectSw(reader, verifyApdu("FORGOT1", "9B"), sw);
    const kiosk = new IssuerSession(reader);
    await kiosk.authenticate(t.pki.kiosk);
    await rejects(kiosk.setPin("sign", "RESET42"), 0x6982);
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await kiosk.setPin("sign", "RESET42");
    await expectSw(reader, "0020009B", "63C5");
    await expectSw(reader, verifyApdu("RESET42", "9B"), "9000");
  });
  it("a PIN verified before a reset does not count", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await reader.reset();
    const kiosk = new IssuerSession(reader);
    await kiosk.authenticate(t.pki.kiosk);
    await rejects(kiosk.setPin("sign", "RESET42"), 0x6982);
  });
  it("resets the auth PIN after the signing password only where the card's switch allows it", async () => {
    const { reader } = await cloneCard(t);
    const kiosk = new IssuerSession(reader);
    await kiosk.authenticate(t.pki.kiosk);
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await rejects(kiosk.setPin("auth", "4444"), 0x6982);

    const allowing = await issuedCardTemplate({ kioskAuthPinReset: true });
    const c2 = await cloneCard(allowing);
    const kiosk2 = new IssuerSession(c2.reader);
    await kiosk2.authenticate(t.pki.kiosk);
    await rejects(kiosk2.setPin("auth", "4444"), 0x6982); // nothing verified yet
    await expectSw(c2.reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await rejects(kiosk2.setPin("auth", "4444"), 0x6982); // the same PIN does not count
    await expectSw(c2.reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await kiosk2.setPin("auth", "4444");
    await expectSw(c2.reader, verifyApdu("4444", "98"), "9000");
  });
});

describe("blank card, key custody and storage", () => {
  it("a blank card has no certificates, no keys and PINs that behave as blocked", async () => {
    const dir = join(await tempRoot(), "blank");
    const card = await manufactureCard({ dir, cardId: "BLANK-1", terminalCaPublicKeyDer: t.pki.terminalCa.publicKeyDer });
    const reader = new InProcessReader(card);
    await reader.connect();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00200098", "63C0");
    await expectSw(reader, verifyApdu("1234", "98"), "6984");
    await expectSw(reader, "00B08A0004", "6B00");
    assert.equal(toHex(await expectSw(reader, "00B0880003", "9000")), "000000");
    const label = await expectSw(reader, "00B0860020", "9000");
    assert.match(Buffer.from(label).toString("ascii"), /^JPKIAPICCTOKEN2 +$/);
    await expectSw(reader, "802A0097" + "0101" + "00", "6982");
    await manufactureCard({ dir, cardId: "BLANK-2", terminalCaPublicKeyDer: t.pki.terminalCa.publicKeyDer }).then(
      () => assert.fail("manufacturing over an existing card must fail"),
      () => undefined,
    );
  });
  it("stores keys sealed, PINs as MACs, files 0600; a wrong master key cannot open the card", async () => {
    const { dir } = await cloneCard(t);
    const image = JSON.parse(await readFile(join(dir, "chip.json"), "utf8"));
    const text = JSON.stringify(image);
    assert.ok(!text.includes(AUTH_PIN) && !text.includes(SIGN_PIN));
    for (const k of Object.values(image.keys) as { sealed: string }[]) {
      const raw = Buffer.from(k.sealed, "base64");
      assert.ok(raw.indexOf(Buffer.from("020100300d06092a864886f70d0101010500", "hex")) < 0, "no PKCS#8 in clear");
    }
    assert.equal((await stat(join(dir, "chip.json"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "chip-master.key"))).mode & 0o777, 0o600);
    await assert.rejects(openCard(dir, { chipMasterKey: new Uint8Array(32) }), /wrong chip master key/);
  });
  it("no command answers with private key material (every answer of every INS is scanned)", async () => {
    const { reader } = await cloneCard(t);
    const issuer = new IssuerSession(reader);
    await issuer.authenticate(t.pki.counter);
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    const pkcs8Marker = Buffer.from("020100300d06092a864886f70d0101010500", "hex");
    for (const fid of ["0017", "001A"]) {
      await expectSw(reader, selectEf(fid), "9000");
      for (let ins = 0; ins < 256; ins += 2) {
        if (ins === 0x46 || ins === 0x2c || ins === 0x24 || ins === 0x20) continue; // state-changing
        for (const cla of [0x00, 0x80]) {
          const r = await reader.transmit(Uint8Array.of(cla, ins, 0x00, 0x80, 0x00, 0x00, 0x00));
          assert.ok(Buffer.from(r).indexOf(pkcs8Marker) < 0);
        }
      }
    }
    // the public key is what GENERATE's P1=01 answers, nothing more
    const spki = await expectSw(reader, "00460197000000", "9000");
    assert.equal(toHex(spki), toHex(t.authPublicKey.export({ type: "spki", format: "der" })));
  });
  it("signatures from the card verify with node's crypto against the key the card gave at generation", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    for (let i = 0; i < 5; i++) {
      const m = Buffer.from(`message ${i}`);
      const sig = await send(reader, `802A009733${sha256DigestInfo(m)}00`);
      assert.equal(sig.sw, "9000");
      assert.ok(rsaVerify("sha256", m, { key: t.authPublicKey, padding: constants.RSA_PKCS1_PADDING }, sig.data));
    }
  });
});
