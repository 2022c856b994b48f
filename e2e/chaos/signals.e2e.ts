/**
 * Chaos: SIGTERM in the middle of a distributed run, as when a CI job is cancelled.
 *  - To main's nx process while a ~30 s task runs on an agent, on both front doors: Nx 19.8
 *    (the tasks runner cancels the execution from its signal handler) and the newest Nx (the
 *    relay sidecar sees its Nx process gone, checked every 5 s). The execution ends
 *    `cancelled`, the agent stops the task long before its end, main exits non-zero.
 *  - To one of two agents in the middle of a task: it hands its lease back and exits 143, the
 *    other agent starts the task at once (not after the 10 s lease time-out), the hand-back is
 *    not counted as a lost agent, and main exits 0 with the right outputs.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nxBin } from '../support/nx-cli';
import { cleanupAll, startProcess, type ManagedProcess } from '../support/processes';
import { handmadeWorkspaceTemplate, type NxVersion, type ProjectSpec } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from '../fleet/cluster';
import { customProjects, logFlags, newestNxVersion, within } from '../field-cases/field-support';
import { executionView, leaseOutcomes, onlyExecution, pidFromFile, runView, stopHeartbeats, timeOfOutput, trackHeartbeat, waitForPidGone } from '../fleet/run-control-support';
import { waitFor } from './chaos-cluster';

jest.setTimeout(5 * 60_000);

/**
 * One cacheable task that prints `sig-start a`, sleeps (its `sleep` writes its pid to
 * .markers/a-sleep.pid in the checkout that runs it), then writes dist/a/out.txt and prints
 * `sig-done a`. printf keeps those words out of the command line Nx echoes.
 */
function sleeperProjects(seconds: number): Record<string, ProjectSpec> {
  return {
    a: {
      targets: {
        build: {
          command: [
            `mkdir -p .markers`,
            `printf 'sig-%s a\\n' start`,
            `(sleep ${seconds} & echo $! > .markers/a-sleep.pid; wait $!)`,
            `mkdir -p dist/a`,
            `echo "a-out-$(cat packages/a/salt.txt)" > dist/a/out.txt`,
            `printf 'sig-%s a\\n' done`,
          ].join(' && '),
          outputs: ['{workspaceRoot}/dist/a'],
        },
      },
    },
  };
}

/** customProjects plus a salt in a's inputs, so runs on one coordinator never share hashes. */
function sleeperWorkspace(seconds: number, salt: string): (dir: string) => void {
  return customProjects(sleeperProjects(seconds), (dir) => writeFileSync(join(dir, 'packages/a/salt.txt'), `${salt}\n`));
}

const TASK_SECONDS = 30;
/** The agent's lease heartbeat (leaseMs/3 ≈ 3.3 s) or the sidecar's parent check (5 s), plus Nx's own stop. */
const STOP_BOUND_MS = 15_000;

const newest = newestNxVersion();
const frontDoors: NxVersion[] = [...new Set<NxVersion>(['19.8.14', newest])];

describe.each(frontDoors)('chaos: SIGTERM to main mid-run, Nx %s', (version) => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(async () => {
    stopHeartbeats();
    await cleanupAll();
  });

  it(`the execution is cancelled, the agent stops the ${TASK_SECONDS} s task within ${STOP_BOUND_MS / 1000} s, main exits non-zero`, async () => {
    const runId = newRunId(`sig-main-${version}`);
    const ws = await fleetWorkspaces(template, coordinator, 1, sleeperWorkspace(TASK_SECONDS, runId));
    const env = fleetEnv(ws.main, coordinator, { runId });
    trackHeartbeat(ws.main);
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '1'])).toExitWith(0);
    const agent = startAgent(ws.agents[0], coordinator, runId, 'agent-1', ['--parallel', '1']);
    await waitForAgents(coordinator, runId, 1);
    const main = startProcess('nx main', process.execPath, [nxBin(ws.main), 'run', 'a:build', ...logFlags(version)], {
      cwd: ws.main,
      env,
      logFile: join(ws.main, '.fleet-e2e', 'main.log'),
    });
    await agent.waitForOutput('sig-start a', { timeoutMs: 90_000 });
    const sleepPid = await pidFromFile(join(ws.agents[0], '.markers/a-sleep.pid'), 10_000);
    const execution = await onlyExecution(coordinator, runId);
    expect(execution.status).toBe('running');

    // the main process only, as a CI runner cancelling the job's command does
    const signalledAt = Date.now();
    process.kill(main.pid, 'SIGTERM');

    const stoppedAt = await timeOfOutput(agent, /stopping a:build: /, 45_000);
    const mainExit = await within(main.exited, 30_000, 'main to exit after SIGTERM');
    const cancelled = await waitFor(
      'the execution to be cancelled on the coordinator',
      async () => {
        const view = await executionView(coordinator, execution.executionId);
        return view.status === 'cancelled' ? view : undefined;
      },
      20_000,
    );
    const stopMs = stoppedAt - signalledAt;
    process.stderr.write(`[signals ${version}] agent stopped the task ${stopMs} ms after SIGTERM to main\n`);

    expect({ ...mainExit, output: main.output }).not.toExitWith(0);
    expect(cancelled.status).toBe('cancelled');
    expect(stopMs).toBeLessThan(STOP_BOUND_MS);
    // stopped, not finished: the task would have run for another ~30 s
    await agent.waitForOutput(/a:build failed \(exit \d+\)/, { timeoutMs: 15_000 });
    expect(Date.now() - signalledAt).toBeLessThan(TASK_SECONDS * 1000);
    expect(agent.output).not.toContain('sig-done a');
    expect(tasksRunBy(agent)).toEqual(['a:build']);
    // the task's own process is gone too, not left running in the agent's checkout
    expect(await waitForPidGone(sleepPid, 10_000)).not.toBeNull();

    await fleetCli(ws.main, env, ['stop-all-agents']);
    expect(await within(agent.exited, 30_000, 'the agent to exit after stop-all-agents')).toExitWith(0);
  });
});

describe(`chaos: SIGTERM to an agent mid-task, Nx ${newest}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(newest);
    coordinator = await startCoordinator();
  });
  afterAll(async () => {
    stopHeartbeats();
    await cleanupAll();
  });

  it('the agent exits 143 handing its lease back, the other agent starts the task within 5 s, not counted as a loss', async () => {
    const runId = newRunId('sig-agent');
    const salt = randomBytes(6).toString('hex');
    const ws = await fleetWorkspaces(template, coordinator, 2, sleeperWorkspace(6, salt));
    const env = fleetEnv(ws.main, coordinator, { runId });
    trackHeartbeat(ws.main);
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '2'])).toExitWith(0);
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', '1']));
    await waitForAgents(coordinator, runId, 2);
    const main = nx(ws.main, env, ['run', 'a:build', ...logFlags(newest)], 3 * 60_000);

    const victimIndex = await waitFor('an agent to start a:build', () => {
      const i = agents.findIndex((a) => a.output.includes('sig-start a'));
      return i >= 0 ? i : undefined;
    }, 90_000);
    const victim: ManagedProcess = agents[victimIndex];
    const survivor: ManagedProcess = agents[1 - victimIndex];
    expect(survivor.output).not.toContain('sig-start a');

    const victimSleep = await pidFromFile(join(ws.agents[victimIndex], '.markers/a-sleep.pid'), 10_000);

    const signalledAt = Date.now();
    process.kill(victim.pid, 'SIGTERM'); // the agent's process only: it must stop its own task
    const [victimExit, survivorStartedAt] = await Promise.all([
      within(victim.exited.then((exit) => ({ ...exit, afterMs: Date.now() - signalledAt, output: victim.output })), 30_000, 'the victim to exit'),
      // the survivor's lease of the task (its Nx then takes a few seconds to start it)
      timeOfOutput(survivor, /running a:build \(attempt 2\)/, 30_000),
    ]);
    const takeOverMs = survivorStartedAt - signalledAt;
    process.stderr.write(`[signals] victim exited after ${victimExit.afterMs} ms; survivor started the task ${takeOverMs} ms after SIGTERM\n`);

    expect(victimExit).toExitWith(143);
    expect(victimExit.afterMs).toBeLessThan(8_000);
    expect(victim.output).toMatch(/stopping a:build: agent agent-\d is stopping/);
    expect(victim.output).toMatch(/a:build: lease handed back/);
    // well before the lease would have expired (10 s without a heartbeat)
    expect(takeOverMs).toBeLessThan(5_000);
    expect(await waitForPidGone(victimSleep, 10_000)).not.toBeNull();

    const result = await main;
    expect(result).toExitWith(0);
    expect(result.stdout).toContain('sig-done a');
    expect(readFileSync(join(ws.main, 'dist/a/out.txt'), 'utf8')).toBe(`a-out-${salt}\n`);

    // attempt counting (ADR 0002): the hand-back counts in attempts, is recorded as released, and is not a loss
    const execution = await onlyExecution(coordinator, runId);
    expect(execution.status).toBe('succeeded');
    const task = execution.tasks.find((t) => t.id === 'a:build')!;
    expect(task).toMatchObject({ status: 'succeeded', agent: survivor.name, attempts: 1, message: null });
    expect(task.retried ?? 0).toBe(0);
    expect(leaseOutcomes(coordinator, 'a:build')).toEqual([
      { agent: victim.name, outcome: 'released' },
      { agent: survivor.name, outcome: 'succeeded' },
    ]);
    expect((await runView(coordinator, runId)).status).toBe('open');

    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
    expect(await within(survivor.exited, 30_000, 'the survivor to exit')).toExitWith(0);
  });
});
