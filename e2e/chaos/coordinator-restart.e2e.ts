/**
 * Chaos: the coordinator SIGKILLed in the middle of a run and restarted on the same data
 * directory and port. Main, agents and their relays retry through the gap; the run completes
 * with every task run exactly once and main's outputs byte-identical to a clean local run.
 */
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { fleetCli, nx, startCoordinator, tasksRunBy, type Coordinator } from '../fleet/cluster';
import { ALL_TASKS, BUILD_ALL, chaosBaseline, chaosRepeat, getRun, waitFor, openChaosRun, type ChaosBaseline } from './chaos-cluster';

jest.setTimeout(10 * 60_000);

describe('chaos: the coordinator killed and restarted mid-run', () => {
  let coordinator: Coordinator;
  let baseline: ChaosBaseline;

  beforeAll(async () => {
    coordinator = await startCoordinator();
    baseline = await chaosBaseline(coordinator);
  });
  afterAll(async () => {
    await cleanupAll();
  });

  it.each(Array.from({ length: chaosRepeat() }, (_, i) => i + 1))('the run completes, nothing lost or duplicated (repetition %i)', async () => {
    const { runId, ws, env, agents } = await openChaosRun(coordinator, baseline, 'chaos-restart', 3, { parallel: 1 });
    const main = nx(ws.main, env, BUILD_ALL);

    // kill it once base is done and middle tasks are running on the agents
    await waitFor('two middle tasks to start', () => (agents.filter((a) => /chaos-start p\d/.test(a.output)).length >= 2 ? true : undefined));
    const port = Number(new URL(coordinator.url).port);
    coordinator.process.kill('SIGKILL');
    await coordinator.process.exited;
    coordinator = await startCoordinator({ dataDir: coordinator.dataDir, token: coordinator.token, port });

    const result = await main;
    expect(result).toExitWith(0);
    expect(result.stdout).toMatch(/for 8 out of 8 tasks/);
    expect(digestTree(join(ws.main, 'dist'))).toEqual(baseline.outputs);
    // exactly once: no agent ran a task twice, none was told its result came too late
    expect(agents.flatMap(tasksRunBy).sort()).toEqual(ALL_TASKS);
    for (const agent of agents) expect(agent.output).not.toMatch(/too late/);

    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
    for (const agent of agents) expect(await agent.exited).toMatchObject({ code: 0 });
    const run = await getRun(coordinator, runId);
    expect(run.status).toBe('completed');
    expect(run.failedTasks).toEqual([]);
  });
});
