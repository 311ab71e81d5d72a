// The resident's certificate block (マイページ, counter reader panel): what it says of a certificate
// that is no longer valid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { certificateBlock } from "../../src/web/pages/common.ts";
import { view } from "../../src/web/layout.ts";
import type { CertificateView } from "../../src/services/resident-view.ts";

const base: CertificateView = {
  type: "sign",
  serialHex: "0A1B",
  state: "valid",
  expires: "2031-05-05" as CertificateView["expires"],
  renewalFrom: "2031-02-05" as CertificateView["renewalFrom"],
  renewalOpen: false,
  revocationReason: null,
  revokedAt: null,
};

const renewalCell = (html: string) => /更新できる日<\/th><td>([^<]*)/.exec(html)?.[1];

test("the renewal day is shown for a valid certificate only; a holder's revocation is not called a card return", () => {
  const ja = view("ja", "/resident", "token", false);
  assert.equal(renewalCell(String(certificateBlock(ja, base, "sign", 5))), "2031年2月5日");
  for (const state of ["revoked", "hold", "expired"] as const) {
    const html = String(certificateBlock(ja, { ...base, state, revocationReason: state === "expired" ? null : "cessationOfOperation", revokedAt: "2026-12-01T03:00:00Z" }, "sign", 5));
    assert.equal(renewalCell(html), "—", state);
  }
  const revoked = String(certificateBlock(ja, { ...base, state: "revoked", revocationReason: "cessationOfOperation", revokedAt: "2026-12-01T03:00:00Z" }, "sign", 5));
  assert.match(revoked, /失効の申請、カードの返納、死亡など/);
});
