/**
 * `npm run demo` (after its build step): an embedded coordinator, three agents and a main job on the
 * sample workspace end with exit 0 and the summary the README promises — tasks, agents that each ran
 * some, wall time, the ideal time, nx's exit code and where the restored outputs are.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { baseEnv } from '../support/env';
import { cleanupAll, runToEnd } from '../support/processes';

jest.setTimeout(6 * 60_000);

const REPO = resolve(__dirname, '../..');

describe('npm run demo', () => {
  let logs: string | undefined;
  afterAll(async () => {
    await cleanupAll();
    if (logs?.startsWith(tmpdir())) rmSync(logs, { recursive: true, force: true });
  });

  it('ends with exit 0 and the summary: tasks, agents, wall time, ideal time, outputs', async () => {
    const demo = await runToEnd('demo', process.execPath, [join(REPO, 'tools/demo/run-demo.js')], {
      cwd: REPO,
      env: baseEnv({ CI: 'true' }),
      timeoutMs: 5 * 60_000,
    });
    logs = /^ {2}logs +(\S+)$/m.exec(demo.stdout)?.[1];
    expect(demo).toExitWith(0);
    const row = (name: string): string => new RegExp(`^ {2}${name} +(.+)$`, 'm').exec(demo.stdout)?.[1] ?? '';
    expect(row('tasks')).toBe('21 (build, test, lint of 7 projects)');
    const agents = /^3; tasks run per agent: (\d+), (\d+), (\d+); exit codes: 0, 0, 0$/.exec(row('agents'));
    expect(agents).not.toBeNull();
    const perAgent = agents!.slice(1).map(Number);
    for (const n of perAgent) expect(n).toBeGreaterThanOrEqual(1);
    expect(perAgent.reduce((a, b) => a + b, 0)).toBe(21);
    expect(row('wall time \\(main\\)')).toMatch(/^\d+\.\d s$/);
    expect(row('ideal time')).toMatch(/^\d+\.\d s = max\(critical path \d+\.\d s, total work \d+\.\d s \/ 3\)$/);
    expect(row('nx exit code')).toBe('0');
    const outputs = /^(\S+) \((\d+) projects restored on main\)$/.exec(row('outputs'));
    expect(outputs).not.toBeNull();
    expect(Number(outputs![2])).toBe(7);
    expect(existsSync(outputs![1]) && readdirSync(outputs![1]).length).toBe(7);
    // every task's log reached main
    expect(demo.stdout).toMatch(/read the output from the cache instead of running the command for 21 out of 21 tasks/);
  });
});
