import type { Resident } from "../../services/registry.ts";
import type { EventOutcome } from "../../services/register-events.ts";
import { withContext } from "../open-context.ts";
import { type Command, CliError, json, oneOf, optionalString, requireString } from "../command.ts";

/** The register's gender codes (1 male, 2 female, 3 unknown): a CLI choice, refused with exit 2 like the others. */
const GENDER_CODES = ["1", "2", "3"] as const;

const GENDER_JA = { "1": "男", "2": "女", "3": "不明" } as const;

function describe(r: Resident): string {
  return [
    `${r.id}  ${r.name}`,
    `  生年月日 / birth:   ${r.birth}`,
    `  性別 / gender:      ${r.gender} (${GENDER_JA[r.gender]})`,
    `  住所 / address:     ${r.address}`,
    `  市区町村 / municipality: ${r.municipality.prefectureJa}${r.municipality.cityJa} (${r.municipality.code})`,
    `  国籍 / nationality: ${r.nationality}${r.residenceEnd ? `, 在留期間満了日 / period of stay ends ${r.residenceEnd}` : ""}`,
    ...(r.guardianship ? ["  成年被後見人 / under guardianship"] : []),
    `  状態 / status:      ${r.status}${r.status === "emigrated" && r.continuedUse ? "（継続利用 / continued use）" : ""}`,
    ...(r.departureDate && r.status === "registered" ? [`  国外転出予定 / emigration filed: departure ${r.departureDate}${r.continuedUse ? "（継続利用 / continued use）" : ""}`] : []),
  ].join("\n");
}

export const residentAdd: Command = {
  path: ["resident", "add"],
  summary: "住民を登録 / register a resident",
  usage: '--name "姓 名" --birth YYYY-MM-DD --gender 1|2|3 --address "…" --municipality CODE [--nationality CC] [--residence-end D] [--guardianship] [--json]',
  help: [
    "  --name \"姓 名\"      surname and given name, separated by a space (stored with a full-width space)",
    "  --birth D           date of birth",
    "  --gender 1|2|3      1 male, 2 female, 3 unknown (as in the certificate)",
    "  --address TEXT      address from the prefecture on, as the certificate carries it (≤ 200 characters)",
    "  --municipality CODE 6-digit municipality code, e.g. 132098 (町田市)",
    "  --nationality CC    ISO 3166 two-letter code (default JP)",
    "  --residence-end D   end of the period of stay (foreign residents without permanent status)",
    "  --guardianship      adult under guardianship (成年被後見人)",
  ],
  options: {
    name: { type: "string" },
    birth: { type: "string" },
    gender: { type: "string" },
    address: { type: "string" },
    municipality: { type: "string" },
    nationality: { type: "string" },
    "residence-end": { type: "string" },
    guardianship: { type: "boolean" },
  },
  async run(values, io) {
    const input = {
      name: requireString(values, "name"),
      birth: requireString(values, "birth"),
      gender: oneOf(values, "gender", GENDER_CODES),
      address: requireString(values, "address"),
      municipality: requireString(values, "municipality"),
      guardianship: values.guardianship === true,
    };
    const nationality = optionalString(values, "nationality");
    const residenceEnd = optionalString(values, "residence-end");
    const resident = await withContext(values, io, (ctx) =>
      ctx.registry.add({ ...input, ...(nationality !== undefined ? { nationality } : {}), ...(residenceEnd !== undefined ? { residenceEnd } : {}) }),
    );
    if (values.json) return json(io, resident);
    io.stdout(`登録しました / registered:\n${describe(resident)}\n`);
  },
};

export const residentShow: Command = {
  path: ["resident", "show"],
  summary: "住民を表示 / show a resident and their certificates",
  usage: "--id ID [--json]",
  help: ["  --id ID            the resident's id (R-…)"],
  options: { id: { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "id");
    const { resident, certificates } = await withContext(values, io, async (ctx) => ({
      resident: await ctx.registry.get(id),
      certificates: await ctx.ca.certificatesOf(id),
    }));
    if (values.json) return json(io, { ...resident, certificates });
    io.stdout(`${describe(resident)}\n`);
    for (const c of certificates) {
      io.stdout(`  ${c.type === "sign" ? "署名用" : "利用者証明用"} ${c.serialHex}  ${c.status}  有効期限 / expires ${c.expires}\n`);
    }
  },
};

export const residentList: Command = {
  path: ["resident", "list"],
  summary: "住民の一覧 / list residents",
  usage: "[--municipality CODE] [--json]",
  help: ["  --municipality CODE  only residents of this municipality"],
  options: { municipality: { type: "string" } },
  async run(values, io) {
    const municipality = optionalString(values, "municipality");
    const residents = await withContext(values, io, (ctx) => ctx.registry.list(municipality ? { municipality } : {}));
    if (values.json) return json(io, { residents });
    if (residents.length === 0) io.stdout("登録された住民はいません / no residents\n");
    for (const r of residents) io.stdout(`${r.id}  ${r.name}  ${r.birth}  ${r.municipality.cityJa}\n`);
  },
};

function describeEvent(outcome: EventOutcome): string {
  const lines = [`記録しました / recorded event ${outcome.id} (${outcome.kind}) for ${outcome.residentId}`];
  if (outcome.departureDate) lines.push(`  転出日 / day of departure: ${outcome.departureDate}`);
  if (outcome.revoked.length === 0) lines.push("  失効した証明書はありません / no certificate revoked");
  for (const r of outcome.revoked) {
    lines.push(`  ${r.type === "sign" ? "署名用" : "利用者証明用"} ${r.serialHex}: ${r.status} (${r.reason})`);
  }
  return `${lines.join("\n")}\n`;
}

export const residentChange: Command = {
  path: ["resident", "change"],
  summary: "住民票の異動（氏名・住所・生年月日・性別）/ record a change of the four attributes",
  usage: '--id ID [--name "姓 名"] [--address "…"] [--municipality CODE] [--birth D] [--gender 1|2|3] [--json]',
  help: [
    "  --id ID             the resident's id",
    "  --name, --address, --birth, --gender   the new values (at least one)",
    "  --municipality CODE with --address: a move to another municipality",
    "  Any change revokes the valid signing certificate (affiliationChanged) in the same transaction;",
    "  the authentication certificate is kept.",
  ],
  options: {
    id: { type: "string" },
    name: { type: "string" },
    address: { type: "string" },
    municipality: { type: "string" },
    birth: { type: "string" },
    gender: { type: "string" },
  },
  async run(values, io) {
    const id = requireString(values, "id");
    const change = Object.fromEntries(
      ["name", "address", "municipality", "birth", "gender"].flatMap((k) => (typeof values[k] === "string" ? [[k, values[k]]] : [])),
    );
    if (Object.keys(change).length === 0) throw new CliError("give at least one of --name, --address, --birth, --gender", 2);
    if (typeof values.gender === "string") oneOf(values, "gender", GENDER_CODES);
    const outcome = await withContext(values, io, (ctx) => ctx.events.changeAttributes(id, change));
    if (values.json) return json(io, outcome);
    io.stdout(describeEvent(outcome));
  },
};

export const residentDeath: Command = {
  path: ["resident", "death"],
  summary: "死亡の届出 / record a death (both certificates revoked)",
  usage: "--id ID [--date D] [--json]",
  help: [
    "  --id ID             the resident's id",
    "  --date D            the day of death when it was before today: the certificates are recorded as invalid",
    "                      from that day (invalidityDate), not only from when it is recorded",
  ],
  options: { id: { type: "string" }, date: { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "id");
    const date = optionalString(values, "date");
    const outcome = await withContext(values, io, (ctx) => ctx.events.endRegistration(id, { kind: "death", ...(date !== undefined ? { date } : {}) }));
    if (values.json) return json(io, outcome);
    io.stdout(describeEvent(outcome));
  },
};

export const residentEmigrate: Command = {
  path: ["resident", "emigrate"],
  summary: "国外転出の届出 / file an emigration (takes effect on the day of departure; with --continued-use the card stays in use)",
  usage: '--id ID [--departure D] [--continued-use --abroad-address "…"] [--json]',
  help: [
    "  --id ID             the resident's id",
    "  --departure D       the day of departure (default today: takes effect at once); a later day is applied on that",
    "                      day by a running server (every minute) or by `openjpki resident apply-departures`",
    "  --continued-use     国外転出者による継続利用 (from 2024-05-27, Japanese nationals, filed before the day of",
    "                      departure): the card and its authentication certificate stay in use; the signing",
    "                      certificate is revoked on departure and a new one carries the address below",
    '  --abroad-address "…"  with --continued-use: the address as the 戸籍の附票 will record it',
  ],
  options: { id: { type: "string" }, "continued-use": { type: "boolean" }, departure: { type: "string" }, "abroad-address": { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "id");
    const continuedUse = values["continued-use"] === true;
    const departureDate = optionalString(values, "departure");
    const abroadAddress = optionalString(values, "abroad-address");
    // An empty value is passed on (and refused naming it), never read as absent: an empty --departure
    // would otherwise mean today, which ends the register entry and revokes both certificates at once.
    const filing = { continuedUse, ...(departureDate !== undefined ? { departureDate } : {}), ...(abroadAddress !== undefined ? { abroadAddress } : {}) };
    const outcome = await withContext(values, io, (ctx) => ctx.events.endRegistration(id, { kind: "emigration", ...filing }));
    if (values.json) return json(io, outcome);
    io.stdout(describeEvent(outcome));
  },
};

export const residentWithdrawEmigration: Command = {
  path: ["resident", "withdraw-emigration"],
  summary: "国外転出の取消 / withdraw a filed emigration before its day of departure (the certificates stay valid)",
  usage: "--id ID [--json]",
  help: ["  --id ID             the resident's id; to change the day of departure, withdraw and file again"],
  options: { id: { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "id");
    const outcome = await withContext(values, io, (ctx) => ctx.events.withdrawEmigration(id));
    if (values.json) return json(io, outcome);
    io.stdout(`取り消しました / withdrew the emigration of ${outcome.residentId} filed for departure on ${outcome.withdrawn.departureDate} (event ${outcome.id})\n`);
  },
};

export const residentApplyDepartures: Command = {
  path: ["resident", "apply-departures"],
  summary: "転出日を迎えた国外転出を適用 / apply the emigrations whose day of departure has come (a running server does this every minute)",
  usage: "[--json]",
  help: ["  for a deployment where no server runs at midnight JST: run it from cron, e.g. at 00:01"],
  options: {},
  async run(values, io) {
    const applied = await withContext(values, io, (ctx) => ctx.events.applyDueDepartures());
    if (values.json) return json(io, applied);
    if (applied.length === 0) io.stdout("転出日を迎えた届出はありません / no emigration is due\n");
    for (const outcome of applied) io.stdout(describeEvent(outcome));
  },
};
