import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on loopback that behaves like the load balancers between CI runners and a
 * coordinator: it cuts any connection that carries no byte for `idleMs`. It counts the cuts of
 * connections that were in the middle of a request (the client had sent bytes and no answer byte had
 * come back since), which is what a request held open across the network for a whole task suffers.
 */
export interface IdleProxy {
  url: string;
  /** Connections it cut for being idle (idle keep-alive connections included). */
  readonly cuts: number;
  /** Cuts of connections waiting for an answer: a request the proxy killed. */
  readonly cutsMidRequest: number;
  /** The longest time a connection went without a byte in either direction. */
  readonly longestSilenceMs: number;
  close(): Promise<void>;
}

export async function startIdleProxy(target: string, idleMs: number): Promise<IdleProxy> {
  const { hostname, port } = new URL(target);
  let cuts = 0;
  let cutsMidRequest = 0;
  let longest = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    let last = Date.now();
    let awaitingAnswer = false;
    const touch = (): void => {
      longest = Math.max(longest, Date.now() - last);
      last = Date.now();
    };
    const timer = setInterval(() => {
      const silent = Date.now() - last;
      if (silent >= idleMs) {
        cuts++;
        if (awaitingAnswer) cutsMidRequest++;
        client.destroy();
        upstream.destroy();
      }
    }, Math.min(1000, idleMs / 4));
    const end = (): void => {
      clearInterval(timer);
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      touch();
      awaitingAnswer = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      touch();
      awaitingAnswer = false;
      client.write(chunk);
    });
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    get cuts() {
      return cuts;
    },
    get cutsMidRequest() {
      return cutsMidRequest;
    },
    get longestSilenceMs() {
      return longest;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
