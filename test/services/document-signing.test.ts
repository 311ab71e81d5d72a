// Signing documents on the (virtual) card (DESIGN path 5, the signer's side) and interop: a CMS made
// on the card verifies with `openssl cms -verify` and with the library (OCSP from our responder, or a
// CRL from our publisher); an XML filing signed on the card verifies with xmlsec1 and the library;
// after a move, a new signature made with the old card is `revoked`. PIN failures are typed.
// (A CMS from `openssl cms -sign` with a software key our CA certified is covered in
// test/verify/documents.test.ts.)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { signCmsOnCard, signXmlOnCard } from "../../src/services/document-signing.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { signCms as signCmsCommand, signXml as signXmlCommand } from "../../src/cli/commands/sign.ts";
import { CliError, type Io } from "../../src/cli/command.ts";
import { createVerifier, type VerificationResult, type Verifier } from "../../src/verify/index.ts";
import { openssl, tempDir } from "../helpers/test-pki.ts";
import { openTestContext, TEST_PASSPHRASE, type TestContext } from "../helpers/context.ts";

const NOW = "2026-11-25T03:00:00Z";
const SIGN_PIN = "ABC123";
const CONTENT = new TextEncoder().encode("令和8年分 確定申告書 / tax return 2026\n");
const FILING = `<?xml version="1.0" encoding="UTF-8"?><申告書 xmlns="urn:example:etax"><氏名>町田 花子</氏名><所得>5000000</所得></申告書>`;

let t: TestContext;
let tmp: ReturnType<typeof tempDir>;
let cardId: string;

function assertValid(r: VerificationResult): asserts r is Extract<VerificationResult, { valid: true }> {
  assert.equal(r.valid, true, r.valid ? "" : `${r.code}: ${r.message}`);
}

function verifier(method: "ocsp" | "crl" = "ocsp"): Verifier {
  return createVerifier({
    trustAnchors: { sign: [t.context.ca.authority("sign").certificateDer], auth: [t.context.ca.authority("auth").certificateDer] },
    revocation:
      method === "ocsp"
        ? { ocsp: { fetch: async (_url, request) => (await t.context.ocsp.answer(request)).der } }
        : { crl: { fetch: async (url) => (await t.context.crls.current("sign", /\/(\d{6})\.crl$/.exec(url)?.[1])).der } },
    now: () => t.context.clock(),
  });
}

async function newCard(name: string, options: { noSign?: boolean } = {}): Promise<{ cardId: string; residentId: string }> {
  const resident = await t.context.registry.add({ name, birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
  const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", ...(options.noSign ? { noSign: true } : { signPin: SIGN_PIN }) });
  return { cardId: card.id, residentId: resident.id };
}

async function signTriesLeft(id: string): Promise<number> {
  return t.context.cards.withReader(id, (reader) => new JpkiClient(reader).triesLeft("sign"));
}

function refused(reason: string, triesLeft?: number) {
  return (e: unknown) => {
    assert.ok(e instanceof ServiceError, `expected ServiceError, got ${String(e)}`);
    assert.equal(e.code, "refused");
    assert.equal(e.reason, reason);
    if (triesLeft !== undefined) assert.equal(e.triesLeft, triesLeft);
    return true;
  };
}

before(async () => {
  t = await openTestContext("sqlite", { now: NOW });
  tmp = tempDir("card-signing");
  tmp.write("sign-ca.pem", new X509Certificate(t.context.ca.authority("sign").certificateDer).toString());
  tmp.write("content.txt", CONTENT);
  ({ cardId } = await newCard("町田 花子"));
});
after(async () => {
  tmp.dispose();
  await t.cleanup();
});

describe("CMS signed on the card", () => {
  for (const hash of ["sha256", "sha384", "sha512"] as const) {
    test(`${hash}: attached and detached verify with openssl cms -verify and with the library (OCSP)`, async () => {
      for (const detached of [false, true]) {
        const signed = await signCmsOnCard(t.context.cards, { cardId, pin: SIGN_PIN, content: CONTENT, detached, hash, clock: t.context.clock });
        assert.equal(signed.signingTime.toISOString(), "2026-11-25T03:00:00.000Z");
        const file = tmp.write(`card-${hash}-${detached}.p7s`, signed.der);
        const r = openssl(
          ["cms", "-verify", "-inform", "DER", "-in", file, "-CAfile", "sign-ca.pem", "-purpose", "any", ...(detached ? ["-content", "content.txt", "-binary"] : []), "-out", "out.txt"],
          tmp.dir,
        );
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /CMS Verification successful/);
        assert.deepEqual(readFileSync(`${tmp.dir}/out.txt`), Buffer.from(CONTENT));

        const result = await verifier().verifyCms(signed.der, detached ? { content: CONTENT } : {});
        assertValid(result);
        assert.equal(result.revocation.method, "ocsp");
        assert.equal(result.signature?.digestAlgorithm, hash);
        assert.equal(result.signature?.detached, detached);
        assert.equal(result.signature?.signingTime, "2026-11-25T03:00:00.000Z");
        assert.equal(result.attributes?.name, "町田\u3000花子");
        assert.equal(result.attributes?.birth.era, "平成2年1月2日");
        if (!detached) assert.deepEqual(Buffer.from(result.content!), Buffer.from(CONTENT));
      }
    });
  }

  test("with the CA certificate included, checked by CRL; altered content is bad-signature", async () => {
    const signed = await signCmsOnCard(t.context.cards, { cardId, pin: SIGN_PIN.toLowerCase(), content: CONTENT, detached: true, includeCaCertificate: true, clock: t.context.clock });
    const result = await verifier("crl").verifyCms(signed.der, { content: CONTENT });
    assertValid(result);
    assert.equal(result.revocation.method, "crl");
    const other = await verifier("crl").verifyCms(signed.der, { content: new TextEncoder().encode("令和8年分 確定申告書 / tax return 2027\n") });
    assert.equal(other.valid, false);
    if (!other.valid) assert.equal(other.code, "bad-signature");
  });
});

describe("XML signed on the card", () => {
  test("an e-Tax-style filing verifies with xmlsec1 and with the library; tampering is bad-signature", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: SIGN_PIN, xml: FILING });
    tmp.write("filing.xml", signed.xml);
    const x = spawnSync("xmlsec1", ["--verify", "--trusted-pem", "sign-ca.pem", "filing.xml"], { cwd: tmp.dir, encoding: "utf8" });
    assert.equal(x.status, 0, x.stderr);
    assert.match(x.stderr, /^OK/m);
    const result = await verifier().verifyXml(signed.xml);
    assertValid(result);
    assert.equal(result.signature?.format, "xml");
    assert.equal(result.attributes?.name, "町田\u3000花子");
    const tampered = await verifier().verifyXml(signed.xml.replace("5000000", "500"));
    assert.equal(tampered.valid, false);
    if (!tampered.valid) assert.equal(tampered.code, "bad-signature");
  });

  test("a document that cannot be signed is refused before the card is asked for the password", async () => {
    const { cardId: id } = await newCard("町田 三郎");
    for (const xml of ["<a><b></a>", `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`]) {
      await assert.rejects(signXmlOnCard(t.context.cards, { cardId: id, pin: "WRONG1", xml }), refused("invalid-document"));
    }
    assert.equal(await signTriesLeft(id), 5, "no try used");
  });
});

describe("refusals", () => {
  test("a wrong signing password uses a try and says how many are left; the right one restores them", async () => {
    const { cardId: id } = await newCard("町田 四郎");
    await assert.rejects(signCmsOnCard(t.context.cards, { cardId: id, pin: "WRONG1", content: CONTENT }), refused("wrong-pin", 4));
    await assert.rejects(signXmlOnCard(t.context.cards, { cardId: id, pin: "WRONG1", xml: FILING }), (e: unknown) => {
      refused("wrong-pin", 3)(e);
      assert.match((e as Error).message, /署名用パスワードが違います（残り3回）/);
      return true;
    });
    assert.equal(await signTriesLeft(id), 3);
    // A password of the wrong form never reaches the card.
    await assert.rejects(signCmsOnCard(t.context.cards, { cardId: id, pin: "12", content: CONTENT }), refused("invalid-pin"));
    assert.equal(await signTriesLeft(id), 3);
    await signCmsOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, content: CONTENT });
    assert.equal(await signTriesLeft(id), 5);
  });

  test("after five wrong tries the password is blocked, and even the right one is refused", async () => {
    const { cardId: id } = await newCard("町田 五郎");
    for (let left = 4; left >= 1; left--) {
      await assert.rejects(signCmsOnCard(t.context.cards, { cardId: id, pin: "WRONG1", content: CONTENT }), refused("wrong-pin", left));
    }
    await assert.rejects(signCmsOnCard(t.context.cards, { cardId: id, pin: "WRONG1", content: CONTENT }), refused("pin-blocked", 0));
    await assert.rejects(signCmsOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, content: CONTENT }), (e: unknown) => {
      refused("pin-blocked", 0)(e);
      assert.match((e as Error).message, /ロックされています/);
      return true;
    });
  });

  test("a card without a signing certificate says so (not 'blocked')", async () => {
    const { cardId: id } = await newCard("町田 六郎", { noSign: true });
    await assert.rejects(signCmsOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, content: CONTENT }), refused("no-signing-certificate"));
    await assert.rejects(signXmlOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, xml: FILING }), refused("no-signing-certificate"));
  });
});

describe("a move revokes the signing certificate (DESIGN path 2 → 5)", () => {
  test("a new signature made with the old card verifies as revoked (affiliationChanged) through OCSP", async () => {
    const { cardId: id, residentId } = await newCard("町田 七郎");
    const before = await signCmsOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, content: CONTENT, clock: t.context.clock });
    assertValid(await verifier().verifyCms(before.der));

    const outcome = await t.context.events.changeAttributes(residentId, { address: "東京都町田市中町１－１" });
    assert.deepEqual(outcome.revoked.map((r) => r.type), ["sign"]);

    for (const signed of [
      (await signCmsOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, content: CONTENT, clock: t.context.clock })).der,
      (await signXmlOnCard(t.context.cards, { cardId: id, pin: SIGN_PIN, xml: FILING })).xml,
    ]) {
      const result = typeof signed === "string" ? await verifier().verifyXml(signed) : await verifier().verifyCms(signed);
      assert.equal(result.valid, false);
      if (result.valid) continue;
      assert.equal(result.code, "revoked", result.message);
      assert.equal((result.detail as { reason?: string; method?: string }).reason, "affiliationChanged");
      assert.equal((result.detail as { method?: string }).method, "ocsp");
    }
  });
});

describe("CLI: openjpki sign cms|xml", () => {
  function io(): Io & { out: string; err: string } {
    const captured = {
      out: "",
      err: "",
      env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, OPENJPKI_NOW: NOW },
      stdout: (s: string) => void (captured.out += s),
      stderr: (s: string) => void (captured.err += s),
    };
    return captured;
  }

  test("sign cms --detached --hash sha384 and sign xml write files that OpenSSL and xmlsec1 accept", async () => {
    const cms = io();
    const out = `${tmp.dir}/cli.p7s`;
    await signCmsCommand.run({ data: t.dataDir, card: cardId, in: `${tmp.dir}/content.txt`, out, detached: true, hash: "sha384", pin: SIGN_PIN, json: true }, cms);
    const summary = JSON.parse(cms.out);
    assert.equal(summary.hash, "sha384");
    assert.equal(summary.detached, true);
    assert.equal(summary.signingTime, "2026-11-25T03:00:00.000Z");
    const r = openssl(["cms", "-verify", "-inform", "DER", "-in", out, "-CAfile", "sign-ca.pem", "-purpose", "any", "-content", "content.txt", "-binary", "-out", "/dev/null"], tmp.dir);
    assert.equal(r.status, 0, r.stderr);

    tmp.write("filing-in.xml", FILING);
    const xml = io();
    await signXmlCommand.run({ data: t.dataDir, card: cardId, in: `${tmp.dir}/filing-in.xml`, out: `${tmp.dir}/filing-cli.xml`, pin: SIGN_PIN }, xml);
    assert.match(xml.out, /署名しました/);
    const x = spawnSync("xmlsec1", ["--verify", "--trusted-pem", "sign-ca.pem", "filing-cli.xml"], { cwd: tmp.dir, encoding: "utf8" });
    assert.equal(x.status, 0, x.stderr);
  });

  test("a wrong password is one line with the tries left (exit 1), and nothing is written", async () => {
    const { cardId: id } = await newCard("町田 八郎");
    const out = `${tmp.dir}/never.p7s`;
    await assert.rejects(
      signCmsCommand.run({ data: t.dataDir, card: id, in: `${tmp.dir}/content.txt`, out, pin: "WRONG1" }, io()),
      (e: unknown) => e instanceof CliError && e.exitCode === 1 && /残り4回/.test(e.message) && !e.message.includes("\n"),
    );
    assert.throws(() => readFileSync(out));
    await assert.rejects(signCmsCommand.run({ data: t.dataDir, card: id, in: `${tmp.dir}/content.txt`, out, hash: "md5", pin: SIGN_PIN }, io()), (e: unknown) => e instanceof CliError && e.exitCode === 2);
  });
});
