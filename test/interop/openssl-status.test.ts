// Issue 3 §5: the real server answering real OpenSSL — OCSP and CRLs before and after a move,
// a malformed-request corpus, and registered verifiers with their lookup counts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { openTestContext, TEST_PASSPHRASE, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/openjpki.js", import.meta.url));

function pem(der: Uint8Array, label = "CERTIFICATE") {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END ${label}-----\n`;
}

for (const openStatus of [true, false]) {
  describe(`revocation status over HTTP (${openStatus ? "open" : "registered verifiers only"})`, () => {
    let t: TestContext;
    let server: RunningServer;
    let dir: string;
    let residentId: string;
    let apiKey: string;
    const headers = () => (openStatus ? [] : ["-header", `X-OpenJPKI-Verifier-Key=${apiKey}`]);

    async function ocsp(certFile: string, type: "sign" | "auth", extra: string[] = []) {
      const { stdout, stderr } = await run("openssl", [
        "ocsp", "-issuer", join(dir, `${type}-ca.pem`), "-sha256", "-cert", join(dir, certFile),
        "-url", `${server.url}/ocsp/${type}`, "-CAfile", join(dir, `${type}-ca.pem`), ...headers(), ...extra,
      ], { timeout: 15_000 });
      return stdout + stderr;
    }

    before(async () => {
      t = await openTestContext("sqlite", { settings: { openStatus } });
      dir = t.dataDir;
      server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
      const resident = await t.context.registry.add({
        name: "町田 太郎", birth: "1980-03-03", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098",
      });
      residentId = resident.id;
      const [k1, k2] = testPublicKeys(2);
      const auth = await t.context.ca.issue({ type: "auth", residentId, subjectPublicKey: k1! });
      const sign = await t.context.ca.issue({ type: "sign", residentId, subjectPublicKey: k2! });
      writeFileSync(join(dir, "auth.pem"), pem(auth.der));
      writeFileSync(join(dir, "sign.pem"), pem(sign.der));
      writeFileSync(join(dir, "sign-ca.pem"), pem(t.context.ca.authority("sign").certificateDer));
      writeFileSync(join(dir, "auth-ca.pem"), pem(t.context.ca.authority("auth").certificateDer));
      apiKey = (await t.context.verifiers.add("テスト検証者")).apiKey;
    });
    after(async () => {
      await server.close();
      await t.cleanup();
    });

    test("openssl ocsp: both good; after `openjpki resident change` (another process) sign is revoked, auth stays good", async () => {
      const signGood = await ocsp("sign.pem", "sign");
      assert.match(signGood, /sign\.pem: good/);
      assert.match(signGood, /Response verify OK/);
      const authGood = await ocsp("auth.pem", "auth");
      assert.match(authGood, /auth\.pem: good/);
      assert.match(authGood, /Response verify OK/);
      const change = spawnSync(process.execPath, [BIN, "resident", "change", "--data", dir, "--id", residentId, "--address", "東京都町田市中町１－１"], {
        encoding: "utf8",
        env: { ...process.env, OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE },
      });
      assert.equal(change.status, 0, change.stderr);
      const revoked = await ocsp("sign.pem", "sign");
      assert.match(revoked, /sign\.pem: revoked/);
      assert.match(revoked, /Reason: affiliationChanged/);
      assert.match(await ocsp("auth.pem", "auth"), /auth\.pem: good/);
      // The nonce path (openssl sends one by default) and the no-nonce pre-signed path agree.
      assert.match(await ocsp("sign.pem", "sign", ["-no_nonce"]), /sign\.pem: revoked/);
    });

    test("CRLs: openssl verifies them; -crl_check rejects the revoked certificate and accepts the good one", async () => {
      const get = async (path: string) => {
        const res = await fetch(`${server.url}${path}`, { headers: openStatus ? {} : { "X-OpenJPKI-Verifier-Key": apiKey } });
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get("content-type"), "application/pkix-crl");
        assert.match(res.headers.get("cache-control") ?? "", /max-age=\d+/);
        assert.ok(res.headers.get("etag"));
        return new Uint8Array(await res.arrayBuffer());
      };
      for (const [type, path] of [["sign", "/crl/sign.crl"], ["sign", "/crl/sign/132098.crl"], ["auth", "/crl/auth.crl"], ["auth", "/crl/auth/132098.crl"]] as const) {
        const file = join(dir, `${path.replace(/\W+/g, "_")}.pem`);
        writeFileSync(file, pem(await get(path), "X509 CRL"));
        const { stderr } = await run("openssl", ["crl", "-in", file, "-CAfile", join(dir, `${type}-ca.pem`), "-noout"]);
        assert.match(stderr, /verify OK/);
        if (path.endsWith("132098.crl")) {
          const verify = spawnSync("openssl", ["verify", "-crl_check", "-CAfile", join(dir, `${type}-ca.pem`), "-CRLfile", file, join(dir, `${type}.pem`)], { encoding: "utf8" });
          if (type === "sign") {
            assert.notEqual(verify.status, 0);
            assert.match(verify.stdout + verify.stderr, /certificate revoked/);
          } else {
            assert.equal(verify.status, 0, verify.stdout + verify.stderr);
          }
        }
      }
      const text = await run("openssl", ["crl", "-in", join(dir, "_crl_sign_132098_crl.pem"), "-noout", "-text"]);
      assert.match(text.stdout, /Affiliation Changed/);
      assert.match(text.stdout, /Machida-shi CRLDP/);
    });

    test("RFC 5019 GET: cacheable, answered from the pre-signed cache, and revoked at once after a revocation", async () => {
      const req = join(dir, "get-req.der");
      await run("openssl", ["ocsp", "-issuer", join(dir, "auth-ca.pem"), "-cert", join(dir, "auth.pem"), "-no_nonce", "-reqout", req]);
      const path = encodeURIComponent(readFileSync(req).toString("base64"));
      const headers: Record<string, string> = openStatus ? {} : { "X-OpenJPKI-Verifier-Key": apiKey };
      const get = async () => {
        const res = await fetch(`${server.url}/ocsp/auth/${path}`, { headers });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "application/ocsp-response");
        const file = join(dir, `get-resp-${Math.random().toString(36).slice(2)}.der`);
        writeFileSync(file, Buffer.from(await res.arrayBuffer()));
        const { stdout } = await run("openssl", ["ocsp", "-respin", file, "-reqin", req, "-CAfile", join(dir, "auth-ca.pem"), "-issuer", join(dir, "auth-ca.pem"), "-cert", join(dir, "auth.pem"), "-no_nonce"]);
        return { etag: res.headers.get("etag"), cacheControl: res.headers.get("cache-control"), stdout };
      };
      const first = await get();
      const second = await get();
      assert.match(first.stdout, /auth\.pem: good/);
      assert.match(first.cacheControl ?? "", /max-age=\d+, public/);
      assert.equal(second.etag, first.etag, "the same pre-signed answer");
      const serial = (await t.context.ca.certificatesOf(residentId)).find((c) => c.type === "auth")!.serialHex;
      await t.context.ca.revoke({ type: "auth", serialHex: serial, reason: "keyCompromise", by: "operator" });
      const third = await get();
      assert.match(third.stdout, /auth\.pem: revoked/);
      assert.notEqual(third.etag, first.etag);
    });

    test("malformed OCSP requests get malformedRequest or a 4xx, never a 5xx or a hang", async () => {
      const corpus: Buffer[] = [
        Buffer.alloc(0),
        Buffer.from("hello"),
        Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
        Buffer.from([0x30, 0x03, 0x30, 0x01]),
        Buffer.from([0x31, 0x00]),
        Buffer.alloc(100 * 1024, 0x30),
        Buffer.from([0x30, 0x0b, 0x30, 0x09, 0x30, 0x07, 0x30, 0x05, 0x30, 0x03, 0x06, 0x01, 0x00]),
      ];
      for (const body of corpus) {
        const res = await fetch(`${server.url}/ocsp/sign`, {
          method: "POST",
          body,
          headers: { "content-type": "application/ocsp-request", ...(openStatus ? {} : { "X-OpenJPKI-Verifier-Key": apiKey }) },
        });
        assert.ok(res.status < 500, `status ${res.status} for ${body.length} bytes`);
        if (res.status === 200) {
          const der = Buffer.from(await res.arrayBuffer());
          assert.deepEqual([...der], [0x30, 0x03, 0x0a, 0x01, 0x01], "malformedRequest");
        } else {
          await res.arrayBuffer();
        }
      }
      const get = await fetch(`${server.url}/ocsp/sign/!!notbase64!!`, { headers: openStatus ? {} : { "X-OpenJPKI-Verifier-Key": apiKey } });
      assert.ok(get.status < 500);
    });

    if (!openStatus) {
      test("without a registered key: 401; every lookup by a verifier is counted with its fee", async () => {
        const denied = await fetch(`${server.url}/crl/sign.crl`);
        assert.equal(denied.status, 401);
        const deniedError = ((await denied.json()) as { error: { code: string; message: string } }).error;
        assert.match(deniedError.code, /verifier-required/);
        assert.match(deniedError.message, /send your API key in X-OpenJPKI-Verifier-Key/);
        const wrongKey = await fetch(`${server.url}/crl/sign.crl`, { headers: { "X-OpenJPKI-Verifier-Key": "ojv_wrong-key-123456" } });
        assert.equal(wrongKey.status, 401);
        assert.match(((await wrongKey.json()) as { error: { message: string } }).error.message, /this API key is not that of a registered, active verifier/);
        const report = await t.context.verifiers.report();
        const ocspSign = report.find((r) => r.type === "sign" && r.kind === "ocsp")!;
        assert.equal(ocspSign.lookups, 3);
        assert.equal(ocspSign.feeYen, 60);
        const ocspAuth = report.find((r) => r.type === "auth" && r.kind === "ocsp")!;
        assert.equal(ocspAuth.lookups, 5);
        assert.equal(ocspAuth.feeYen, 10);
      });
    }
  });
}
