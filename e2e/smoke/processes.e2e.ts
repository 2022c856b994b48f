import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseEnv } from '../support/env';
import { CommandTimedOutError, E2eError } from '../support/errors';
import { cleanupAll, freePort, runToEnd, startProcess, trackedProcesses, waitForHttp } from '../support/processes';

jest.setTimeout(60_000);

const SERVER = `
const http = require('http');
const server = http.createServer((req, res) => { res.statusCode = req.url === '/health' ? 200 : 404; res.end('ok'); });
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-e2e-proc-'));
});
afterAll(async () => {
  await cleanupAll();
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function waitUntilDead(pid: number, timeoutMs = 5000): Promise<boolean> {
  for (let i = 0; i < timeoutMs / 50; i++) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !alive(pid);
}

describe('processes', () => {
  it('starts a server on port 0, waits on its health endpoint, logs to a file and stops it', async () => {
    const logFile = join(dir, 'logs', 'server.log');
    const server = startProcess('server', process.execPath, ['-e', SERVER], { cwd: dir, env: baseEnv(), logFile });
    const output = await server.waitForOutput(/listening (\d+)/, { timeoutMs: 10_000 });
    const port = Number(/listening (\d+)/.exec(output)?.[1]);
    await waitForHttp(`http://127.0.0.1:${port}/health`, { timeoutMs: 10_000, process: server });
    const exit = await server.stop(2000);
    expect(exit.signal).toBe('SIGTERM');
    expect(readFileSync(logFile, 'utf8')).toContain(`listening ${port}`);
  });

  it('kills the whole process group, grandchildren included', async () => {
    const parent = startProcess('sh', 'sh', ['-c', 'sleep 300 & echo child=$!; wait'], { cwd: dir, env: baseEnv() });
    const output = await parent.waitForOutput(/child=\d+/, { timeoutMs: 10_000 });
    const grandchild = Number(/child=(\d+)/.exec(output)?.[1]);
    expect(alive(grandchild)).toBe(true);
    parent.kill('SIGKILL');
    await parent.exited;
    expect(await waitUntilDead(grandchild)).toBe(true);
  });

  it('runToEnd returns stdout, stderr and code; stdin is passed in', async () => {
    const result = await runToEnd('cat', 'sh', ['-c', 'cat; echo err >&2; exit 3'], { cwd: dir, env: baseEnv(), stdin: 'hello' });
    expect(result).toMatchObject({ code: 3, stdout: 'hello', stderr: 'err\n' });
    expect(trackedProcesses().some((proc) => proc.name === 'cat')).toBe(false);
  });

  it('runToEnd kills the group and throws after its time bound', async () => {
    const startedAt = Date.now();
    await expect(runToEnd('sleeper', 'sleep', ['300'], { cwd: dir, env: baseEnv(), timeoutMs: 500 })).rejects.toBeInstanceOf(
      CommandTimedOutError,
    );
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });

  it('waitForHttp gives up after its bound on a port nobody listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const startedAt = Date.now();
    await expect(waitForHttp(`http://127.0.0.1:${port}/health`, { timeoutMs: 500 })).rejects.toBeInstanceOf(E2eError);
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  it('cleanupAll stops what is still running', async () => {
    const proc = startProcess('long', 'sleep', ['300'], { cwd: dir, env: baseEnv() });
    await cleanupAll(1000);
    expect(proc.hasExited).toBe(true);
    expect(trackedProcesses()).toEqual([]);
  });
});
