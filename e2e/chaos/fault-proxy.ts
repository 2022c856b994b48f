import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback between Fleet's clients and the coordinator that can black out:
 * `blackout(ms)` destroys every open connection at once and, for `ms`, destroys each new
 * connection as soon as it is accepted (what a flapping NAT or a restarting load balancer does).
 */
export interface FaultProxy {
  readonly url: string;
  /** Connections destroyed by blackouts (open ones and refused new ones). */
  readonly dropped: number;
  /** Connections carried through in all. */
  readonly carried: number;
  blackout(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let dark = false;
  let dropped = 0;
  let carried = 0;
  const server: Server = createServer((client) => {
    if (dark) {
      dropped++;
      client.destroy();
      return;
    }
    carried++;
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.pipe(upstream);
    upstream.pipe(client);
    for (const s of pair) {
      s.on('close', end);
      s.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    get dropped() {
      return dropped;
    },
    get carried() {
      return carried;
    },
    async blackout(ms: number): Promise<void> {
      dark = true;
      for (const [client, upstream] of [...pairs]) {
        dropped++;
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise((r) => setTimeout(r, ms));
      dark = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
