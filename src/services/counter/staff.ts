import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database, StaffTable } from "../../store/schema.ts";
import { DEFAULT_OFFICES, type OfficeConfig } from "../../config/offices.ts";
import { ServiceError } from "../errors.ts";
import { freeText } from "../free-text.ts";
import { isUniqueViolation } from "../../store/database.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "../audit.ts";
import type { Clock } from "../clock.ts";

/**
 * Runs tasks one at a time, in the order they arrive. `waiting` counts the tasks queued behind
 * the one running.
 */
class OneAtATime {
  private busy = false;
  private readonly queue: (() => void)[] = [];

  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.busy = true;
    try {
      return await task();
    } finally {
      // Hand the turn straight to the next task (busy stays true), or free it.
      const next = this.queue.shift();
      if (next) next();
      else this.busy = false;
    }
  }
}

// scrypt runs on libuv's thread pool (4 threads by default), which OCSP signing (crypto.sign)
// and the other asynchronous crypto share. Anyone may ask to log in, and even an unknown login
// costs one scrypt, so a flood of logins could hold every pool thread and stall the OCSP
// responder for seconds. Hashing therefore takes one pool thread at most: one scrypt at a time
// in the process.
const hashing = new OneAtATime();

/** Hashes allowed to wait for their turn; a login arriving behind more is refused as busy (503). */
const MAX_WAITING_LOGINS = 64;

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  hashing.run(() => new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)))));

// scrypt is memory-hard: N = 2^15, r = 8 needs 32 MiB per hash, which makes guessing expensive.
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const SESSION_HOURS = 8;
const THROTTLE = { failures: 5, windowMinutes: 15, lockMinutes: 15 } as const;

export type StaffRole = StaffTable["role"];

/**
 * The roles in rising order of rights: clerks do the window procedures; supervisors also check
 * the audit trail; administrators manage staff.
 */
export const STAFF_ROLES: readonly StaffRole[] = ["clerk", "supervisor", "administrator"];
const ROLE_JA: Record<StaffRole, string> = { clerk: "窓口職員", supervisor: "監督者", administrator: "管理者" };

/** Whether `role` carries at least `needed`'s rights (administrator ⊃ supervisor ⊃ clerk). */
export function hasRole(role: StaffRole, needed: StaffRole): boolean {
  return STAFF_ROLES.indexOf(role) >= STAFF_ROLES.indexOf(needed);
}

/** Refuses (forbidden-role, naming the role needed) a member of staff below `needed`. */
export function requireRole(role: StaffRole, needed: StaffRole): void {
  if (hasRole(role, needed)) return;
  throw new ServiceError("refused", `この操作には${ROLE_JA[needed]}の権限が必要です / this needs the ${needed} role`, "role", { reason: "forbidden-role" });
}

/** An office as the directory returns it: the configuration's shape. */
export type Office = OfficeConfig;

/** The configured offices (seeded into a new data directory) and the contact the resident pages give. */
export { DEFAULT_OFFICES, MACHIDA_CONTACT } from "../../config/offices.ts";

export interface StaffMember {
  id: string;
  login: string;
  name: string;
  officeId: string;
  role: StaffRole;
}

export interface StaffSession {
  staff: StaffMember;
  csrfToken: string;
  expiresAt: string;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword(randomBytes(16).toString("base64url")));
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const actual = await scrypt(password, Buffer.from(salt, "base64url"), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(actual, expected);
}

/**
 * Offices and staff: accounts bound to an office with a role, passwords hashed with scrypt,
 * sessions with a CSRF token, and login throttling (5 failures in 15 minutes lock the login
 * for 15 minutes). Nothing on the counter API works without a staff session.
 */
export class StaffDirectory {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async seedOffices(offices: readonly OfficeConfig[] = DEFAULT_OFFICES): Promise<void> {
    for (const o of offices) {
      await this.db
        .insertInto("offices")
        .values({ id: o.id, municipality_code: o.municipalityCode, name_ja: o.nameJa, name_en: o.nameEn, address: o.address, phone: o.phone, hours: o.hours })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
    }
  }

  async offices(): Promise<Office[]> {
    const rows = await this.db.selectFrom("offices").selectAll().orderBy("id").execute();
    return rows.map((r) => ({ id: r.id, municipalityCode: r.municipality_code, nameJa: r.name_ja, nameEn: r.name_en, address: r.address, phone: r.phone, hours: r.hours }));
  }

  async add(input: { login: string; name: string; officeId: string; role: StaffRole; password: string }, actor: Actor = CLI_OPERATOR): Promise<StaffMember> {
    if (!/^[a-z0-9._-]{3,40}$/.test(input.login)) throw new ServiceError("invalid-input", "login: 3–40 of a–z, 0–9, . _ -", "login");
    const name = freeText(input.name, "name", 100);
    if (!STAFF_ROLES.includes(input.role)) throw new ServiceError("invalid-input", `role: one of ${STAFF_ROLES.join(", ")}`, "role");
    if (input.password.length < 12 || input.password.length > 200) throw new ServiceError("invalid-input", "password: at least 12 characters", "password");
    const office = await this.db.selectFrom("offices").select("id").where("id", "=", input.officeId).executeTakeFirst();
    if (!office) throw new ServiceError("invalid-input", `office: unknown office ${input.officeId}`, "office");
    const existing = await this.db.selectFrom("staff").select("id").where("login", "=", input.login).executeTakeFirst();
    if (existing) throw loginTaken(input.login);
    const row: StaffTable = {
      id: `S-${randomBytes(5).toString("hex").toUpperCase()}`,
      login: input.login,
      name,
      office_id: input.officeId,
      role: input.role,
      password_hash: await hashPassword(input.password),
      active: 1,
      created_at: this.clock().toISOString(),
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto("staff").values(row).execute();
        await appendAudit(trx, actor, { action: "staff.add", subject: row.id, after: { login: row.login, office: row.office_id, role: row.role } }, this.clock());
      });
    } catch (error) {
      // Another administrator added the same login since the check above.
      if (isUniqueViolation(error)) throw loginTaken(input.login);
      throw error;
    }
    return toMember(row);
  }

  async list(): Promise<(StaffMember & { active: boolean; createdAt: string })[]> {
    const rows = await this.db.selectFrom("staff").selectAll().orderBy("office_id").orderBy("login").execute();
    return rows.map((r) => ({ ...toMember(r), active: r.active === 1, createdAt: r.created_at }));
  }

  /** Log in; refusals are deliberately alike (no hint whether the login exists). Returns the raw session id once. */
  async login(login: string, password: string): Promise<StaffSession & { sessionId: string }> {
    // Logins are ASCII (see add), but refuse here what must not reach the throttle table or the log.
    freeText(login, "login", 100);
    const now = this.clock();
    const throttle = await this.db.selectFrom("login_throttle").selectAll().where("login", "=", login).executeTakeFirst();
    if (throttle?.locked_until && throttle.locked_until > now.toISOString()) throw loginLocked(throttle.locked_until);
    const row = await this.db.selectFrom("staff").selectAll().where("login", "=", login).executeTakeFirst();
    if (hashing.waiting >= MAX_WAITING_LOGINS) throw loginBusy();
    // The try is counted (committed) before the password is checked, as a PIN's retry counter is:
    // guesses sent at once each count, and those past the limit are refused unchecked. A correct
    // password clears the count below.
    await this.countTry(login, now);
    // An unknown login still costs one scrypt, so the answer's timing does not reveal which logins exist.
    const stored = row?.password_hash ?? (await dummyHash());
    // Asked again just before the hash joins the queue (the count above let others in meanwhile);
    // a try refused as busy was not made, so it is not counted.
    if (hashing.waiting >= MAX_WAITING_LOGINS) {
      await this.uncountTry(login);
      throw loginBusy();
    }
    const ok = (await checkPassword(password, stored)) && row !== undefined && row.active === 1;
    if (!ok || !row) {
      throw new ServiceError("refused", "ログイン名またはパスワードが違います / wrong login or password", "login", { reason: "bad-credentials" });
    }
    await this.db.deleteFrom("login_throttle").where("login", "=", login).execute();
    const sessionId = randomBytes(32).toString("base64url");
    const csrfToken = randomBytes(24).toString("base64url");
    const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3600_000).toISOString();
    await this.db
      .insertInto("staff_sessions")
      .values({ id_hash: sessionHash(sessionId), staff_id: row.id, csrf_token: csrfToken, created_at: now.toISOString(), expires_at: expiresAt })
      .execute();
    return { sessionId, staff: toMember(row), csrfToken, expiresAt };
  }

  /**
   * Count one try of `login` (5 in 15 minutes lock it for 15 minutes), in one transaction that
   * holds the login's throttle row: concurrent tries are counted one after the other, and a try
   * that finds the login locked is refused (login-locked) without being counted.
   */
  private async countTry(login: string, now: Date): Promise<void> {
    const at = now.toISOString();
    const windowStart = new Date(now.getTime() - THROTTLE.windowMinutes * 60_000).toISOString();
    const lockedUntil = await this.db.transaction().execute(async (trx) => {
      // Insert the row, or touch the existing one: either way the row is now held (a row lock on
      // PostgreSQL, the write lock on SQLite) until this transaction ends.
      await trx
        .insertInto("login_throttle")
        .values({ login, failures: 0, first_failure_at: at, locked_until: null })
        .onConflict((oc) => oc.column("login").doUpdateSet((eb) => ({ failures: eb.ref("login_throttle.failures") })))
        .execute();
      const row = await trx.selectFrom("login_throttle").selectAll().where("login", "=", login).executeTakeFirstOrThrow();
      if (row.locked_until && row.locked_until > at) return row.locked_until;
      const inWindow = Number(row.failures) > 0 && row.first_failure_at > windowStart;
      const failures = inWindow ? Number(row.failures) + 1 : 1;
      const first = inWindow ? row.first_failure_at : at;
      const until = failures >= THROTTLE.failures ? new Date(now.getTime() + THROTTLE.lockMinutes * 60_000).toISOString() : null;
      await trx.updateTable("login_throttle").set({ failures, first_failure_at: first, locked_until: until }).where("login", "=", login).execute();
      return undefined;
    });
    if (lockedUntil) throw loginLocked(lockedUntil);
  }

  /** Take back a try counted by countTry that was not made (refused as busy). */
  private async uncountTry(login: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom("login_throttle").selectAll().where("login", "=", login).executeTakeFirst();
      if (!row || Number(row.failures) === 0) return;
      const failures = Number(row.failures) - 1;
      await trx
        .updateTable("login_throttle")
        .set({ failures, ...(failures < THROTTLE.failures ? { locked_until: null } : {}) })
        .where("login", "=", login)
        .where("failures", "=", row.failures)
        .execute();
    });
  }

  /** The session for a raw session id, or a refusal. */
  async session(sessionId: string): Promise<StaffSession> {
    if (!sessionId || sessionId.length > 100) throw noSession();
    const row = await this.db
      .selectFrom("staff_sessions")
      .innerJoin("staff", "staff.id", "staff_sessions.staff_id")
      .selectAll()
      .where("id_hash", "=", sessionHash(sessionId))
      .executeTakeFirst();
    if (!row || row.expires_at <= this.clock().toISOString() || row.active !== 1) throw noSession();
    return { staff: toMember(row), csrfToken: row.csrf_token, expiresAt: row.expires_at };
  }

  async logout(sessionId: string): Promise<void> {
    await this.db.deleteFrom("staff_sessions").where("id_hash", "=", sessionHash(sessionId)).execute();
  }
}

export function actorOf(session: StaffSession, terminal?: string): Actor {
  return { actor: `staff:${session.staff.login}`, office: session.staff.officeId, ...(terminal ? { terminal } : {}) };
}

function sessionHash(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}

function loginBusy(): ServiceError {
  return new ServiceError("service-unavailable", "ただいま混み合っています。しばらくしてからもう一度お試しください / too many logins at once: try again shortly", "login", { reason: "busy" });
}

function loginTaken(login: string): ServiceError {
  return new ServiceError("conflict", `ログイン名 ${login} はすでに使われています / login: ${login} is taken`, "login", { reason: "login-taken" });
}

function loginLocked(until: string): ServiceError {
  return new ServiceError("refused", `ログインが一時的にロックされています / too many failed logins: try again after ${until}`, "login", { reason: "login-locked" });
}

function noSession(): ServiceError {
  return new ServiceError("refused", "職員としてログインしてください / staff login required", "session", { reason: "no-session" });
}

function toMember(row: StaffTable): StaffMember {
  return { id: row.id, login: row.login, name: row.name, officeId: row.office_id, role: row.role };
}
