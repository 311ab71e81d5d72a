import { withContext } from "../open-context.ts";
import { type Command, json, requireString } from "../command.ts";

export const issuanceClientAdd: Command = {
  path: ["issuance-client", "add"],
  summary: "発行クライアントを登録 / register a municipal system allowed to request certificates over the API",
  usage: '--name "…" --municipality CODE [--json]',
  help: [
    "  --name TEXT          the client's name (a municipality's issuance system)",
    "  --municipality CODE  the 6-digit municipality code whose residents it may request certificates for",
    "  The API key is printed once; only its hash is stored. Send it as Authorization: Bearer … to",
    "  POST /api/ca/sign/certificates and /api/ca/auth/certificates.",
  ],
  options: { name: { type: "string" }, municipality: { type: "string" } },
  async run(values, io) {
    const name = requireString(values, "name");
    const municipality = requireString(values, "municipality");
    const client = await withContext(values, io, (ctx) => ctx.issuanceClients.add({ name, municipality }));
    if (values.json) return json(io, client);
    io.stdout(
      `登録しました / registered ${client.id} (${client.name}, municipality ${client.municipality})\n` +
        `API キー / API key (shown once; send it as Authorization: Bearer …):\n${client.apiKey}\n`,
    );
  },
};

export const issuanceClientList: Command = {
  path: ["issuance-client", "list"],
  summary: "発行クライアントの一覧 / list registered issuance clients",
  usage: "[--json]",
  help: [],
  options: {},
  async run(values, io) {
    const clients = await withContext(values, io, (ctx) => ctx.issuanceClients.list());
    if (values.json) return json(io, { clients });
    if (clients.length === 0) io.stdout("登録された発行クライアントはありません / no issuance clients\n");
    for (const c of clients) io.stdout(`${c.id}  ${c.municipality}  ${c.name}  ${c.createdAt}${c.active ? "" : "  (inactive)"}\n`);
  },
};

export const issuanceClientDeactivate: Command = {
  path: ["issuance-client", "deactivate"],
  summary: "発行クライアントを無効化 / deactivate an issuance client (its API key stops working)",
  usage: "--id I-… [--json]",
  help: ["  --id ID   the client's id, as `issuance-client list` shows it"],
  options: { id: { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "id");
    const client = await withContext(values, io, (ctx) => ctx.issuanceClients.deactivate(id));
    if (values.json) return json(io, client);
    io.stdout(`無効化しました / deactivated ${client.id} (${client.name})\n`);
  },
};
