import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  REVOCATION_REASON_CODE,
  REVOCATION_REASON_MEANING,
  revocationsFor,
  type RegistryEvent,
  type Revocations,
} from "../../src/rules/revocation.ts";

describe("reason codes", () => {
  test("RFC 5280 CRLReason values", () => {
    assert.deepEqual(REVOCATION_REASON_CODE, {
      unspecified: 0,
      keyCompromise: 1,
      cACompromise: 2,
      affiliationChanged: 3,
      superseded: 4,
      cessationOfOperation: 5,
      certificateHold: 6,
    });
  });
  test("every reason has a Japanese and an English meaning", () => {
    for (const reason of Object.keys(REVOCATION_REASON_CODE) as (keyof typeof REVOCATION_REASON_CODE)[]) {
      assert.ok(REVOCATION_REASON_MEANING[reason].ja.length > 0);
      assert.ok(REVOCATION_REASON_MEANING[reason].en.length > 0);
    }
    assert.match(REVOCATION_REASON_MEANING.certificateHold.en, /never released/);
  });
});

describe("revocationsFor", () => {
  const table: [string, RegistryEvent, Revocations][] = [
    ["move (address change)", { kind: "attribute-change", attributes: ["address"] }, { sign: "affiliationChanged" }],
    ["name change", { kind: "attribute-change", attributes: ["name"] }, { sign: "affiliationChanged" }],
    ["several attributes", { kind: "attribute-change", attributes: ["name", "birth", "gender"] }, { sign: "affiliationChanged" }],
    ["death", { kind: "death" }, { sign: "cessationOfOperation", auth: "cessationOfOperation" }],
    ["card returned", { kind: "card-return" }, { sign: "cessationOfOperation", auth: "cessationOfOperation" }],
    ["emigration with continued use", { kind: "emigration", continuedUse: true }, { sign: "affiliationChanged" }],
    ["emigration without continued use", { kind: "emigration", continuedUse: false }, { sign: "cessationOfOperation", auth: "cessationOfOperation" }],
    ["loss report", { kind: "loss-report" }, { sign: "certificateHold", auth: "certificateHold" }],
    ["signing renewal", { kind: "renewal", type: "sign" }, { sign: "superseded" }],
    ["auth renewal", { kind: "renewal", type: "auth" }, { auth: "superseded" }],
    ["holder asks for both", { kind: "holder-request" }, { sign: "cessationOfOperation", auth: "cessationOfOperation" }],
    ["holder asks for signing", { kind: "holder-request", type: "sign" }, { sign: "cessationOfOperation" }],
    ["holder asks for auth", { kind: "holder-request", type: "auth" }, { auth: "cessationOfOperation" }],
    ["lost card found: revoked, not released", { kind: "card-found" }, { sign: "keyCompromise", auth: "keyCompromise" }],
  ];
  for (const [name, event, expected] of table) {
    test(name, () => assert.deepEqual(revocationsFor(event), expected));
  }

  test("an attribute change never touches the auth certificate", () => {
    for (const a of ["name", "address", "birth", "gender"] as const) {
      assert.equal(revocationsFor({ kind: "attribute-change", attributes: [a] }).auth, undefined);
    }
  });

  const bad: [string, unknown, string][] = [
    ["no attributes", { kind: "attribute-change", attributes: [] }, "attributes"],
    ["unknown attribute", { kind: "attribute-change", attributes: ["email"] }, "attributes"],
    ["unknown kind", { kind: "marriage" }, "kind"],
    ["renewal without a type", { kind: "renewal" }, "type"],
    ["holder request of an unknown type", { kind: "holder-request", type: "both" }, "type"],
    ["emigration without the flag", { kind: "emigration" }, "continuedUse"],
  ];
  for (const [name, event, field] of bad) {
    test(`refuses ${name}`, () =>
      assert.throws(() => revocationsFor(event as RegistryEvent), { name: "RuleInputError", field }));
  }
});
