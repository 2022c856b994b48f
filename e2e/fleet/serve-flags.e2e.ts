/**
 * `nx-fleet serve` flags for the coordinator's limits and the run model's server-wide defaults:
 * they take effect (an artifact over --max-artifact-mb is refused with 413 naming the limit; a run
 * gets --main-timeout / --run-timeout / --task-timeout as defaults) and bad values are refused in one
 * line naming the flag.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, runToEnd, startProcess, waitForHttp } from '../support/processes';
import { isolatedEnv } from '../support/env';
import { CLI, startCoordinator } from './cluster';

jest.setTimeout(2 * 60_000);

const sha256 = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

afterAll(() => cleanupAll());

/** Whether something already listens on 127.0.0.1:port. */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

describe('nx-fleet serve with no flags', () => {
  it('listens on 127.0.0.1:4646 with SQLite and a blob folder under ./.fleet, and a token kept there (mode 600, never printed)', async () => {
    // the default port is fixed: a clear failure if this machine already uses it, never a silent pass
    expect(await portTaken(4646)).toBe(false);
    const cwd = mkdtempSync(join(tmpdir(), 'fleet-e2e-serve-defaults-'));
    const env = isolatedEnv(cwd);
    delete env.FLEET_TOKEN;
    const serve = startProcess('serve', process.execPath, [CLI, 'serve'], { cwd, env });
    const line = await serve.waitForOutput(/listening on (\S+)/, { timeoutMs: 30_000 });
    expect(line).toContain('listening on http://127.0.0.1:4646');
    await waitForHttp('http://127.0.0.1:4646/healthz', { timeoutMs: 30_000, process: serve });
    const dataDir = join(cwd, '.fleet');
    expect(existsSync(join(dataDir, 'state.sqlite'))).toBe(true);
    expect(existsSync(join(dataDir, 'blobs'))).toBe(true);
    const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dataDir, 'token')).mode & 0o777).toBe(0o600);
    expect(serve.output).not.toContain(token);
    // every route but /healthz wants the token
    expect((await fetch('http://127.0.0.1:4646/v1/runs/x')).status).toBe(401);
    const withToken = await fetch('http://127.0.0.1:4646/v1/runs/x', { headers: { authorization: `Bearer ${token}` } });
    expect(withToken.status).toBe(404);
    await serve.stop();
  });
});

describe('nx-fleet serve flags', () => {
  it('applies --max-artifact-mb and the run defaults', async () => {
    const coordinator = await startCoordinator({
      extraArgs: ['--max-artifact-mb', '1', '--main-timeout', '45s', '--run-timeout', '90m', '--task-timeout', '20m', '--lease-retries', '1'],
    });
    const auth = { authorization: `Bearer ${coordinator.token}` };
    const bigBody = randomBytes(2 * 1024 * 1024);
    const big = await fetch(`${coordinator.url}/v1/cache/${'a'.repeat(20)}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'x-fleet-sha256': sha256(bigBody) },
      body: bigBody,
    });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/1048576/);
    const smallBody = randomBytes(512 * 1024);
    const small = await fetch(`${coordinator.url}/v1/cache/${'b'.repeat(20)}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'x-fleet-sha256': sha256(smallBody) },
      body: smallBody,
    });
    expect(small.status).toBe(200);
    const run = await fetch(`${coordinator.url}/v1/runs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ runId: 'serve-flags-1' }),
    });
    expect(run.status).toBe(200);
    expect(await run.json()).toMatchObject({ mainTimeoutMs: 45_000, runTimeoutMs: 90 * 60_000, taskTimeoutMs: 20 * 60_000 });
  });

  it('applies --trusted-branches and --rate-limit', async () => {
    const coordinator = await startCoordinator({ extraArgs: ['--trusted-branches', 'trunk, release/*', '--rate-limit', '6'] });
    const body = randomBytes(1024);
    const headers = (branch: string): Record<string, string> => ({
      authorization: `Bearer ${coordinator.token}`,
      'content-type': 'application/octet-stream',
      'x-fleet-sha256': sha256(body),
      'x-fleet-branch': branch,
    });
    const status = async (path: string, init: RequestInit): Promise<number> => {
      const res = await fetch(`${coordinator.url}${path}`, init);
      await res.arrayBuffer();
      return res.status;
    };
    // main is not trusted on this coordinator: its write stays its own; release/2 writes to the shared namespace
    expect(await status('/v1/cache/h-main', { method: 'PUT', headers: headers('main'), body })).toBe(200);
    expect(await status('/v1/cache/h-main', { headers: headers('trunk') })).toBe(404);
    expect(await status('/v1/cache/h-rel', { method: 'PUT', headers: headers('release/2'), body })).toBe(200);
    expect(await status('/v1/cache/h-rel', { headers: headers('trunk') })).toBe(200);
    // six requests in the minute so far: the seventh is limited
    expect(await status('/v1/cache/h-rel', { headers: headers('trunk') })).toBe(200);
    expect(await status('/v1/cache/h-rel', { headers: headers('trunk') })).toBe(200);
    const limited = await fetch(`${coordinator.url}/v1/cache/h-rel`, { headers: headers('trunk') });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ code: 'rate_limited' });
  });

  it.each([
    [['--main-timeout', '2s'], /--main-timeout must be a duration from 10 s to 24 h/],
    [['--max-artifact-mb', '0'], /--max-artifact-mb must be a number of MiB above 0/],
    [['--lease-retries', '11'], /--lease-retries must be a whole number from 0 to 10/],
    [['--agentless-timeout', 'soon'], /--agentless-timeout must be a duration/],
    [['--rate-limit', '-1'], /--rate-limit must be a whole number from 0 to 100000000/],
    [['--max-long-polls', '0'], /--max-long-polls must be a whole number from 1 to 1000000/],
  ])('refuses %j in one line naming the flag', async (args, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-serve-flags-'));
    const result = await runToEnd('serve', process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dir, ...args], {
      cwd: dir,
      env: isolatedEnv(dir, { FLEET_TOKEN: 't0ken' }),
      timeoutMs: 30_000,
    });
    expect(result).toExitWith(1);
    expect(result.stderr).toMatch(message);
    expect(result.output).not.toContain('t0ken');
  });

  it('a --data-dir with a file in the way, a port in use and a host of another machine: exit 1, one line saying what to change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-serve-errors-'));
    writeFileSync(join(dir, 'file'), 'not a folder');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as AddressInfo).port;
    try {
      for (const [args, message] of [
        [['--port', '0', '--data-dir', join(dir, 'file')], /--data-dir \S+\/file cannot be used: a file is in the way of the folder \(pick another --data-dir\)/],
        [['--port', '0', '--data-dir', join(dir, 'file', 'sub')], /--data-dir \S+\/file\/sub cannot be used: a file is in the way/],
        [['--port', String(busyPort), '--data-dir', join(dir, 'a')], new RegExp(`127\\.0\\.0\\.1:${busyPort} is already in use \\(another coordinator\\?\\): stop it, or pick another --port`)],
        [['--port', '0', '--host', '999.1.1.1', '--data-dir', join(dir, 'b')], /--host 999\.1\.1\.1 is not an address of this machine/],
        [['--data-dir', ''], /--data-dir must name a folder/],
      ] as const) {
        const result = await runToEnd('serve', process.execPath, [CLI, 'serve', ...args], { cwd: dir, env: isolatedEnv(dir, { FLEET_TOKEN: 't0ken' }), timeoutMs: 30_000 });
        expect(result).toExitWith(1);
        const last = result.stderr.trim().split('\n').pop() ?? '';
        expect(last).toMatch(message);
        expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      }
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
