/**
 * Chaos: the main job killed mid-run (its nx process and start-ci-run's heartbeat, SIGKILL,
 * as when a CI job is cancelled or its machine is lost). The coordinator fails the run once
 * main has been silent for its main time-out (30 s) and every agent leaves within 40 s.
 * stop-all-agents afterwards (the pipeline's "always" step) still completes and exits 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { fleetCli, startCoordinator, type Coordinator } from '../fleet/cluster';
import { startProcess } from '../support/processes';
import { nxBin } from '../support/nx-cli';
import { BUILD_ALL, chaosBaseline, chaosRepeat, getRun, waitFor, openChaosRun, type ChaosBaseline } from './chaos-cluster';

jest.setTimeout(10 * 60_000);

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('chaos: the main job killed mid-run', () => {
  let coordinator: Coordinator;
  let baseline: ChaosBaseline;

  beforeAll(async () => {
    coordinator = await startCoordinator();
    baseline = await chaosBaseline(coordinator);
  });
  afterAll(async () => {
    await cleanupAll();
  });

  it.each(Array.from({ length: chaosRepeat() }, (_, i) => i + 1))('the run fails and the agents exit within 40 s (repetition %i)', async () => {
    const { runId, ws, env, agents } = await openChaosRun(coordinator, baseline, 'chaos-main', 2);
    const marker = JSON.parse(readFileSync(join(ws.main, '.fleet', 'ci-run.json'), 'utf8')) as { heartbeatPid?: number };
    expect(marker.heartbeatPid).toBeGreaterThan(1);
    const main = startProcess('nx main', process.execPath, [nxBin(ws.main), ...BUILD_ALL], { cwd: ws.main, env });

    await waitFor('a middle task to start', () => (agents.some((a) => /chaos-start p\d/.test(a.output)) ? true : undefined));
    const killedAt = Date.now();
    main.kill('SIGKILL');
    killPid(marker.heartbeatPid!);
    await main.exited;

    const exits = await Promise.all(agents.map((a) => a.exited.then((exit) => ({ ...exit, afterMs: Date.now() - killedAt }))));
    for (const exit of exits) {
      expect(exit.code).toBe(0);
      expect(exit.afterMs).toBeLessThan(40_000);
    }
    const run = await getRun(coordinator, runId);
    expect(run.status).toBe('failed');
    expect(String(run.reason)).toMatch(/main job silent for 30 s/);
    for (const agent of agents) expect(agent.output).toMatch(/main job silent for 30 s/);

    const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
    expect(stop).toExitWith(1);
    expect(stop.output).toMatch(/main job silent for 30 s/);
  });
});
