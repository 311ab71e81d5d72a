import { withContext } from "../open-context.ts";
import { type Command, json, requireString } from "../command.ts";

export const oidcClientAdd: Command = {
  path: ["oidc", "client", "add"],
  summary: "OIDC クライアントを登録 / register a relying party for card login over OpenID Connect",
  usage: '--name "…" --redirect-uri URL [--redirect-uri URL …] [--public] [--public-subject] [--json]',
  help: [
    "  --name TEXT          the relying party's name",
    "  --redirect-uri URL   where the code goes back to (repeatable)",
    "  --public             a public client (no secret; PKCE S256 is required of every client anyway); its redirect",
    "                       URIs use https, or http only to the loopback address (127.0.0.1, [::1], localhost)",
    "  --public-subject     give this client the subject every public-subject client gets; by default each",
    "                       relying party (redirect URI host) gets its own (pairwise), so services cannot link users",
    "  The client secret is printed once. Discovery: <server>/oidc/.well-known/openid-configuration",
  ],
  options: { name: { type: "string" }, "redirect-uri": { type: "string", multiple: true }, public: { type: "boolean" }, "public-subject": { type: "boolean" } },
  async run(values, io) {
    const name = requireString(values, "name");
    const raw = values["redirect-uri"];
    const redirectUris = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
    const registration = await withContext(values, io, (ctx) =>
      ctx.oidc.registerClient({ name, redirectUris, public: values.public === true, subjectType: values["public-subject"] === true ? "public" : "pairwise" }),
    );
    if (values.json) return json(io, { id: registration.clientId, ...registration });
    io.stdout(
      `登録しました / registered ${registration.name}\n  client_id: ${registration.clientId}\n  subject: ${registration.subjectType}\n` +
        (registration.clientSecret ? `  client_secret (shown once): ${registration.clientSecret}\n` : "  public client (no secret)\n"),
    );
  },
};

export const oidcClientList: Command = {
  path: ["oidc", "client", "list"],
  summary: "OIDC クライアントの一覧 / list the relying parties registered for card login (never their secrets)",
  usage: "[--json]",
  help: [],
  options: {},
  async run(values, io) {
    const clients = await withContext(values, io, (ctx) => ctx.oidc.listClients());
    if (values.json) return json(io, { clients });
    if (clients.length === 0) io.stdout("登録された OIDC クライアントはありません / no OIDC clients\n");
    for (const c of clients) io.stdout(`${c.clientId}  ${c.public ? "public" : "confidential"}  ${c.subjectType}  ${c.name}  ${c.redirectUris.join(" ")}\n`);
  },
};
