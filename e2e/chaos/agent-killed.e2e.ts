/**
 * Chaos: an agent SIGKILLed (with its whole process group, as when a CI machine is preempted)
 * in the middle of a task. Its lease expires (10 s by default), the task goes back to the
 * queue, another agent runs it, and main's outputs are byte-identical to a clean local run.
 */
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { fleetCli, nx, startCoordinator, tasksRunBy, type Coordinator } from '../fleet/cluster';
import { ALL_TASKS, BUILD_ALL, chaosBaseline, chaosRepeat, getRun, waitFor, openChaosRun, type ChaosBaseline } from './chaos-cluster';

jest.setTimeout(10 * 60_000);

describe('chaos: an agent killed in the middle of a task', () => {
  let coordinator: Coordinator;
  let baseline: ChaosBaseline;

  beforeAll(async () => {
    coordinator = await startCoordinator();
    baseline = await chaosBaseline(coordinator);
  });
  afterAll(async () => {
    await cleanupAll();
  });

  it.each(Array.from({ length: chaosRepeat() }, (_, i) => i + 1))('the task completes on another agent (repetition %i)', async () => {
    const { runId, ws, env, agents } = await openChaosRun(coordinator, baseline, 'chaos-agent', 2);
    const main = nx(ws.main, env, BUILD_ALL);

    // the victim: the first agent to start one of the 3 s middle tasks; kill it 1 s into the task
    const [victimIndex, victimTask] = await waitFor('an agent to start a p task', () => {
      for (const [i, agent] of agents.entries()) {
        const m = /chaos-start (p\d)/.exec(agent.output);
        if (m) return [i, `${m[1]}:build`] as const;
      }
      return undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    agents[victimIndex].kill('SIGKILL');
    await agents[victimIndex].exited;
    const survivor = agents[1 - victimIndex];

    const result = await main;
    expect(result).toExitWith(0);
    expect(result.stdout).toMatch(/for 8 out of 8 tasks/);
    expect(digestTree(join(ws.main, 'dist'))).toEqual(baseline.outputs);
    expect([...new Set(agents.flatMap(tasksRunBy))].sort()).toEqual(ALL_TASKS);
    // the lost task ran again, on the survivor, as a second attempt
    expect(tasksRunBy(survivor)).toContain(victimTask);
    expect(survivor.output).toMatch(new RegExp(`running ${victimTask.replace('.', '\\.')} \\(attempt 2\\)`));
    // every task succeeded exactly once as far as the coordinator knows
    const executions = (await getRun(coordinator, runId)).executions as Array<{ executionId: string }>;
    expect(executions).toHaveLength(1);
    const res = await fetch(`${coordinator.url}/v1/executions/${executions[0].executionId}`, {
      headers: { authorization: `Bearer ${coordinator.token}` },
    });
    const execution = (await res.json()) as { status: string; tasks: Array<{ id: string; status: string; attempts: number }> };
    expect(execution.status).toBe('succeeded');
    expect(execution.tasks.map((t) => t.id).sort()).toEqual(ALL_TASKS);
    expect(execution.tasks.every((t) => t.status === 'succeeded')).toBe(true);

    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
    expect(await survivor.exited).toMatchObject({ code: 0 });
  });
});
