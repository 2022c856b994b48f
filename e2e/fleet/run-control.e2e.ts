/**
 * Run control end to end, on the newest Nx of e2eNxVersions(): start-ci-run's --task-timeout,
 * --retries (a flaky task, and FC-05: a task that always fails, replayed on main with its
 * outputs), --stop-agents-on-failure=false with several nx commands in one run (at once and
 * one after the other), and --stop-agents-after.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, type ManagedProcess } from '../support/processes';
import { handmadeWorkspaceTemplate, type ProjectSpec } from '../support/workspaces';
import { customProjects, logFlags, newestNxVersion, within } from '../field-cases/field-support';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from './cluster';
import { executionOfCommand, onlyExecution, pidFromFile, runView, stopHeartbeats, trackHeartbeat, waitForPidGone } from './run-control-support';

jest.setTimeout(5 * 60_000);

const version = newestNxVersion();

describe(`run control, Nx ${version}`, () => {
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

  /** Workspaces with `projects` (each salted: no hash of an earlier test), start-ci-run and `agents` agents. */
  async function openRun(projects: Record<string, ProjectSpec>, options: { agents: number; startFlags: string[] }) {
    const runId = newRunId('rc');
    const salt = randomBytes(6).toString('hex');
    const prepare = customProjects(projects, (dir) => {
      for (const name of Object.keys(projects)) writeFileSync(join(dir, 'packages', name, 'salt.txt'), `${salt}\n`);
    });
    const ws = await fleetWorkspaces(template, coordinator, options.agents, prepare);
    const env = fleetEnv(ws.main, coordinator, { runId });
    trackHeartbeat(ws.main);
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', String(options.agents), ...options.startFlags])).toExitWith(0);
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', '1']));
    await waitForAgents(coordinator, runId, options.agents);
    return { runId, ws, env, agents };
  }

  const exitsOf = (agents: ManagedProcess[]) => within(Promise.all(agents.map((a) => a.exited)), 60_000, 'the agents to exit');

  it('--task-timeout 10s: a task that sleeps 120 s fails main within 40 s, naming the task and the time-out; the agent stops it and is not stuck', async () => {
    const projects: Record<string, ProjectSpec> = {
      a: {
        targets: {
          // a first command warms the agent's Nx (its project graph), so that at 10 s a:hang is running, not still starting
          warm: { command: 'echo warm-a', cache: true },
          hang: {
            command: `mkdir -p .markers && printf 'rc-%s\\n' hang-start && (sleep 120 & echo $! > .markers/hang.pid; wait $!) && echo never-printed-hang-end`,
            cache: true,
          },
        },
      },
    };
    const run = await openRun(projects, { agents: 1, startFlags: ['--task-timeout', '10s'] });
    expect((await runView(coordinator, run.runId)).taskTimeoutMs).toBe(10_000);
    expect(await nx(run.ws.main, run.env, ['run', 'a:warm', ...logFlags(version)], 3 * 60_000)).toExitWith(0);
    const main = await nx(run.ws.main, run.env, ['run', 'a:hang', ...logFlags(version)], 3 * 60_000);
    process.stderr.write(`[run-control] --task-timeout 10s: main exited after ${main.durationMs} ms\n`);

    expect(main).toExitWith(1);
    expect(main.durationMs).toBeLessThan(40_000);
    expect(main.output).toMatch(/a:hang failed on agent agent-1.*task time-out \(10 s\)/);
    const agent = run.agents[0];
    expect(agent.output).toMatch(/stopping a:hang: (task time-out \(10 s\) reached on agent agent-1|the coordinator took the task back)/);
    expect(agent.output).toContain('rc-hang-start');
    expect(agent.output).not.toContain('never-printed-hang-end');
    expect(await waitForPidGone(await pidFromFile(join(run.ws.agents[0], '.markers/hang.pid'), 5_000), 10_000)).not.toBeNull();
    const task = (await executionOfCommand(coordinator, run.runId, 'a:hang')).tasks.find((t) => t.id === 'a:hang')!;
    expect(task.status).toBe('failed');
    expect(task.message).toMatch(/task time-out \(10 s\) reached on agent agent-1/);

    const stop = await fleetCli(run.ws.main, run.env, ['stop-all-agents']);
    expect(stop).toExitWith(1);
    expect(stop.output).toContain('a:hang');
    const [exit] = await exitsOf(run.agents);
    expect(exit).toExitWith(0);
  });

  it('--retries 1: a flaky task fails on one agent, passes on the other; main exits 0 and names it flaky', async () => {
    // fails the first time it runs anywhere (the marker is outside every checkout), passes after
    const shared = mkdtempSync(join(tmpdir(), 'fleet-e2e-flaky-'));
    const marker = join(shared, 'failed-once');
    const projects: Record<string, ProjectSpec> = {
      a: {
        targets: {
          flaky: {
            command: `if [ -e ${marker} ]; then echo flaky-passed-on-$FLEET_MARKER_ID; else touch ${marker}; echo flaky-failed-on-$FLEET_MARKER_ID; exit 1; fi`,
            cache: true,
          },
        },
      },
    };
    const run = await openRun(projects, { agents: 2, startFlags: ['--retries', '1'] });
    const main = await nx(run.ws.main, run.env, ['run', 'a:flaky', ...logFlags(version)], 3 * 60_000);

    expect(main).toExitWith(0);
    const retried = /a:flaky failed on (agent-\d) and was retried on (agent-\d), where it passed: flaky/.exec(main.output);
    expect(retried).not.toBeNull();
    const [, failedOn, passedOn] = retried!;
    expect(passedOn).not.toBe(failedOn);
    expect(main.output).toContain('flaky tasks (passed only on retry): a:flaky (1 failed attempt)');
    expect(main.stdout).toContain(`flaky-passed-on-${passedOn}`);
    const byName = Object.fromEntries(run.agents.map((a) => [a.name, a]));
    expect(byName[failedOn].output).toContain(`flaky-failed-on-${failedOn}`);
    expect(byName[passedOn].output).toMatch(/running a:flaky \(attempt 2\)/);
    const task = (await onlyExecution(coordinator, run.runId)).tasks.find((t) => t.id === 'a:flaky')!;
    expect(task).toMatchObject({ status: 'succeeded', agent: passedOn, retried: 1, attempts: 1 });
    expect(task.failedAttempts).toEqual([expect.objectContaining({ agent: failedOn, exitCode: 1 })]);

    expect(await fleetCli(run.ws.main, run.env, ['stop-all-agents'])).toExitWith(0);
    for (const exit of await exitsOf(run.agents)) expect(exit).toExitWith(0);
  });

  it('FC-05: a task that always fails, retried once on another agent: main exits 1, prints its log, says it was retried, and has its report', async () => {
    const projects: Record<string, ProjectSpec> = {
      a: {
        targets: {
          e2e: {
            command: `mkdir -p dist/a && echo "<testsuite failures=\\"1\\" agent=\\"$FLEET_MARKER_ID\\"/>" > dist/a/report.xml && echo FAIL marker-123 && exit 1`,
            outputs: ['{workspaceRoot}/dist/a'],
            cache: true,
          },
        },
      },
    };
    const run = await openRun(projects, { agents: 2, startFlags: ['--retries', '1'] });
    const main = await nx(run.ws.main, run.env, ['run', 'a:e2e', ...logFlags(version)], 3 * 60_000);

    expect(main).toExitWith(1);
    expect(main.stdout).toContain('FAIL marker-123');
    const retried = /retried: a:e2e failed on (agent-\d) and was retried on (agent-\d), where it failed again/.exec(main.output);
    expect(retried).not.toBeNull();
    expect(retried![2]).not.toBe(retried![1]);
    expect(main.output).toMatch(/a:e2e failed on agent agent-\d after 2 attempts \(exit code 1\)/);
    // the last attempt's outputs, restored on main
    const report = join(run.ws.main, 'dist/a/report.xml');
    expect(existsSync(report)).toBe(true);
    expect(readFileSync(report, 'utf8')).toContain(`agent="${retried![2]}"`);
    // both agents ran it, once each
    expect(run.agents.map((a) => tasksRunBy(a)).sort()).toEqual([['a:e2e'], ['a:e2e']]);

    const stop = await fleetCli(run.ws.main, run.env, ['stop-all-agents']);
    expect(stop).toExitWith(1);
    expect(stop.output).toContain('failed tasks: a:e2e');
    for (const exit of await exitsOf(run.agents)) expect(exit).toExitWith(0);
  });

  /** a and b, each with lint (passes) and test (a passes, b prints FAIL marker-b-test and exits 1). */
  const lintAndTest: Record<string, ProjectSpec> = {
    a: { targets: { lint: { command: 'echo lint-ok-a' }, test: { command: 'echo PASS marker-a-test' } } },
    b: { targets: { lint: { command: 'echo lint-ok-b' }, test: { command: 'echo FAIL marker-b-test && exit 1' } } },
  };
  const LINT = ['run-many', '-t', 'lint', ...logFlags(version)];
  const TEST = ['run-many', '-t', 'test', ...logFlags(version)];

  it('--stop-agents-on-failure=false, several nx commands in one run: two at once, then two in a row; each has its own exit code, the run stays open until stop-all-agents, which exits 1 naming the failed task', async () => {
    const run = await openRun(lintAndTest, { agents: 2, startFlags: ['--stop-agents-on-failure=false'] });
    const [lint, test] = await Promise.all([nx(run.ws.main, run.env, LINT, 3 * 60_000), nx(run.ws.main, run.env, TEST, 3 * 60_000)]);

    expect(lint).toExitWith(0);
    expect(lint.stdout).toContain('lint-ok-a');
    expect(lint.stdout).toContain('lint-ok-b');
    expect(test).toExitWith(1);
    expect(test.stdout).toContain('FAIL marker-b-test');
    expect(test.stdout).toContain('PASS marker-a-test');
    let view = await runView(coordinator, run.runId);
    expect(view.executions).toHaveLength(2);
    expect(view.status).toBe('open');
    expect(run.agents.every((a) => !a.hasExited)).toBe(true);
    expect(run.agents.flatMap(tasksRunBy).sort()).toEqual(['a:lint', 'a:test', 'b:lint', 'b:test']);

    // the same commands in a row, with new hashes (the same new salt in every checkout): the failing one
    // first, and the next one still runs on the agents
    const salt = randomBytes(6).toString('hex');
    for (const dir of [run.ws.main, ...run.ws.agents]) for (const p of ['a', 'b']) writeFileSync(join(dir, 'packages', p, 'salt.txt'), `${salt}\n`);
    const test2 = await nx(run.ws.main, run.env, TEST, 3 * 60_000);
    expect(test2).toExitWith(1);
    expect(test2.stdout).toContain('FAIL marker-b-test');
    expect((await runView(coordinator, run.runId)).status).toBe('open');
    const lint2 = await nx(run.ws.main, run.env, LINT, 3 * 60_000);
    expect(lint2).toExitWith(0);
    expect(lint2.stdout).toMatch(/read the output from the cache instead of running the command for 2 out of 2 tasks/);
    expect(run.agents.flatMap(tasksRunBy).sort()).toEqual(['a:lint', 'a:lint', 'a:test', 'a:test', 'b:lint', 'b:lint', 'b:test', 'b:test']);
    view = await runView(coordinator, run.runId);
    expect(view.executions.map((e) => e.status).sort()).toEqual(['failed', 'failed', 'succeeded', 'succeeded']);
    expect(view.status).toBe('open');

    const stop = await fleetCli(run.ws.main, run.env, ['stop-all-agents']);
    expect(stop).toExitWith(1);
    expect(stop.output).toContain('failed tasks: b:test');
    for (const exit of await exitsOf(run.agents)) expect(exit).toExitWith(0);
  });

  it('--stop-agents-after build: the agents leave on their own once the build tasks are done, before stop-all-agents', async () => {
    const projects: Record<string, ProjectSpec> = {
      a: { targets: { build: { command: 'mkdir -p dist/a && echo built-a > dist/a/out.txt', outputs: ['{workspaceRoot}/dist/a'] } } },
      b: { implicitDependencies: ['a'], targets: { build: { command: 'mkdir -p dist/b && cat dist/a/out.txt > dist/b/out.txt && echo built-b', outputs: ['{workspaceRoot}/dist/b'] } } },
    };
    const run = await openRun(projects, { agents: 2, startFlags: ['--stop-agents-after', 'build'] });
    const main = await nx(run.ws.main, run.env, ['run-many', '-t', 'build', ...logFlags(version)], 3 * 60_000);
    expect(main).toExitWith(0);
    expect(readFileSync(join(run.ws.main, 'dist/b/out.txt'), 'utf8')).toBe('built-a\n');

    // no stop-all-agents yet
    const exits = await within(Promise.all(run.agents.map((a) => a.exited)), 30_000, 'the agents to leave on their own after the build tasks');
    for (const exit of exits) expect(exit).toExitWith(0);
    for (const agent of run.agents) expect(agent.output).toMatch(/is done: \d+ tasks? run; targets build done/);
    expect(run.agents.flatMap(tasksRunBy).sort()).toEqual(['a:build', 'b:build']);
    expect((await runView(coordinator, run.runId)).status).toBe('open');

    expect(await fleetCli(run.ws.main, run.env, ['stop-all-agents'])).toExitWith(0);
  });
});
