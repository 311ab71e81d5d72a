import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  GENDER_LABEL,
  checkCertificateCharacters,
  fromOtherNames,
  normalizeAddress,
  normalizeName,
  substituteFlags,
  toOtherNames,
  type JpkiAttributes,
} from "../../src/profile/attributes.ts";
import { ProfileInputError } from "../../src/profile/errors.ts";
import { SAMPLE_ATTRIBUTES } from "./refusals.ts";

const S = "\u3000";

function throwsField(fn: () => unknown, field: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProfileInputError && e.name === "ProfileInputError", `expected ProfileInputError, got ${String(e)}`);
    assert.equal(e.field, field);
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe("checkCertificateCharacters", () => {
  const ok: [string, string][] = [
    ["kana and JIS X 0208 level-1 kanji", `山田${S}太郎`],
    ["level-2 kanji", "鬱"], // JIS X 0208 58-02
    ["JIS X 0208 row 84, added in 1990", "凜熙"],
    ["JIS X 0212 補助漢字", "丂"], // 0x8FB0A1
    ["JIS X 0212 accented Latin", "Dvořák"],
    ["full-width alphanumerics and hyphen", "ＡＢＣ１２３－"],
    ["wave dash in both code points", "～〜"],
    ["minus sign in both code points", "－−"],
    ["ASCII letters, digits, hyphen, space", "Tokyo 1-2-3"],
    ["Greek and Cyrillic", "αβγ ДЖЯ"],
    ["empty text", ""],
  ];
  for (const [name, text] of ok) {
    test(`accepts ${name}`, () => assert.doesNotThrow(() => checkCertificateCharacters(text, "name")));
  }
  const bad: [string, string, RegExp][] = [
    ["はしご高 (JIS X 0213 only)", `髙橋${S}一郎`, /"髙" \(U\+9AD9\) at position 1/],
    ["たつさき (IBM extension)", `山﨑${S}花子`, /"﨑" \(U\+FA11\) at position 2/],
    ["a character outside the BMP", `𠮷田${S}太郎`, /U\+20BB7/],
    ["NEC circled digit (not JIS X 0208)", "①", /U\+2460/],
    ["half-width katakana", "ｶﾀｶﾅ", /U\+FF76/],
    ["emoji", "太郎😀", /U\+1F600/],
    ["tab", "山田\t太郎", /control character U\+0009/],
    ["DEL", "a\u007fb", /control character U\+007F/],
    ["newline", "a\nb", /control character U\+000A/],
    ["backslash", "a\\b", /U\+005C.*full-width/],
    ["ASCII tilde", "a~b", /U\+007E.*full-width/],
    ["combining voiced mark (NFD input)", "か\u3099", /U\+3099/],
  ];
  for (const [name, text, message] of bad) {
    test(`refuses ${name}`, () => throwsField(() => checkCertificateCharacters(text, "name"), "name", message));
  }
  test("names the field it is given", () => throwsField(() => checkCertificateCharacters("①", "address"), "address"));
});

describe("normalizeName", () => {
  const ok: [string, string][] = [
    [`山田${S}太郎`, `山田${S}太郎`],
    ["山田 太郎", `山田${S}太郎`],
    [` 山田 太郎${S}`, `山田${S}太郎`],
    ["SMITH JOHN MICHAEL", `SMITH${S}JOHN${S}MICHAEL`],
    [`ＳＭＩＴＨ${S}ＪＯＨＮ`, `ＳＭＩＴＨ${S}ＪＯＨＮ`],
  ];
  for (const [input, expected] of ok) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizeName(input), expected));
  }
  const bad: [string, string, RegExp][] = [
    ["empty", "", /is empty/],
    ["only spaces", ` ${S} `, /is empty/],
    ["two spaces in a row", "山田  太郎", /two spaces/],
    ["mixed double space", `山田 ${S}太郎`, /two spaces/],
    ["no separator", "山田太郎", /surname and a given name/],
    ["tab separator", "山田\t太郎", /control character U\+0009/],
    ["character outside JIS", "髙橋 一郎", /U\+9AD9/],
    ["too long", `${"あ".repeat(50)} ${"い".repeat(50)}`, /101 characters; at most 100/],
  ];
  for (const [name, input, message] of bad) {
    test(`refuses ${name}`, () => throwsField(() => normalizeName(input), "name", message));
  }
  test("exactly 100 characters is allowed", () => {
    assert.equal([...normalizeName(`${"あ".repeat(50)} ${"い".repeat(49)}`)].length, 100);
  });
  test("uses the field it is given", () => throwsField(() => normalizeName("", "resident.name"), "resident.name"));
});

describe("normalizeAddress", () => {
  test("keeps the text, trims the ends", () =>
    assert.equal(normalizeAddress(" 東京都町田市森野２丁目２番２２号 "), "東京都町田市森野２丁目２番２２号"));
  test("accepts 200 characters", () => assert.equal([...normalizeAddress("あ".repeat(200))].length, 200));
  test("refuses 201 characters", () => throwsField(() => normalizeAddress("あ".repeat(201)), "address", /201 characters; at most 200/));
  test("refuses empty", () => throwsField(() => normalizeAddress(""), "address", /is empty/));
  test("refuses characters outside JIS", () => throwsField(() => normalizeAddress("東京都①"), "address", /U\+2460/));
});

describe("substituteFlags", () => {
  test("one flag per character", () => assert.equal(substituteFlags(`山田${S}太郎`), "00000"));
  test("marks substituted positions", () => assert.equal(substituteFlags(`高橋${S}一郎`, [0]), "10000"));
  test("several positions and repeats", () => assert.equal(substituteFlags("ABCDEF", [5, 1, 1]), "010001"));
  test("counts code points, not UTF-16 units", () => assert.equal(substituteFlags("𠮷田", [1]), "01"));
  test("empty text", () => assert.equal(substituteFlags(""), ""));
  test("refuses an index outside the text", () => {
    throwsField(() => substituteFlags("山田", [2]), "substitutedIndexes");
    throwsField(() => substituteFlags("山田", [-1]), "substitutedIndexes");
    throwsField(() => substituteFlags("山田", [0.5]), "substitutedIndexes");
  });
});

describe("otherNames", () => {
  const attributes = SAMPLE_ATTRIBUTES;
  const expected = [
    { oid: "1.2.392.200149.8.5.5.1", value: `山田${S}太郎` },
    { oid: "1.2.392.200149.8.5.5.4", value: "419900102" },
    { oid: "1.2.392.200149.8.5.5.3", value: "1" },
    { oid: "1.2.392.200149.8.5.5.5", value: "東京都町田市森野２－２－２２" },
    { oid: "1.2.392.200149.8.5.5.2", value: "00000" },
    { oid: "1.2.392.200149.8.5.5.6", value: "00000000000000" },
  ];

  test("toOtherNames gives the real card's order and formats", () => assert.deepEqual(toOtherNames(attributes), expected));
  test("fromOtherNames reads them back", () => assert.deepEqual(fromOtherNames(expected), attributes));
  test("fromOtherNames takes any order and ignores other OIDs", () => {
    const shuffled = [...expected].reverse();
    shuffled.splice(2, 0, { oid: "1.2.3.4", value: "x" });
    assert.deepEqual(fromOtherNames(shuffled), attributes);
  });

  const badOut: [string, Partial<JpkiAttributes>, string][] = [
    ["an ASCII space in the name", { name: "山田 太郎" }, "name"],
    ["a name outside JIS", { name: `髙橋${S}一郎` }, "name"],
    ["flags of the wrong length", { nameSubstitutes: "0000" }, "nameSubstitutes"],
    ["flags that are not 0/1", { addressSubstitutes: "0000000000000x" }, "addressSubstitutes"],
    ["address flags of the wrong length", { addressSubstitutes: "0" }, "addressSubstitutes"],
    ["an unknown gender", { gender: "9" as "1" }, "gender"],
    ["an impossible birth date", { birth: "1990-02-30" }, "birth"],
    ["a birth before Meiji", { birth: "1860-01-01" }, "birth"],
    ["an empty address", { address: "", addressSubstitutes: "" }, "address"],
  ];
  for (const [name, change, field] of badOut) {
    test(`toOtherNames refuses ${name}`, () => throwsField(() => toOtherNames({ ...attributes, ...change }), field));
  }

  const replace = (oidSuffix: string, value: string) =>
    expected.map((e) => (e.oid.endsWith(`.5.5.${oidSuffix}`) ? { ...e, value } : e));
  const badIn: [string, { oid: string; value: string }[], string, RegExp?][] = [
    ["a missing name", expected.slice(1), "name", /missing/],
    ["a missing address flag", expected.slice(0, 5), "addressSubstitutes", /missing/],
    ["a duplicate", [...expected, expected[2] as { oid: string; value: string }], "gender", /twice/],
    ["a name without the full-width space", replace("1", "山田 太郎"), "name"],
    ["a gender of 0", replace("3", "0"), "gender"],
    ["a mismatched era digit", replace("4", "319900102"), "birth", /does not match/],
    ["a partial birth date", replace("4", "400000000"), "birth", /partial or unknown/],
    ["flags that are not 0/1", replace("2", "0a000"), "nameSubstitutes"],
    ["an address over 200 characters", replace("5", "あ".repeat(201)), "address"],
  ];
  for (const [name, list, field, message] of badIn) {
    test(`fromOtherNames refuses ${name}`, () => throwsField(() => fromOtherNames(list), field, message));
  }
  test("fromOtherNames does not insist on one flag per character (an inference, spec §8.2)", () => {
    assert.equal(fromOtherNames(replace("2", "000")).nameSubstitutes, "000");
  });
});

describe("GENDER_LABEL", () => {
  test("1, 2, 3", () => {
    assert.deepEqual(GENDER_LABEL["1"], { ja: "男", en: "male" });
    assert.deepEqual(GENDER_LABEL["2"], { ja: "女", en: "female" });
    assert.deepEqual(GENDER_LABEL["3"], { ja: "不明", en: "unknown" });
  });
});
