import { sql, type Kysely } from "kysely";
import type { Database, ResidentTable } from "../store/schema.ts";
import { containsPattern, residentSearchText, searchable } from "../store/resident-search.ts";
import { parseJapanDate, compareJapanDates, japanDateOf, type JapanDate } from "../rules/japan-date.ts";
import { RuleInputError } from "../rules/errors.ts";
import { normalizeAddress, normalizeName, substituteFlags } from "../profile/attributes.ts";
import { toEraDigitDate } from "../profile/era.ts";
import type { Municipality } from "../config/municipalities.ts";
import { ServiceError } from "./errors.ts";
import { inputErrorAs } from "./input-errors.ts";
import { newId } from "./ids.ts";
import type { Clock } from "./clock.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";
import { refuseOtherMunicipality } from "./office-scope.ts";

export interface ResidentInput {
  name: string;
  birth: string;
  gender: string;
  address: string;
  municipality: string;
  nationality?: string;
  /** End of the period of stay (foreign residents without permanent status). */
  residenceEnd?: string;
  guardianship?: boolean;
}

export interface Resident {
  id: string;
  name: string;
  nameSubstitutes: string;
  birth: JapanDate;
  gender: "1" | "2" | "3";
  address: string;
  addressSubstitutes: string;
  municipality: Municipality;
  nationality: string;
  residenceEnd: JapanDate | null;
  guardianship: boolean;
  status: ResidentTable["status"];
  /** A filed emigration's departure date: still registered until then. */
  departureDate: JapanDate | null;
  /** Emigrated (or leaving) with 国外転出者による継続利用: the card stays in use. */
  continuedUse: boolean;
  createdAt: string;
  updatedAt: string;
}

const GENDERS = new Set(["1", "2", "3"]);
const NATIONALITY = /^[A-Z]{2}$/;

/**
 * Whether certificates may be issued for this entry: a registered resident, or one who moved
 * abroad with continued use (the 国外転出者向け signing certificate carries the 戸籍の附票
 * address, and the authentication certificate is renewed as before). `departure-pending`: the
 * departure date has come but the emigration has not been applied yet (a matter of a minute).
 */
export function issuanceStanding(resident: Pick<Resident, "status" | "departureDate" | "continuedUse">, today: JapanDate): "eligible" | "departure-pending" | "ended" {
  if (resident.status === "emigrated") return resident.continuedUse ? "eligible" : "ended";
  if (resident.status !== "registered") return "ended";
  return resident.departureDate !== null && compareJapanDates(resident.departureDate, today) <= 0 ? "departure-pending" : "eligible";
}

/** The resident register (住民基本台帳): people and their four attributes. */
export class Registry {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async add(input: ResidentInput, actor: Actor = CLI_OPERATOR): Promise<Resident> {
    const row = await this.validate(input);
    await refuseOtherMunicipality(this.db, actor, row.municipality_code, { kind: "registration" });
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("residents").values({ ...row, search_text: residentSearchText(row) }).execute();
      await appendAudit(trx, actor, { action: "resident.add", subject: row.id, after: row }, this.clock());
    });
    return this.get(row.id);
  }

  async get(id: string): Promise<Resident> {
    const row = await this.db
      .selectFrom("residents")
      .innerJoin("municipalities", "municipalities.code", "residents.municipality_code")
      .selectAll()
      .where("residents.id", "=", id)
      .executeTakeFirst();
    if (!row) throw new ServiceError("not-found", `住民ID ${id} の住民はいません / no resident with id ${id}`, "id");
    return toResident(row);
  }

  /**
   * The newest `limit` residents (default 1000, at most 10,000), oldest first. Past the limit it
   * is the newest that are kept: the counter and the console show the most recent registrations,
   * which a list cut at the oldest ones never reached once a town had more.
   */
  async list(options: { municipality?: string; limit?: number } = {}): Promise<Resident[]> {
    const limit = options.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ServiceError("invalid-input", `limit: 件数は 1 以上の整数です / must be a whole number of at least 1, not ${limit}`, "limit");
    }
    return (await this.newestFirst(options.municipality).limit(Math.min(limit, 10_000)).execute()).reverse().map(toResident);
  }

  /** Residents with their municipality, newest registration first (ties by id), of one municipality if given. */
  private newestFirst(municipality: string | undefined) {
    const query = this.db
      .selectFrom("residents")
      .innerJoin("municipalities", "municipalities.code", "residents.municipality_code")
      .selectAll()
      .orderBy("residents.created_at", "desc")
      .orderBy("residents.id", "desc");
    return municipality ? query.where("residents.municipality_code", "=", municipality) : query;
  }

  /**
   * Residents whose name, id or address contains `text` (compared in NFKC, without spaces, in
   * lower case: 「町田花子」 finds 「町田 花子」, "2-2" finds 「２－２」), newest first, at most
   * `limit`. The store filters on each row's search key (src/store/resident-search.ts) through the
   * newest-first index, so the whole register is searched without being read into memory: a
   * resident registered long ago is found in a town of any size.
   */
  async search(text: string, options: { municipality?: string; limit?: number } = {}): Promise<Resident[]> {
    const limit = Math.min(options.limit ?? 200, 1000);
    const needle = searchable(text);
    const query = this.newestFirst(options.municipality).limit(limit);
    const rows = await (needle === "" ? query : query.where(sql<boolean>`residents.search_text like ${containsPattern(needle)} escape '\\'`)).execute();
    return rows.map(toResident);
  }

  async municipality(code: string): Promise<Municipality> {
    const row = await this.db.selectFrom("municipalities").selectAll().where("code", "=", code).executeTakeFirst();
    if (!row) throw new ServiceError("invalid-input", `municipality: 市区町村コード ${code} は登録されていません / unknown municipality code ${code}`, "municipality");
    return toMunicipality(row);
  }

  private async validate(input: ResidentInput): Promise<Omit<ResidentTable, "search_text">> {
    try {
      const name = normalizeName(input.name, "name");
      const address = normalizeAddress(input.address, "address");
      const birth = parseJapanDate(input.birth, "birth");
      const today = japanDateOf(this.clock());
      if (compareJapanDates(birth, today) > 0) throw new RuleInputError("birth", `birth: ${birth} は未来の日付です / ${birth} is in the future`);
      toEraDigitDate(birth); // the certificate carries it with its era: refuse what no era covers now, not at issuance
      if (!GENDERS.has(input.gender)) {
        throw new RuleInputError("gender", `gender: 性別は 1（男性）、2（女性）、3（不明）のどれかです / must be 1 (male), 2 (female) or 3 (unknown), not ${JSON.stringify(input.gender)}`);
      }
      const nationality = (input.nationality ?? "JP").toUpperCase();
      if (!NATIONALITY.test(nationality)) {
        throw new RuleInputError("nationality", `nationality: 国籍は2文字の国コード（ISO 3166、例：US）で入力してください / must be a two-letter ISO 3166 code, not ${JSON.stringify(input.nationality)}`);
      }
      const residenceEnd = input.residenceEnd ? parseJapanDate(input.residenceEnd, "residence-end") : null;
      if (residenceEnd && nationality === "JP") {
        throw new RuleInputError("residence-end", "residence-end: 在留期間の満了日は外国人住民（国籍が JP 以外）だけに入力します / only foreign residents have a period of stay");
      }
      if (residenceEnd && compareJapanDates(residenceEnd, birth) < 0) {
        throw new RuleInputError("residence-end", "residence-end: 在留期間の満了日が生年月日より前です / is before the date of birth");
      }
      const municipality = await this.municipality(input.municipality);
      const now = this.clock().toISOString();
      return {
        id: newId("R"),
        name,
        name_substitutes: substituteFlags(name),
        birth,
        gender: input.gender as "1" | "2" | "3",
        address,
        address_substitutes: substituteFlags(address),
        municipality_code: municipality.code,
        nationality,
        residence_end: residenceEnd,
        guardianship: input.guardianship ? 1 : 0,
        status: "registered",
        departure_date: null,
        continued_use: 0,
        abroad_address: null,
        created_at: now,
        updated_at: now,
      };
    } catch (error) {
      throw inputErrorAs(error, "invalid-input");
    }
  }
}

type ResidentRow = ResidentTable & Database["municipalities"];

function toResident(row: ResidentRow): Resident {
  return {
    id: row.id,
    name: row.name,
    nameSubstitutes: row.name_substitutes,
    birth: row.birth,
    gender: row.gender,
    address: row.address,
    addressSubstitutes: row.address_substitutes,
    municipality: toMunicipality(row),
    nationality: row.nationality,
    residenceEnd: row.residence_end,
    guardianship: row.guardianship === 1,
    status: row.status,
    departureDate: row.departure_date,
    continuedUse: row.continued_use === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toMunicipality(row: Database["municipalities"]): Municipality {
  return {
    code: row.code,
    prefectureJa: row.prefecture_ja,
    prefectureRomaji: row.prefecture_romaji,
    cityJa: row.city_ja,
    cityRomaji: row.city_romaji,
  };
}
