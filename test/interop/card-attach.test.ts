// `openjpki card attach`: a card issued by the CLI's own CA, shown to a private pcscd through
// vpcd by the CLI process, read by OpenSC's pkcs15-tool like a real My Number Card.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { pcscdUnavailableReason, startPcscd, type PcscdHarness } from "../helpers/pcscd.ts";
import { openTestContext, TEST_PASSPHRASE, type TestContext } from "../helpers/context.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

const BIN = fileURLToPath(new URL("../../bin/openjpki.js", import.meta.url));
const skip = pcscdUnavailableReason(["pkcs15-tool"]);

describe("openjpki card attach through vpcd", { skip: skip ?? false }, () => {
  let pcscd: PcscdHarness;
  let t: TestContext;
  let card: IssuedCard;
  let attach: ChildProcess | undefined;

  before(async () => {
    pcscd = await startPcscd();
    t = await openTestContext("sqlite");
    const resident = await t.context.registry.add({ name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
    card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
  });
  after(async () => {
    attach?.kill("SIGKILL");
    await pcscd?.stop();
    await t?.cleanup();
  });

  test("pkcs15-tool reads the authentication certificate the CA issued, and the CLI stops cleanly on SIGTERM", async () => {
    attach = spawn(process.execPath, [BIN, "card", "attach", "--data", t.dataDir, "--card", card.id, "--vpcd", `127.0.0.1:${pcscd.vpcdPort}`], {
      env: { ...process.env, OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    attach.stderr!.on("data", (d) => (stderr += d));
    for (let i = 0; i < 100 && !/connected to vpcd/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stderr, /connected to vpcd/);
    let pem = "";
    for (let i = 0; i < 20; i++) {
      const r = await pcscd.exec("pkcs15-tool", ["--read-certificate", "01"], { timeoutMs: 30_000 });
      if (r.code === 0 && r.stdout.includes("BEGIN CERTIFICATE")) {
        pem = r.stdout;
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    assert.deepEqual(der, Buffer.from(card.certificates.find((c) => c.type === "auth")!.der));
    attach.kill("SIGTERM");
    const [code] = await once(attach, "exit");
    assert.equal(code, 0);
  });
});
