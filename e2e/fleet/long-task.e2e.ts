/**
 * A task that runs for 150 s is replayed on main like any other, through a proxy that
 * cuts every connection silent for 30 s (load balancers commonly cut at about 60 s): no
 * request in the chain is held open across the network for the length of the task.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startCoordinator, waitForAgents } from './cluster';
import { startIdleProxy, type IdleProxy } from './idle-proxy';
import { CLI } from './cluster';
import { startProcess } from '../support/processes';

jest.setTimeout(8 * 60_000);

const TASK_SECONDS = Number(process.env.FLEET_E2E_LONG_TASK_SECONDS ?? 150);

describe('a long task', () => {
  let proxy: IdleProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
    await cleanupAll();
  });

  it(`runs ${TASK_SECONDS} s on an agent and is replayed on main through a proxy that cuts idle connections`, async () => {
    const template = await handmadeWorkspaceTemplate('20.8.4');
    const coordinator = await startCoordinator();
    proxy = await startIdleProxy(coordinator.url, 30_000);
    const addSlow = (dir: string): void => {
      const file = join(dir, 'packages/a/project.json');
      const project = JSON.parse(readFileSync(file, 'utf8'));
      project.targets.slow = {
        executor: 'nx:run-commands',
        cache: true,
        outputs: ['{workspaceRoot}/dist/slow'],
        options: { command: `sleep ${TASK_SECONDS} && mkdir -p dist/slow && echo slow-done > dist/slow/out.txt && echo slow-task-finished` },
      };
      writeFileSync(file, JSON.stringify(project));
    };
    const runId = newRunId('long');
    const ws = await fleetWorkspaces(template, coordinator, 1, addSlow);
    const viaProxy = { FLEET_URL: proxy.url };
    const agentEnv = fleetEnv(ws.agents[0], coordinator, { runId, extra: viaProxy });
    const agent = startProcess('agent-1', process.execPath, [CLI, 'start-agent', '--name', 'agent-1'], {
      cwd: ws.agents[0],
      env: agentEnv,
    });
    const env = fleetEnv(ws.main, coordinator, { runId, extra: viaProxy });
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '1'])).toExitWith(0);
    await waitForAgents(coordinator, runId, 1);
    const main = await nx(ws.main, env, ['run', 'a:slow'], (TASK_SECONDS + 120) * 1000);
    const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
    const exit = await agent.exited;

    expect(main).toExitWith(0);
    expect(main.stdout).toContain('slow-task-finished');
    expect(main.stdout).toMatch(/nx run a:slow\s+\[remote cache\]/);
    expect(readFileSync(join(ws.main, 'dist/slow/out.txt'), 'utf8')).toBe('slow-done\n');
    expect(main.durationMs).toBeGreaterThanOrEqual(TASK_SECONDS * 1000);
    // no request through the proxy waited 30 s for its answer (long-polls are at most 20 s): the proxy
    // cut no connection in the middle of a request, only idle keep-alive ones if any
    expect(proxy.cutsMidRequest).toBe(0);
    expect(proxy.longestSilenceMs).toBeLessThan(30_000);
    expect(stop).toExitWith(0);
    expect(exit).toExitWith(0);
  });
});
