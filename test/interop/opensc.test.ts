/**
 * Interoperability: the virtual card attached to a private pcscd through vpcd, driven by
 * Debian's OpenSC (its jpki driver, pkcs15-tool, pkcs11-tool), openssl, and our own
 * client over pcsclite. Every external command runs inside the private pcscd's mount
 * namespace with a timeout; pcscd logs every APDU so a failure shows the exchange.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify as rsaVerify, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachToVpcd, type VpcdAttachment } from "../../src/readers/vpcd.ts";
import { OPENSC_PKCS11_MODULE, pcscdUnavailableReason, startPcscd, type ExecResult, type PcscdHarness } from "../helpers/pcscd.ts";
import { freshCard, issuedCardTemplate, TEST_KENHOJO, TEST_PINS, type FreshCard } from "../helpers/issued-card.ts";

const skip = pcscdUnavailableReason(["pkcs15-tool", "pkcs11-tool", "opensc-tool", "openssl"]);
const AUTH_TOKEN = "JPKI (User Authentication PIN)";
const SIGN_TOKEN = "JPKI (Digital Signature PIN)";

describe("OpenSC and PC/SC clients against the virtual card through vpcd", { skip: skip ?? false }, () => {
  let pcscd: PcscdHarness;
  let work: string;

  before(async () => {
    pcscd = await startPcscd({ debug: true });
    work = mkdtempSync(join(tmpdir(), "openjpki-interop-"));
    await issuedCardTemplate(); // personalise once, outside the per-test timeouts
  });
  after(async () => {
    await pcscd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh copy of the issued card, attached to the private pcscd, present in slot 0. */
  async function withAttachedCard(fn: (card: FreshCard) => Promise<void>): Promise<void> {
    const card = await freshCard();
    let link: VpcdAttachment | null = null;
    try {
      link = attachToVpcd(card.card, { port: pcscd.vpcdPort });
      await link.connected;
      await waitForCard();
      await fn(card);
    } catch (e) {
      const log = pcscd.log().split("\n").slice(-80).join("\n");
      throw new Error(`${(e as Error).message}\n--- pcscd log (tail) ---\n${log}`, { cause: e });
    } finally {
      await link?.close();
      await waitForNoCard();
      card.dispose();
    }
  }

  async function run(cmd: string, args: string[], opts: { input?: string } = {}): Promise<ExecResult> {
    return pcscd.exec(cmd, args, { timeoutMs: 30_000, ...opts });
  }

  function ok(r: ExecResult, what: string): ExecResult {
    assert.equal(r.timedOut, false, `${what} timed out`);
    assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  async function waitForCard(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await run("opensc-tool", ["-r", pcscd.readerName, "-a"]);
      if (r.code === 0) return;
      if (Date.now() > deadline) throw new Error(`card did not appear: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 150));
    }
  }

  async function waitForNoCard(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const r = await run("opensc-tool", ["-r", pcscd.readerName, "-a"]);
      if (r.code !== 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** PIN objects from `pkcs15-tool --list-pins`: label → tries left. */
  function parsePins(text: string): Map<string, { triesLeft: number }> {
    const pins = new Map<string, { triesLeft: number }>();
    for (const block of text.split(/\n(?=PIN \[)/)) {
      const label = /^PIN \[([^\]]+)\]/m.exec(block)?.[1];
      const tries = /Tries left\s*:\s*(\d+)/.exec(block)?.[1];
      if (label && tries) pins.set(label, { triesLeft: Number(tries) });
    }
    return pins;
  }

  test("opensc-tool identifies the card as jpki", { timeout: 60_000 }, async () => {
    await withAttachedCard(async () => {
      const r = ok(await run("opensc-tool", ["-r", pcscd.readerName, "-n"]), "opensc-tool -n");
      assert.match(r.stdout, /^jpki$/m);
    });
  });

  test("pkcs15-tool -D lists 4 certificates, 2 PINs (3 and 5 tries), 2 private keys", { timeout: 60_000 }, async () => {
    await withAttachedCard(async () => {
      const r = ok(await run("pkcs15-tool", ["-r", "0", "-D"]), "pkcs15-tool -D");
      const certs = r.stdout.match(/^X\.509 Certificate \[/gm) ?? [];
      const keys = r.stdout.match(/^Private RSA Key \[/gm) ?? [];
      const pinBlocks = r.stdout.match(/^PIN \[/gm) ?? [];
      assert.equal(certs.length, 4, r.stdout);
      assert.equal(keys.length, 2, r.stdout);
      assert.equal(pinBlocks.length, 2, r.stdout);
      const pins = parsePins(r.stdout);
      assert.deepEqual([...pins.values()].map((p) => p.triesLeft).sort(), [3, 5], r.stdout);
      assert.match(r.stdout, /User Authentication Certificate/);
      assert.match(r.stdout, /Digital Signature Certificate/);
    });
  });

  test("pkcs15-tool --read-certificate 01 returns the card's authentication certificate", { timeout: 60_000 }, async () => {
    await withAttachedCard(async (card) => {
      const r = ok(await run("pkcs15-tool", ["-r", "0", "--read-certificate", "01"]), "pkcs15-tool --read-certificate 01");
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
      assert.ok(pem, r.stdout);
      assert.deepEqual(new Uint8Array(new X509Certificate(pem).raw), card.certs.auth);
      // the signing certificate needs the signing password
      const denied = await run("pkcs15-tool", ["-r", "0", "--read-certificate", "02"]);
      assert.notEqual(denied.code, 0, "reading the signing certificate without the password must fail");
      const withPin = ok(
        await run("pkcs15-tool", ["-r", "0", "--read-certificate", "02", "--verify-pin", "--auth-id", "02", "--pin", TEST_PINS.sign]),
        "pkcs15-tool --read-certificate 02 with password",
      );
      const signPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(withPin.stdout)?.[0];
      assert.ok(signPem, withPin.stdout);
      assert.deepEqual(new Uint8Array(new X509Certificate(signPem).raw), card.certs.sign);
    });
  });

  for (const [keyId, token, pinType] of [
    ["01", AUTH_TOKEN, "auth"],
    ["02", SIGN_TOKEN, "sign"],
  ] as const) {
    test(`pkcs11-tool signs SHA256-RSA-PKCS with key ${keyId} and openssl verifies it`, { timeout: 60_000 }, async () => {
      await withAttachedCard(async (card) => {
        const data = join(work, `data-${keyId}.bin`);
        const sig = join(work, `sig-${keyId}.bin`);
        const pub = join(work, `pub-${keyId}.pem`);
        writeFileSync(data, `document signed with key ${keyId} at ${new Date().toISOString()}\n`);
        writeFileSync(pub, card.publicKeyPem[pinType]);
        const args = ["--module", OPENSC_PKCS11_MODULE, "--token-label", token, "--login", "--pin", TEST_PINS[pinType]];
        ok(await run("pkcs11-tool", [...args, "--sign", "--id", keyId, "-m", "SHA256-RSA-PKCS", "-i", data, "-o", sig]), "pkcs11-tool --sign");
        assert.equal(readFileSync(sig).length, 256);
        const v = ok(await run("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", sig, data]), "openssl dgst -verify");
        assert.match(v.stdout, /Verified OK/);
        // and independently of openssl
        assert.ok(rsaVerify("sha256", readFileSync(data), createPublicKey(card.publicKeyPem[pinType]), readFileSync(sig)));
      });
    });
  }

  test("wrong PINs through OpenSC decrement the counter pkcs15-tool reports; 3 block the PIN, then 6984", { timeout: 60_000 }, async () => {
    await withAttachedCard(async () => {
      const login = (pin: string) =>
        run("pkcs11-tool", ["--module", OPENSC_PKCS11_MODULE, "--token-label", AUTH_TOKEN, "--login", "--pin", pin, "--list-objects"]);
      const listPins = async (): Promise<Map<string, { triesLeft: number }>> =>
        parsePins(ok(await run("pkcs15-tool", ["-r", "0", "--list-pins"]), "pkcs15-tool --list-pins").stdout);
      const authTries = async (): Promise<number> => {
        const pins = await listPins();
        const entry = [...pins.entries()].find(([label]) => /auth/i.test(label));
        assert.ok(entry, `no authentication PIN in ${JSON.stringify([...pins])}`);
        return entry[1].triesLeft;
      };
      // (3 and 5 tries at the start are checked by the pkcs15-tool -D test)
      const first = await login("0000");
      assert.notEqual(first.code, 0);
      assert.match(first.stderr + first.stdout, /CKR_PIN_INCORRECT/);
      assert.equal(await authTries(), 2);

      // a wrong signing password leaves the authentication PIN alone and shows 4 tries
      const wrongSign = await run("pkcs11-tool", ["--module", OPENSC_PKCS11_MODULE, "--token-label", SIGN_TOKEN, "--login", "--pin", "WRONG9", "--list-objects"]);
      assert.notEqual(wrongSign.code, 0);
      assert.notEqual((await login("1111")).code, 0);
      const pins = await listPins();
      assert.deepEqual([...pins.values()].map((p) => p.triesLeft).sort(), [1, 4]);

      const last = await login("2222");
      assert.notEqual(last.code, 0);
      assert.equal(await authTries(), 0);

      // blocked: even the right PIN now gets 69 84
      const raw = ok(
        await run("opensc-tool", [
          "-r", pcscd.readerName,
          "-s", "00A4040C0AD392F000260100000001",
          "-s", "00A4020C020018",
          "-s", `0020008004${Buffer.from(TEST_PINS.auth, "ascii").toString("hex")}`,
        ]),
        "opensc-tool -s VERIFY",
      );
      const sws = [...raw.stdout.matchAll(/SW1=0x([0-9a-f]{2}), SW2=0x([0-9a-f]{2})/gi)].map((m) => `${m[1]}${m[2]}`.toUpperCase());
      assert.deepEqual(sws, ["9000", "9000", "6984"], raw.stdout);
    });
  });

  test("our client over pcsclite: certificates, PIN, signature and 券面事項入力補助AP", { timeout: 60_000 }, async () => {
    process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
    const { openPcscReader } = await import("../../src/readers/pcsc.ts");
    const { JpkiClient } = await import("../../src/client/jpki-client.ts");
    await withAttachedCard(async (card) => {
      const reader = await openPcscReader(pcscd.readerName);
      try {
        const atr = await reader.connect();
        assert.equal(Buffer.from(atr).toString("hex").toUpperCase(), "3BE000FF8131FE4514");
        const client = new JpkiClient(reader);
        assert.equal(await client.tokenLabel(), "JPKIAPICCTOKEN2");
        assert.deepEqual(await client.readCertificate("auth"), card.certs.auth);
        assert.deepEqual(await client.readCertificate("auth-ca"), card.certs["auth-ca"]);
        assert.deepEqual(await client.readCertificate("sign-ca"), card.certs["sign-ca"]);
        assert.equal(await client.triesLeft("auth"), 3);
        assert.deepEqual(await client.verifyPin("auth", "9999"), { ok: false, blocked: false, triesLeft: 2 });
        assert.deepEqual(await client.verifyPin("auth", TEST_PINS.auth), { ok: true });
        const data = new TextEncoder().encode("signed through pcscd");
        for (const hash of ["sha256", "sha384", "sha512"] as const) {
          const sig = await client.sign("auth", data, { hash });
          assert.ok(rsaVerify(hash, data, createPublicKey(card.publicKeyPem.auth), sig), hash);
        }
        assert.deepEqual(await client.readCertificate("sign", { signPin: TEST_PINS.sign.toLowerCase() }), card.certs.sign);
        const sig = await client.sign("sign", data, { pin: TEST_PINS.sign });
        assert.ok(rsaVerify("sha256", data, createPublicKey(card.publicKeyPem.sign), sig));
        assert.deepEqual(await client.readKenhojo(TEST_PINS.kenhojo), TEST_KENHOJO);
      } finally {
        await reader.disconnect();
      }
    });
  });
});
