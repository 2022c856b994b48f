/**
 * Chaos: every connection between the agents and the coordinator dropped, and new ones
 * refused, for 5 s while tasks run (a TCP proxy that blacks out). The run completes and main's
 * outputs are byte-identical to a clean local run.
 */
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { fleetCli, nx, startCoordinator, tasksRunBy, type Coordinator } from '../fleet/cluster';
import { ALL_TASKS, BUILD_ALL, chaosBaseline, chaosRepeat, getRun, waitFor, openChaosRun, type ChaosBaseline } from './chaos-cluster';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

jest.setTimeout(10 * 60_000);

describe('chaos: the network between agents and coordinator drops for 5 s', () => {
  let coordinator: Coordinator;
  let baseline: ChaosBaseline;
  let proxy: FaultProxy;

  beforeAll(async () => {
    coordinator = await startCoordinator();
    baseline = await chaosBaseline(coordinator);
    proxy = await startFaultProxy(coordinator.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await cleanupAll();
  });

  it.each(Array.from({ length: chaosRepeat() }, (_, i) => i + 1))('the run completes (repetition %i)', async () => {
    const { runId, ws, env, agents } = await openChaosRun(coordinator, baseline, 'chaos-net', 2, { agentEnv: { FLEET_URL: proxy.url } });
    const main = nx(ws.main, env, BUILD_ALL);

    await waitFor('a middle task to start', () => (agents.some((a) => /chaos-start p\d/.test(a.output)) ? true : undefined));
    const droppedBefore = proxy.dropped;
    await proxy.blackout(5_000);
    // the blackout cut live connections (long-polls at least) or refused new ones
    expect(proxy.dropped).toBeGreaterThan(droppedBefore);

    const result = await main;
    expect(result).toExitWith(0);
    expect(result.stdout).toMatch(/for 8 out of 8 tasks/);
    expect(digestTree(join(ws.main, 'dist'))).toEqual(baseline.outputs);
    // the agents ran every task (none was an old cache hit)
    expect([...new Set(agents.flatMap(tasksRunBy))].sort()).toEqual(ALL_TASKS);

    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
    for (const agent of agents) expect(await agent.exited).toMatchObject({ code: 0 });
    expect((await getRun(coordinator, runId)).status).toBe('completed');
  });
});
