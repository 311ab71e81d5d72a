import { openContext } from "../open-context.ts";
import { type Command, CliError, optionalString } from "../command.ts";
import { publicBaseUrlFrom } from "../../services/public-url.ts";

export const serve: Command = {
  path: ["serve"],
  summary: "サーバを起動 / run the server",
  usage: "[--data DIR] [--host 127.0.0.1] [--port 8080] [--public-url URL] [--open-status] [--dev]",
  help: [
    "  --host HOST        address to listen on (default 127.0.0.1)",
    "  --port PORT        port to listen on (default 8080; 0 picks a free one)",
    "  --public-url URL   base URL the certificates name (default http://HOST:PORT)",
    "  --open-status      serve CRLs and OCSP to anyone, not only registered verifiers (local development; npm start uses it)",
    "  --dev              the developer console at /dev: residents, cards and holds with no login (local development; npm start uses it)",
    "  --crl-hours N      thisUpdate → nextUpdate of the CRLs (default 24: daily, as J-LIS)",
  ],
  options: { host: { type: "string" }, port: { type: "string" }, "public-url": { type: "string" }, "open-status": { type: "boolean" }, dev: { type: "boolean" }, "crl-hours": { type: "string" } },
  async run(values, io) {
    const host = optionalString(values, "host") ?? "127.0.0.1";
    const portText = optionalString(values, "port") ?? "8080";
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw new CliError(`--port must be a port number, not ${JSON.stringify(portText)}`, 2);
    const publicUrlText = optionalString(values, "public-url") ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    const publicBaseUrl = publicBaseUrlFrom(publicUrlText);
    if (!publicBaseUrl) throw new CliError(`--public-url must be an http(s) base URL, not ${JSON.stringify(publicUrlText)}`, 2);
    const openStatus = values["open-status"] === true;
    const devConsole = values.dev === true;
    const crlHoursText = optionalString(values, "crl-hours");
    const crlValidityHours = crlHoursText === undefined ? undefined : Number(crlHoursText);
    if (crlValidityHours !== undefined && !(Number.isInteger(crlValidityHours) && crlValidityHours >= 1 && crlValidityHours <= 24 * 31)) {
      throw new CliError(`--crl-hours must be a whole number of hours from 1 to 744, not ${JSON.stringify(crlHoursText)}`, 2);
    }
    const context = await openContext(values, io, { host, port, publicBaseUrl, openStatus, devConsole, ...(crlValidityHours ? { crlValidityHours } : {}) });
    // The server (fastify, oidc-provider, the pages) is loaded only by this command, so that the
    // other commands start without it (≈0.5 s and ≈45 MB).
    const { startServer } = await import("../../http/server.ts");
    let server;
    try {
      server = await startServer(context, { host, port, log: (line) => io.stderr(`${line}\n`) });
    } catch (error) {
      await context.close();
      throw listenError(error, host, port);
    }
    io.stdout(
      `OpenJPKI を起動しました / OpenJPKI is serving on ${server.url}\n` +
        `  データ / data: ${context.dataDir} (${context.store.dialect})\n` +
        (context.store.replicaReads
          ? `  失効状態の読み取り / status reads: PostgreSQL スタンバイ（遅れ ${context.store.replicaReads.maxLagMs} ms まで、超えればプライマリ）/ standby, at most ${context.store.replicaReads.maxLagMs} ms behind, else the primary\n`
          : "") +
        `  署名用 CA / signing CA:        ${server.url}/ca/sign.crt\n` +
        `  利用者証明用 CA / auth CA:     ${server.url}/ca/auth.crt\n` +
        `  失効情報 / revocation status: ${server.url}/ocsp/sign, ${server.url}/crl/sign.crl (and auth)\n` +
        (openStatus
          ? `  ※ 失効情報を誰にでも提供しています（--open-status、開発用）/ revocation status is open to anyone (--open-status, development only)\n`
          : `  失効情報は登録された検証者のみ / revocation status only for registered verifiers (openjpki verifier add)\n`) +
        (devConsole ? `  ※ 開発者向けコンソール / developer console: ${server.url}/dev (--dev、ログインなし・開発用 / no login, development only)\n` : "") +
        `  停止 / stop: Ctrl+C\n`,
    );
    await server.closed;
  },
};

/** The usual reasons a server cannot listen, as the one line that says what to do. */
function listenError(error: unknown, host: string, port: number): unknown {
  const where = `${host}:${port}`;
  switch ((error as { code?: string }).code) {
    case "EADDRINUSE":
      return new CliError(`${where} は使用中です / ${where} is already in use: stop what listens there, or choose another port with --port`);
    case "EACCES":
      return new CliError(`${where} で待ち受ける権限がありません / no permission to listen on ${where} (ports below 1024 need privileges): choose another with --port`);
    case "EADDRNOTAVAIL":
      return new CliError(`${host} はこの機械のアドレスではありません / ${host} is not an address of this machine: check --host`);
    default:
      return error;
  }
}
