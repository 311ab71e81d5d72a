import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP forwarder on 127.0.0.1 whose target can be moved, as a virtual IP or a DNS name moves in a
 * failover. Given several targets, it hands each new connection to the next one in turn, as a
 * round-robin load balancer in front of standbys would.
 */
export interface TcpProxy {
  readonly port: number;
  /** Send new connections to another port and cut the open ones (their peers see a lost connection). */
  switchTo(targetPort: number): void;
  close(): Promise<void>;
}

export async function tcpProxy(targetPorts: number | readonly number[]): Promise<TcpProxy> {
  let targets = [targetPorts].flat();
  if (targets.length === 0) throw new Error("tcpProxy needs at least one target port");
  let connections = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targets[connections++ % targets.length]!, "127.0.0.1");
    const cut = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
    };
    open.add(client);
    client.on("error", cut).on("close", cut);
    upstream.on("error", cut).on("close", cut);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the proxy did not bind a port");
  return {
    port: address.port,
    switchTo(port) {
      targets = [port];
      for (const socket of open) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
