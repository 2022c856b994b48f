/**
 * Field cases about the life of a run (see docs/field-cases.md), on the default hand-made workspace
 * (a, b; b depends on a), on the newest Nx of e2eNxVersions() only, with one coordinator:
 *  - FC-02 agents outlive the run: after stop-all-agents every agent exits 0 within 30 s.
 *  - FC-03 nothing affected: a change only under .nxignore; main exits 0 saying no tasks ran; agents leave.
 *  - FC-04 one run fed by two main jobs in parallel: the completing job and the API agree: failed, [b:test].
 *  - FC-02 superseded: the first pipeline's main job is cancelled while the next opens its run: the first
 *    run ends (main silent) and its agents exit 0 within 30 s of that. A newer run does not end an older
 *    one whose main is alive (a decision, tested below).
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyWorkspace } from '../support/copy';
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, git, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from '../fleet/cluster';
import { distributedRun, getRun, logFlags, newestNxVersion, within } from './field-support';

jest.setTimeout(6 * 60_000);

const version = newestNxVersion();

describe(`run lifecycle field cases, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('FC-02: after run-many -t build and stop-all-agents, all 3 agents exit 0 within 30 s', async () => {
    const run = await distributedRun(coordinator, template, version, ['run-many', '-t', 'build'], { agents: 3 });
    expect(run.main).toExitWith(0);
    expect(run.main.stdout).toContain('built-b');
    expect(run.stop).toExitWith(0);
    for (const exit of run.exits) expect(exit).toExitWith(0);
    expect(run.agentsExitedAfterMs).toBeLessThan(30_000);
    expect((await getRun(coordinator, run.runId)).status).toBe('completed');
  });

  it('FC-03: with only a file under .nxignore changed, affected says no tasks, exits 0, and both agents exit 0 within 30 s', async () => {
    const prepare = (dir: string): void => {
      writeFileSync(join(dir, '.nxignore'), 'packages/a/scratch/\n');
      mkdirSync(join(dir, 'packages/a/scratch'), { recursive: true });
      writeFileSync(join(dir, 'packages/a/scratch/notes.txt'), 'first\n');
    };
    const ws = await fleetWorkspaces(template, coordinator, 2, prepare);
    appendFileSync(join(ws.main, 'packages/a/scratch/notes.txt'), 'second\n');
    await git(ws.main, ['commit', '-q', '-am', 'change an ignored file only']);
    const run = await distributedRun(coordinator, template, version, ['affected', '-t', 'lint', 'test', 'build', '--base=HEAD~1', '--head=HEAD'], {
      workspaces: ws,
      agents: 2,
    });
    expect(run.main).toExitWith(0);
    expect(run.main.stdout).toMatch(/No tasks were run/);
    expect(run.agents.flatMap(tasksRunBy)).toEqual([]);
    expect(run.stop).toExitWith(0);
    expect(run.exits).toHaveLength(2);
    for (const exit of run.exits) expect(exit).toExitWith(0);
    expect(run.agentsExitedAfterMs).toBeLessThan(30_000);
  });

  it('FC-04: two main jobs of one run in parallel (a:test passes, b:test fails); the completing job exits 1 and agrees with GET run', async () => {
    const runId = newRunId('fc04');
    const ws = await fleetWorkspaces(template, coordinator, 2);
    const second = await copyWorkspace(ws.main); // the second main job's checkout
    const finisher = await copyWorkspace(ws.main); // the pipeline's final job
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', '2']));
    const job = async (dir: string, args: string[]) => {
      const env = fleetEnv(dir, coordinator, { runId });
      const start = await fleetCli(dir, env, ['start-ci-run', '--agents', '2']);
      expect(start).toExitWith(0);
      return nx(dir, env, [...args, ...logFlags(version)], 4 * 60_000);
    };
    const [jobA, jobB] = await Promise.all([job(ws.main, ['run', 'a:test']), job(second, ['run', 'b:test'])]);
    expect(jobA).toExitWith(0);
    expect(jobA.stdout).toContain('PASS marker-a-test');
    expect(jobB).toExitWith(1);
    expect(jobB.stdout).toContain('FAIL marker-b-test');

    const before = await getRun(coordinator, runId);
    expect(before.executions).toHaveLength(2);
    const stop = await fleetCli(finisher, fleetEnv(finisher, coordinator, { runId }), ['stop-all-agents']);
    const view = await getRun(coordinator, runId);
    expect(view.status).toBe('failed');
    expect(view.failedTasks).toEqual(['b:test']);
    expect(stop).toExitWith(1);
    expect(stop.stderr).toContain(`run ${runId} is failed; failed tasks: b:test;`);
    const exits = await within(Promise.all(agents.map((a) => a.exited)), 30_000, 'agents to exit');
    for (const exit of exits) expect(exit).toExitWith(0);
  });

  it('FC-02 superseded: the first pipeline’s main job is cancelled as the next one on its branch opens a run; the first run ends and its agents exit 0 within 30 s of that', async () => {
    const branch = { FLEET_BRANCH: 'feature/superseded' };
    const first = newRunId('fc02-first');
    const ws = await fleetWorkspaces(template, coordinator, 2);
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, first, `old-agent-${i + 1}`, ['--parallel', '1']));
    const env1 = fleetEnv(ws.main, coordinator, { runId: first, extra: branch });
    expect(await fleetCli(ws.main, env1, ['start-ci-run', '--agents', '2'])).toExitWith(0);
    await waitForAgents(coordinator, first, 2);
    // pipeline 1 did some work
    expect(await nx(ws.main, env1, ['run', 'a:build', ...logFlags(version)])).toExitWith(0);
    // pipeline 2 on the same branch opens its run; the CI cancels pipeline 1's main job: every process of
    // that job is killed, start-ci-run's heartbeat included, and stop-all-agents never runs
    const next = await copyWorkspace(ws.main);
    const second = newRunId('fc02-second');
    const env2 = fleetEnv(next, coordinator, { runId: second, extra: branch });
    expect(await fleetCli(next, env2, ['start-ci-run', '--agents', '0', '--require-explicit-completion'])).toExitWith(0);
    const marker = JSON.parse(readFileSync(join(ws.main, '.fleet/ci-run.json'), 'utf8')) as { heartbeatPid?: number };
    expect(marker.heartbeatPid).toEqual(expect.any(Number));
    process.kill(marker.heartbeatPid!, 'SIGKILL');
    // the first run ends (main silent) …
    let view = await getRun(coordinator, first);
    const deadline = Date.now() + 90_000;
    for (let i = 0; i < 450 && view.status === 'open' && Date.now() < deadline; i++) {
      await new Promise((r) => setTimeout(r, 200));
      view = await getRun(coordinator, first);
    }
    expect(view.status).not.toBe('open');
    const endedAt = Date.now();
    // … and its agents leave, with 0, within 30 s of that
    const exits = await within(Promise.all(agents.map((a) => a.exited)), 30_000, 'the superseded run’s agents to exit');
    expect(Date.now() - endedAt).toBeLessThan(30_000);
    for (const exit of exits) expect(exit).toExitWith(0);
    expect((await getRun(coordinator, second)).status).toBe('open');
    expect(await fleetCli(next, env2, ['stop-all-agents'])).toExitWith(0);
  });
});

/**
 * FC-02, superseded variant: the decision (docs/reliability.md). A newer run on the same branch does not
 * end an older run whose main job is alive: two pipelines on one branch are often both wanted (two pushes to
 * main without cancel-in-progress). A pipeline the CI cancels loses its main job, and with it the heartbeat:
 * that run ends 30 s later and its agents leave (the test above). So here, with pipeline 1's main still
 * beating, its run stays open and its agents stay until its own stop-all-agents, which ends them at once.
 */
describe(`a newer run on the same branch, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;
  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('does not end an older run whose main still beats; that run\'s own stop-all-agents ends it and its agents exit 0 within 30 s', async () => {
    const branch = { FLEET_BRANCH: 'feature/two-pipelines' };
    const first = newRunId('fc02-first');
    const ws = await fleetWorkspaces(template, coordinator, 2);
    const env1 = fleetEnv(ws.main, coordinator, { runId: first, extra: branch });
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, first, `old-agent-${i + 1}`, ['--parallel', '1']));
    expect(await fleetCli(ws.main, env1, ['start-ci-run', '--agents', '2'])).toExitWith(0);
    await waitForAgents(coordinator, first, 2);
    const next = await copyWorkspace(ws.main);
    const second = newRunId('fc02-second');
    const env2 = fleetEnv(next, coordinator, { runId: second, extra: branch });
    expect(await fleetCli(next, env2, ['start-ci-run', '--agents', '0'])).toExitWith(0);
    // longer than main's time-out: the first run's heartbeat keeps it open, its agents wait
    const until = Date.now() + 35_000;
    for (let i = 0; i < 400 && Date.now() < until; i++) {
      expect((await getRun(coordinator, first)).status).toBe('open');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const agent of agents) expect(agent.hasExited).toBe(false);
    const stoppedAt = Date.now();
    expect(await fleetCli(ws.main, env1, ['stop-all-agents'])).toExitWith(0);
    const exits = await within(Promise.all(agents.map((a) => a.exited)), 30_000, 'the first run\'s agents to exit');
    for (const exit of exits) expect(exit).toExitWith(0);
    expect(Date.now() - stoppedAt).toBeLessThan(30_000);
    expect(await fleetCli(next, env2, ['stop-all-agents'])).toExitWith(0);
  });
});
