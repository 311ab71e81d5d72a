import { certificateValidityFor } from "../../services/validity-calculator.ts";
import { type Command, json, optionalString, requireString } from "../command.ts";

export const rulesValidity: Command = {
  path: ["rules", "validity"],
  summary: "証明書の有効期限を計算 / compute certificate expiry, renewal window and eligibility",
  usage: "--birth YYYY-MM-DD --issued (YYYY-MM-DD | ISO-8601 instant) [--renewal] [--card-expiry D] [--residence-end D] [--auth-expiry D] [--guardianship] [--json]",
  help: [
    "  --birth D          date of birth",
    "  --issued D|T       date of issuance, or an instant (converted to its Japan date)",
    "  --renewal          issued as a renewal while fewer than 3 months remained (6th birthday)",
    "  --card-expiry D    the card's expiry (caps both certificates)",
    "  --residence-end D  end of the period of stay (foreign residents without permanent status)",
    "  --auth-expiry D    the holder's authentication-certificate expiry (caps the signing certificate)",
    "  --guardianship     the holder is an adult under guardianship (成年被後見人)",
  ],
  options: {
    birth: { type: "string" },
    issued: { type: "string" },
    renewal: { type: "boolean" },
    "card-expiry": { type: "string" },
    "residence-end": { type: "string" },
    "auth-expiry": { type: "string" },
    guardianship: { type: "boolean" },
  },
  async run(values, io) {
    const result = certificateValidityFor({
      birth: requireString(values, "birth"),
      issued: requireString(values, "issued"),
      renewal: values.renewal === true,
      guardianship: values.guardianship === true,
      cardExpiry: optionalString(values, "card-expiry"),
      residenceEnd: optionalString(values, "residence-end"),
      authExpiry: optionalString(values, "auth-expiry"),
    });
    if (values.json) return json(io, result);
    const sign = result.sign.eligible
      ? `${result.sign.expires}（更新開始 / renewal from ${result.sign.renewalFrom}）`
      : `発行不可 / not eligible: ${result.sign.reason}`;
    io.stdout(
      `利用者証明用電子証明書 / authentication: ${result.auth.expires}（更新開始 / renewal from ${result.auth.renewalFrom}）\n` +
        `署名用電子証明書 / signing:            ${sign}\n`,
    );
  },
};
