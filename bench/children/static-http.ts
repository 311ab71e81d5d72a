/**
 * H_node, the Node HTTP ceiling of the anchors file (S4): `http.createServer` on 127.0.0.1
 * answering every request with the same 1.5 KB body, one process. OCSP-CACHED is compared to it.
 *
 *   node --import tsx bench/children/static-http.ts <port>
 */
import { createServer } from "node:http";

const port = Number(process.argv[2]);
const body = Buffer.alloc(1500, 0x30);
const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/ocsp-response", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
