/**
 * The proxy the long-task test relies on counts a request it cut while waiting for its answer, and does
 * not count an idle keep-alive connection it cut: the long-task test's `cutsMidRequest === 0` can fail.
 */
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { startIdleProxy } from './idle-proxy';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function exchange(url: string, send: string, waitMs: number): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    let got = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(send));
    socket.on('data', (chunk) => (got += chunk.toString()));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('close', () => (clearTimeout(timer), resolve(got)));
  });
}

describe('the idle-cutting proxy', () => {
  it('counts a cut of a connection waiting for its answer as a cut request, and an idle one as a cut only', async () => {
    // answers "ping" at once and "slow" after 3 s
    const accepted = new Set<import('node:net').Socket>();
    const server = createServer((socket) =>
      accepted.add(socket) &&
      socket.on('data', (chunk) => {
        const text = chunk.toString();
        if (text === 'ping') socket.write('pong');
        else setTimeout(() => socket.writable && socket.write('late'), 3_000).unref();
      }),
    );
    const target = await listen(server);
    const proxy = await startIdleProxy(target, 1_000);
    try {
      expect(await exchange(proxy.url, 'ping', 5_000)).toBe('pong'); // then idle until cut
      expect(proxy.cuts).toBe(1);
      expect(proxy.cutsMidRequest).toBe(0);
      expect(await exchange(proxy.url, 'slow', 5_000)).toBe(''); // cut before its answer
      expect(proxy.cuts).toBe(2);
      expect(proxy.cutsMidRequest).toBe(1);
    } finally {
      await proxy.close();
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
