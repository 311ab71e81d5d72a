import { readFileSync } from "node:fs";
import { STAFF_ROLES, type StaffRole } from "../../services/counter/staff.ts";
import { withContext } from "../open-context.ts";
import { type Command, CliError, json, oneOf, requireString } from "../command.ts";

export const staffAdd: Command = {
  path: ["staff", "add"],
  summary: "職員を登録 / add a staff account at an office",
  usage: "--office ID --login L --name \"…\" --role clerk|supervisor|administrator --password-file FILE [--json]",
  help: [
    "  --office ID          the office (openjpki office list)",
    "  --login L            3–40 of a–z, 0–9, . _ -",
    "  --name TEXT          the staff member's name",
    `  --role R             one of ${STAFF_ROLES.join(", ")}`,
    "  --password-file FILE the password (first line, at least 12 characters); stored as a scrypt hash",
  ],
  options: { office: { type: "string" }, login: { type: "string" }, name: { type: "string" }, role: { type: "string" }, "password-file": { type: "string" } },
  async run(values, io) {
    const role = oneOf(values, "role", STAFF_ROLES) as StaffRole;
    const file = requireString(values, "password-file");
    let password: string;
    try {
      password = readFileSync(file, "utf8").split(/\r?\n/)[0]!;
    } catch (error) {
      throw new CliError(`--password-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const member = await withContext(values, io, (ctx) =>
      ctx.staff.add({ officeId: requireString(values, "office"), login: requireString(values, "login"), name: requireString(values, "name"), role, password }),
    );
    if (values.json) return json(io, member);
    io.stdout(`登録しました / added ${member.login} (${member.role}) at ${member.officeId}: ${member.id}\n`);
  },
};

export const officeList: Command = {
  path: ["office", "list"],
  summary: "窓口の一覧 / list offices",
  usage: "[--json]",
  help: [],
  options: {},
  async run(values, io) {
    const offices = await withContext(values, io, (ctx) => ctx.staff.offices());
    if (values.json) return json(io, { offices });
    for (const o of offices) io.stdout(`${o.id}  ${o.nameJa} / ${o.nameEn}${o.phone ? `  ${o.phone}` : ""}\n`);
  },
};
