// Bad input for every refusal the rules write (each `fail` in src/rules), with the field it names.
// Used by bilingual-messages.test.ts.
import * as eligibility from "../../src/rules/eligibility.ts";
import * as japanDate from "../../src/rules/japan-date.ts";
import * as proxy from "../../src/rules/proxy.ts";
import * as revocation from "../../src/rules/revocation.ts";
import * as validity from "../../src/rules/validity.ts";
import type { Refusal } from "./bilingual.ts";

const { addDays, addMonthsClamped, ageOn, birthdayInYear, japanDateOf, minDate, nthBirthdayAfter, parseDateOrInstant, parseJapanDate } = japanDate;
const bad = <T>(value: unknown): T => value as T;

export const RULE_REFUSALS: readonly Refusal[] = [
  { what: "year 0000", field: "birth", run: () => parseJapanDate("0000-01-01", "birth") },
  { what: "not a calendar date", field: "birth", run: () => parseJapanDate("2023-02-30", "birth") },
  { what: "a date that is not text", field: "birth", run: () => parseJapanDate(bad(20230230), "birth") },
  { what: "a date in another form", field: "birth", run: () => parseJapanDate("2023-2-3 / x", "birth"), free: "2023-2-3 / x" },
  { what: "a result after 9999", field: "date", run: () => addDays("9999-12-31", 1) },
  { what: "a count that is not an integer", field: "n", run: () => addDays("2024-01-01", 1.5) },
  { what: "an instant that is not text", field: "issued", run: () => parseDateOrInstant(bad(1), "issued") },
  { what: "neither date nor instant", field: "issued", run: () => parseDateOrInstant("yesterday / x", "issued"), free: "yesterday / x" },
  { what: "an impossible time", field: "issued", run: () => parseDateOrInstant("2024-03-31T24:00:00Z", "issued") },
  { what: "an instant without a zone", field: "issued", run: () => parseDateOrInstant("2024-03-31T10:00:00", "issued") },
  { what: "an impossible offset", field: "issued", run: () => parseDateOrInstant("2024-03-31T12:00:00+25:00", "issued") },
  { what: "an invalid Date", field: "instant", run: () => japanDateOf(new Date(Number.NaN)) },
  { what: "months past 9999", field: "date", run: () => addMonthsClamped("9999-12-01", 1) },
  { what: "a birthday year past 9999", field: "year", run: () => birthdayInYear("2000-01-01", 10000) },
  { what: "the 0th birthday", field: "n", run: () => nthBirthdayAfter("2000-01-01", "2001-01-01", 0) },
  { what: "a birthday counted from before birth", field: "date", run: () => nthBirthdayAfter("2000-01-01", "1999-01-01", 1) },
  { what: "a birthday past 9999", field: "date", run: () => nthBirthdayAfter("9990-01-01", "9999-06-01", 5) },
  { what: "an age before birth", field: "date", run: () => ageOn("2000-01-01", "1999-01-01") },
  { what: "no dates", field: "dates", run: () => minDate() },
  { what: "eligibility before birth", field: "on", run: () => eligibility.signingEligibility({ birth: "2000-01-01", on: "1999-01-01" }) },
  { what: "an unknown proxy type", field: "proxyType", run: () => proxy.sameDayAllowed(bad("friend / x"), false), free: "friend / x" },
  {
    what: "a visit before the application",
    field: "today",
    run: () => proxy.proxyCompletion({ proxyType: "legal", letterOfAttorney: false, startedOn: "2026-01-10", today: "2026-01-09" }),
  },
  { what: "a renewal of neither sign nor auth", field: "type", run: () => revocation.revocationsFor({ kind: "renewal", type: bad("both / x") }), free: "both / x" },
  { what: "an attribute change of nothing", field: "attributes", run: () => revocation.revocationsFor({ kind: "attribute-change", attributes: [] }) },
  {
    what: "an unknown attribute",
    field: "attributes",
    run: () => revocation.revocationsFor({ kind: "attribute-change", attributes: [bad("nickname / x")] }),
    free: "nickname / x",
  },
  { what: "continued use neither true nor false", field: "continuedUse", run: () => revocation.revocationsFor({ kind: "emigration", continuedUse: bad("yes") }) },
  { what: "an unknown event", field: "kind", run: () => revocation.revocationsFor(bad({ kind: "marriage / x" })), free: "marriage / x" },
  { what: "a cap before issuance", field: "cardExpiry", run: () => validity.certificateValidity({ birth: "1990-01-01", issued: "2026-01-01", cardExpiry: "2025-12-31" }) },
  { what: "a flag neither true nor false", field: "renewal", run: () => validity.certificateValidity({ birth: "1990-01-01", issued: "2026-01-01", renewal: bad("yes") }) },
  { what: "certificates issued before birth", field: "issued", run: () => validity.certificateValidity({ birth: "1990-01-01", issued: "1989-12-31" }) },
  { what: "a card issued before birth", field: "issued", run: () => validity.cardValidity({ birth: "1990-01-01", issued: "1989-12-31" }) },
];
