// `openjpki verify cms|xml|sig`, run in-process through the Command objects (main.ts registers them).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { startServer } from "../../src/http/server.ts";
import { sign as rsaSign } from "node:crypto";
import { parseArgs } from "node:util";
import { verifyCms, verifySig, verifyXml } from "../../src/cli/commands/verify.ts";
import { assembleSignedData, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import type { Command } from "../../src/cli/command.ts";
import { CliError, COMMON_OPTIONS } from "../../src/cli/command.ts";
import { TEST_PASSPHRASE } from "../helpers/context.ts";
import { openssl, tempDir } from "../helpers/test-pki.ts";
import { NOW, crlFake, keyPem, makeWorld, pem, signXml, type World } from "./fixtures.ts";

let w: World;
let tmp: ReturnType<typeof tempDir>;

async function run(command: Command, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const { values } = parseArgs({ args, options: { ...COMMON_OPTIONS, ...command.options }, strict: true });
  const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, OPENJPKI_NOW: NOW, ...env } };
  try {
    const code = await command.run(values, io);
    return { code: typeof code === "number" ? code : 0, stdout, stderr };
  } catch (error) {
    if (error instanceof CliError) return { code: error.exitCode, stdout, stderr: stderr + error.message };
    throw error;
  }
}

before(async () => {
  w = await makeWorld();
  tmp = tempDir("verify-cli");
  tmp.write("leaf.pem", pem(w.holder.sign.der));
  tmp.write("key.pem", keyPem(w.holder.signKey.privateKey));
  tmp.write("auth.pem", pem(w.holder.auth.der));
  tmp.write("content.txt", "hello JPKI\n");
  tmp.write("sign.crl", await crlFake(w).fetch("http://x/crl/sign/132098.crl"));
  tmp.write("auth.crl", await crlFake(w).fetch("http://x/crl/auth/132098.crl"));
  const r = openssl(["cms", "-sign", "-signer", "leaf.pem", "-inkey", "key.pem", "-binary", "-outform", "DER", "-nodetach", "-in", "content.txt", "-out", "doc.p7s"], tmp.dir);
  assert.equal(r.status, 0, r.stderr);
  tmp.write("challenge.bin", "challenge-123");
  tmp.write("challenge.sig", rsaSign("sha256", Buffer.from("challenge-123"), w.holder.authKey.privateKey));
});
after(async () => {
  tmp.dispose();
  await w.cleanup();
});

test("verify cms with the data directory's roots and a CRL file: valid, attributes shown", async () => {
  const r = await run(verifyCms, ["--data", w.t.dataDir, "--in", `${tmp.dir}/doc.p7s`, "--crl", `${tmp.dir}/sign.crl`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /山田\u3000太郎/);
  assert.match(r.stdout, /平成2年1月2日/);
  const j = await run(verifyCms, ["--data", w.t.dataDir, "--in", `${tmp.dir}/doc.p7s`, "--crl", `${tmp.dir}/sign.crl`, "--json"]);
  assert.equal(j.code, 0);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.valid, true);
  assert.equal(parsed.revocation.method, "crl");
  assert.equal(Buffer.from(parsed.content, "base64").toString(), "hello JPKI\n");
  assert.equal(typeof parsed.signature.value, "string", "the signature value as base64, not an object of bytes");
  assert.equal(Buffer.from(parsed.signature.value, "base64").length, 256, "RSA-2048");
});

test("verify cms fails closed without a reachable responder, and says why in one line", async () => {
  const r = await run(verifyCms, ["--data", w.t.dataDir, "--in", `${tmp.dir}/doc.p7s`, "--ocsp-url", "http://127.0.0.1:9/ocsp", "--json"]);
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).code, "revocation-unavailable");
  assert.match(r.stderr, /^openjpki verify cms: revocation-unavailable: .+\n$/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  // Why: fetch() says only "fetch failed"; its cause is that port 9 is one fetch refuses to use.
  assert.match(r.stderr, /ocsp http:\/\/127\.0\.0\.1:9\/ocsp: fetch failed: bad port;/);
});

test("verify cms refuses a CMS whose signingTime is outside the certificate's validity (exit 1, the code on stderr)", async () => {
  const content = new TextEncoder().encode("hello JPKI\n");
  const signedAttributes = prepareSignedAttributes({ content, signingTime: new Date("2020-01-01T00:00:00Z"), certificateDer: w.holder.sign.der });
  const signature = new Uint8Array(rsaSign(signedAttributes.hash, signedAttributes.signedAttrsDer, w.holder.signKey.privateKey));
  tmp.write("early.p7s", assembleSignedData({ signedAttributes, signature, certificateDer: w.holder.sign.der, content }));
  const r = await run(verifyCms, ["--data", w.t.dataDir, "--in", `${tmp.dir}/early.p7s`, "--crl", `${tmp.dir}/sign.crl`, "--json"]);
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).code, "not-yet-valid");
  assert.equal(JSON.parse(r.stdout).detail.signingTime, "2020-01-01T00:00:00.000Z");
  assert.match(r.stderr, /^openjpki verify cms: not-yet-valid: the signingTime 2020-01-01T00:00:00\.000Z is outside the certificate's validity/);
});

test("verify xml refuses a document whose XML declaration names another encoding than UTF-8", async () => {
  const signed = signXml(`<?xml version="1.0" encoding="UTF-8"?><Return><Income>5400000</Income></Return>`, w.holder.sign.der, w.holder.signKey.privateKey);
  tmp.write("return.xml", signed);
  const ok = await run(verifyXml, ["--data", w.t.dataDir, "--in", `${tmp.dir}/return.xml`, "--crl", `${tmp.dir}/sign.crl`]);
  assert.equal(ok.code, 0, ok.stderr);
  tmp.write("latin1.xml", signed.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'));
  const r = await run(verifyXml, ["--data", w.t.dataDir, "--in", `${tmp.dir}/latin1.xml`, "--crl", `${tmp.dir}/sign.crl`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^openjpki verify xml: malformed-input: XML signature: the XML declaration names encoding ISO-8859-1; only UTF-8 is accepted/);
});

test("verify sig with --trust files: auth login signature valid; against the J-LIS roots untrusted-root", async () => {
  const root = `${tmp.dir}/roots.pem`;
  tmp.write("roots.pem", pem(w.roots.sign) + pem(w.roots.auth));
  const args = ["--cert", `${tmp.dir}/auth.pem`, "--in", `${tmp.dir}/challenge.bin`, "--sig", `${tmp.dir}/challenge.sig`, "--type", "auth", "--crl", `${tmp.dir}/auth.crl`];
  const ok = await run(verifySig, [...args, "--trust", root]);
  assert.equal(ok.code, 0, ok.stderr);
  const jlis = await run(verifySig, [...args, "--trust", "/work/shared/jpki-ca-certs/auth_ca_2023.pem", "--trust", "/work/shared/jpki-ca-certs/sign_ca_2023.pem"]);
  assert.equal(jlis.code, 1);
  assert.match(jlis.stderr, /untrusted-root/);
  const wrong = await run(verifySig, [...args.slice(0, 6), "--type", "sign", "--crl", `${tmp.dir}/auth.crl`, "--trust", root]);
  assert.match(wrong.stderr, /wrong-certificate-type/);
  const expired = await run(verifySig, [...args, "--trust", root, "--at", "2099-01-01T00:00:00Z"]);
  assert.match(expired.stderr, /expired/);
});

test("verify xml reports malformed input with exit 1", async () => {
  tmp.write("bad.xml", "<a><b></a>");
  const r = await run(verifyXml, ["--data", w.t.dataDir, "--in", `${tmp.dir}/bad.xml`, "--crl", `${tmp.dir}/sign.crl`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /malformed-input/);
  assert.ok(readFileSync(`${tmp.dir}/bad.xml`));
});

test("without --trust and outside a store, verify creates nothing and asks for the trust anchors", async () => {
  const none = `${tmp.dir}/no-store-here`;
  const r = await run(verifyCms, ["--data", none, "--in", `${tmp.dir}/doc.p7s`, "--crl", `${tmp.dir}/sign.crl`]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no trust anchors: give --trust FILE/);
  assert.equal(existsSync(none), false, "no data directory (and no CA) was created");
});

test("a server for registered verifiers only: OPENJPKI_VERIFIER_KEY is sent with the OCSP request; without it the refusal says what is missing", async () => {
  const server = await startServer(w.t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
  try {
    assert.equal(w.t.context.settings.openStatus, false);
    const { apiKey } = await w.t.context.verifiers.add("CLI の検証者");
    const args = ["--data", w.t.dataDir, "--in", `${tmp.dir}/doc.p7s`, "--ocsp-url", `${server.url}/ocsp/sign`, "--json"];
    const refused = await run(verifyCms, args);
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).code, "revocation-unavailable");
    assert.match(refused.stderr, /HTTP 401 from .*registered verifiers.*OPENJPKI_VERIFIER_KEY/);
    const ok = await run(verifyCms, args, { OPENJPKI_VERIFIER_KEY: apiKey });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).revocation.method, "ocsp");
    const wrong = await run(verifyCms, args, { OPENJPKI_VERIFIER_KEY: "not-a-key" });
    assert.match(wrong.stderr, /the API key given was refused/);
  } finally {
    await server.close();
  }
});
