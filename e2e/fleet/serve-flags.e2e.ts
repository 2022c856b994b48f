/**
 * `nx-fleet serve` flags for the coordinator's limits and the run model's server-wide defaults:
 * they take effect (an artifact over --max-artifact-mb is refused with 413 naming the limit; a run
 * gets --main-timeout / --run-timeout / --task-timeout as defaults) and bad values are refused in one
 * line naming the flag.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, runToEnd } from '../support/processes';
import { isolatedEnv } from '../support/env';
import { CLI, startCoordinator } from './cluster';

jest.setTimeout(2 * 60_000);

afterAll(() => cleanupAll());

describe('nx-fleet serve flags', () => {
  it('applies --max-artifact-mb and the run defaults', async () => {
    const coordinator = await startCoordinator({
      extraArgs: ['--max-artifact-mb', '1', '--main-timeout', '45s', '--run-timeout', '90m', '--task-timeout', '20m', '--lease-retries', '1'],
    });
    const auth = { authorization: `Bearer ${coordinator.token}` };
    const big = await fetch(`${coordinator.url}/v1/cache/${'a'.repeat(20)}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: randomBytes(2 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/1048576/);
    const small = await fetch(`${coordinator.url}/v1/cache/${'b'.repeat(20)}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: randomBytes(512 * 1024),
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

  it.each([
    [['--main-timeout', '2s'], /--main-timeout must be a duration from 10 s to 24 h/],
    [['--max-artifact-mb', '0'], /--max-artifact-mb must be a number of MiB above 0/],
    [['--lease-retries', '11'], /--lease-retries must be a whole number from 0 to 10/],
    [['--agentless-timeout', 'soon'], /--agentless-timeout must be a duration/],
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
});
