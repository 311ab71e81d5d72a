import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  JPKI_CPS_URI,
  PERSONAL_DATA_OID,
  PERSONAL_DATA_ORDER,
  POLICY_OID,
  personalDataKeyOf,
} from "../../src/profile/oids.ts";

describe("JPKI OIDs", () => {
  test("personal data, spec §1.3", () => {
    assert.deepEqual(PERSONAL_DATA_OID, {
      name: "1.2.392.200149.8.5.5.1",
      nameSubstitutes: "1.2.392.200149.8.5.5.2",
      gender: "1.2.392.200149.8.5.5.3",
      birth: "1.2.392.200149.8.5.5.4",
      address: "1.2.392.200149.8.5.5.5",
      addressSubstitutes: "1.2.392.200149.8.5.5.6",
    });
  });
  test("the real card's order: 5.5.1, 5.5.4, 5.5.3, 5.5.5, 5.5.2, 5.5.6", () => {
    assert.deepEqual(
      PERSONAL_DATA_ORDER.map((k) => PERSONAL_DATA_OID[k].split(".").pop()),
      ["1", "4", "3", "5", "2", "6"],
    );
  });
  test("policies and CPS", () => {
    assert.equal(POLICY_OID.sign, "1.2.392.200149.8.5.1.1.20");
    assert.equal(POLICY_OID.auth, "1.2.392.200149.8.5.1.3.30");
    assert.equal(POLICY_OID.signTest, "1.2.392.200149.8.5.1.0.20");
    assert.equal(JPKI_CPS_URI, "http://www.jpki.go.jp/cps.html");
  });
  test("personalDataKeyOf", () => {
    assert.equal(personalDataKeyOf("1.2.392.200149.8.5.5.4"), "birth");
    assert.equal(personalDataKeyOf("1.2.392.200149.8.5.5.7"), undefined);
    assert.equal(personalDataKeyOf("1.2.392.200149.8.5.1.1.20"), undefined);
  });
});
