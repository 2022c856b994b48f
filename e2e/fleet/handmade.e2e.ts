/**
 * Fleet end to end on a hand-made workspace of nx:run-commands targets (nested outputs,
 * file modes, a failing task, a task whose hash depends on its dependencies' outputs),
 * on the Nx versions of e2eNxVersions(): a real coordinator, three agents and the main job's commands.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { copyWorkspace, e2eNxVersions, handmadeWorkspaceTemplate } from '../support/workspaces';
import { isolatedEnv } from '../support/env';
import {
  configureRunner,
  distributedRun,
  fleetCli,
  fleetEnv,
  git,
  linkFleet,
  logFlags,
  fleetWorkspaces,
  newRunId,
  nx,
  startCoordinator,
  tasksRunBy,
  type Coordinator,
  type DistributedOptions,
  type DistributedRun,
} from './cluster';

jest.setTimeout(10 * 60_000);

/** The top-level names a run added or changed in a checkout (git status, ignored files included), but node_modules and the test's HOME. */
async function writtenTopLevel(workspace: string): Promise<string[]> {
  const status = await git(workspace, ['status', '--porcelain', '--ignored', '--untracked-files=normal']);
  const tops = status.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3).split('/')[0])
    .filter((top) => !['node_modules', '.home'].includes(top));
  return [...new Set(tops)];
}

describe.each(e2eNxVersions())('distributed run on a hand-made workspace, Nx %s', (version) => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(async () => {
    await cleanupAll();
  });

  /** Three agents (unless `options.agents`) and a main workspace; the main job's three commands around `nxArgs`. */
  const distributed = (nxArgs: string[], options: DistributedOptions = {}): Promise<DistributedRun> =>
    distributedRun(coordinator, template, version, nxArgs, { agents: 3, ...options });

  it('restores byte-identical outputs, prints every task log and exits 0', async () => {
    const targets = ['run-many', '-t', 'build', 'second', 'lint'];
    // the local run: the same workspace, nx-fleet configured, no run and no token (a laptop)
    const local = (await fleetWorkspaces(template, coordinator, 0)).main;
    const localRun = await nx(local, isolatedEnv(local), [...targets, ...logFlags(version)]);
    expect(localRun).toExitWith(0);

    const run = await distributed(targets);
    expect(run.main).toExitWith(0);
    for (const id of ['a:build', 'b:build', 'b:second', 'a:lint', 'b:lint']) {
      expect(run.main.stdout).toContain(`nx run ${id}`);
    }
    for (const text of ['built-a', 'built-b', 'lint-ok-a', 'lint-ok-b']) expect(run.main.stdout).toContain(text);
    // everything came from the agents: nothing ran on main
    expect(run.main.stdout).toMatch(/read the output from the cache instead of running the command for 5 out of 5 tasks/);
    // while it waited, main said how the run stood whenever that changed, ending with all 5 done
    expect(run.main.output).toMatch(/\b\d\/5 tasks done, \d+ running, \d+ queued · \d agents? connected/);
    expect(run.main.output).toMatch(/\b5\/5 tasks done, 0 running, 0 queued · 3 agents connected/);
    const ran = run.agents.flatMap(tasksRunBy).sort();
    expect(ran).toEqual(['a:build', 'a:lint', 'b:build', 'b:lint', 'b:second']);

    const want = digestTree(join(local, 'dist'));
    const got = digestTree(join(run.ws.main, 'dist'));
    expect(Object.keys(want).length).toBeGreaterThanOrEqual(5);
    expect(got).toEqual(want);
    expect(got['a/bin.sh'].mode & 0o777).toBe(0o755);
    expect(run.stop).toExitWith(0);
    expect(run.exits.every((e) => e.code === 0)).toBe(true);
    // nothing written outside the declared outputs, Fleet's .fleet/ and Nx's own .nx/: on main, and in
    // the agents' checkouts (where the test keeps its logs in .fleet-e2e/)
    const main = await writtenTopLevel(run.ws.main);
    expect(main).toContain('dist');
    for (const top of main) expect(['.fleet', '.nx', 'dist']).toContain(top);
    const agents = await Promise.all(run.ws.agents.map(writtenTopLevel));
    expect(agents.filter((tops) => tops.includes('dist')).length).toBeGreaterThanOrEqual(1); // the ones that ran tasks
    for (const tops of agents) for (const top of tops) expect(['.fleet', '.nx', 'dist', '.fleet-e2e']).toContain(top);
  });

  it('runs on main, with a warning, a task whose hash the agents compute differently', async () => {
    // c:envy's hash includes FLEET_MARKER_ID, which each agent sets to its own name
    const addC = (dir: string): void => {
      writeFileSync(
        join(dir, 'packages/c/project.json'),
        JSON.stringify({
          name: 'c',
          targets: {
            envy: {
              executor: 'nx:run-commands',
              cache: true,
              inputs: [{ env: 'FLEET_MARKER_ID' }],
              options: { command: 'echo envy-ran-on-${FLEET_MARKER_ID:-main}' },
            },
          },
        }),
      );
    };
    const run = await distributed(['run', 'c:envy'], { agents: 1, prepare: (dir) => (mkdirSync(join(dir, 'packages/c'), { recursive: true }), addC(dir)) });
    expect(run.main).toExitWith(0);
    // the runner (Nx 19–20) warns on stderr; on Nx 21+ the task's own process does, inside its log
    expect(run.main.output).toMatch(/c:envy: the agent computed hash \S+ but main computed \S+/);
    expect(run.main.stdout).toContain('envy-ran-on-main');
  });

  it('keeps serving the run after a task crashes', async () => {
    const addCrash = (dir: string): void => {
      const file = join(dir, 'packages/a/project.json');
      const project = JSON.parse(readFileSync(file, 'utf8'));
      project.targets.crash = { executor: 'nx:run-commands', cache: true, options: { command: 'kill -SEGV $$' } };
      writeFileSync(file, JSON.stringify(project));
    };
    const run = await distributed(['run-many', '-t', 'crash', 'build', '--parallel=1'], {
      agents: 1,
      startFlags: ['--no-stop-agents-on-failure'],
      prepare: addCrash,
    });
    expect(run.main).toExitWith(1);
    expect(run.main.stdout).toMatch(/a:crash failed on agent agent-1/);
    const ran = tasksRunBy(run.agents[0]);
    expect(ran).toEqual(expect.arrayContaining(['a:crash', 'a:build', 'b:build']));
    expect(run.main.stdout).toContain('built-b');
    expect(run.exits[0]).toExitWith(0);
  });

  it('shows a task that failed on an agent as failed, with its log, and never runs it on main; the agents leave on their own', async () => {
    // --stop-agents-on-failure is start-ci-run's default: the failure ends the run, before stop-all-agents
    const run = await distributed(['run-many', '-t', 'test'], { agentsLeaveWithinMs: 30_000 });
    expect(run.leftOnTheirOwn).toEqual([true, true, true]);
    expect(run.main).toExitWith(1);
    expect(run.main.stdout).toContain('FAIL marker-b-test');
    expect(run.main.stdout).toMatch(/b:test failed on agent agent-\d/);
    // the task wrote its marker on the agent that ran it, never on main
    expect(existsSync(join(run.ws.main, '.markers'))).toBe(false);
    const markers = run.ws.agents.flatMap((dir) => (existsSync(join(dir, '.markers')) ? readdirSync(join(dir, '.markers')) : []));
    expect(markers).toHaveLength(1);
    expect(markers[0]).toMatch(/^b-test-ran-agent-\d$/);
    // the run is failed, and the command that completes it says so
    expect(run.stop).toExitWith(1);
    expect(run.stop.stderr).toContain('failed tasks: b:test');
    expect(run.exits.every((e) => e.code === 0)).toBe(true);
  });

  it('outside a run, the coordinator is an ordinary remote cache: a second checkout restores what the first stored', async () => {
    // two laptops (no start-ci-run, so no run): each its own local cache, a coordinator of their own
    // (the other tests' runs stored these tasks' hashes on the shared one)
    const shared = await startCoordinator();
    const ws = await fleetWorkspaces(template, shared, 1);
    const [first, second] = [ws.main, ws.agents[0]];
    const laptop = (dir: string): Record<string, string> => isolatedEnv(dir, { FLEET_TOKEN: shared.token, FLEET_BRANCH: 'main' });
    // b:second and the a:build it depends on (whose log Nx 19's `nx run` hides on a cache hit, by design)
    const stored = await nx(first, laptop(first), ['run', 'b:second', ...logFlags(version)]);
    expect(stored).toExitWith(0);
    expect(stored.stdout).not.toMatch(/\[(remote|local) cache\]/);
    const restored = await nx(second, laptop(second), ['run', 'b:second', ...logFlags(version)]);
    expect(restored).toExitWith(0);
    for (const id of ['a:build', 'b:second']) expect(restored.stdout).toMatch(new RegExp(`nx run ${id}\\s+\\[remote cache\\]`));
    expect(restored.stdout).toMatch(/read the output from the cache instead of running the command for 2 out of 2 tasks/);
    expect(digestTree(join(second, 'dist'))).toEqual(digestTree(join(first, 'dist')));
    // a task's log comes back with it
    const third = (await fleetWorkspaces(template, shared, 0)).main;
    const replayed = await nx(third, laptop(third), ['run', 'a:build', ...logFlags(version)]);
    expect(replayed).toExitWith(0);
    expect(replayed.stdout).toMatch(/nx run a:build\s+\[remote cache\]/);
    expect(replayed.stdout).toContain('built-a');
  });

  it('(a fact of Nx, no Fleet) a failed task whose dependants Nx skips: exit 1, but 130 on Nx 21-23', async () => {
    // Nx 21.6-23.3 count a command with skipped tasks as not completed and exit with SIGINT's code; so does
    // main when Fleet cancels a running task under --stop-agents-on-failure and Nx skips its dependants
    const local = (await fleetWorkspaces(template, coordinator, 0, (dir) => {
      const file = join(dir, 'packages/a/project.json');
      const project = JSON.parse(readFileSync(file, 'utf8'));
      project.targets.build.options.command = 'echo a-build-fails && exit 1';
      writeFileSync(file, JSON.stringify(project));
    })).main;
    const result = await nx(local, isolatedEnv(local), ['run-many', '-t', 'build', ...logFlags(version)]);
    expect(result.output).toContain('a-build-fails');
    expect(result.output).not.toContain('built-b'); // b:build was skipped
    const major = Number(version.split('.')[0]);
    expect(result).toExitWith(major >= 21 && major <= 23 ? 130 : 1);
  });

  it('with nothing affected, exits 0 at once and the agents leave within 30 s', async () => {
    const run = await distributed(['affected', '-t', 'build', 'test', 'lint', '--base=HEAD', '--head=HEAD'], { agents: 2 });
    expect(run.main).toExitWith(0);
    expect(run.main.durationMs).toBeLessThan(60_000);
    expect(run.stop).toExitWith(0);
    expect(run.exits.map((e) => e.code)).toEqual([0, 0]);
    expect(run.agentsExitedAfterMs).toBeLessThan(30_000);
  });
});

describe('a wrong token', () => {
  afterAll(() => cleanupAll());

  it('start-ci-run and start-agent stop at once with one line naming the URL, and never print the token', async () => {
    const coordinator = await startCoordinator();
    const template = await handmadeWorkspaceTemplate('20.8.4');
    const ws = await copyWorkspace(template);
    linkFleet(ws);
    await configureRunner(ws, coordinator.url);
    const env = isolatedEnv(ws, { FLEET_TOKEN: 'not-the-token-1234', FLEET_RUN_ID: newRunId('token') });
    for (const command of [['start-ci-run'], ['start-agent', '--join-timeout', '5']]) {
      const started = Date.now();
      const result = await fleetCli(ws, env, command, 90_000);
      expect(result.code).not.toBe(0);
      expect(Date.now() - started).toBeLessThan(30_000);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(coordinator.url);
      expect(lines[0]).toMatch(/401 .*check FLEET_TOKEN/);
      expect(result.output).not.toContain('not-the-token-1234');
    }
  });
});

describe('a coordinator that is down', () => {
  afterAll(() => cleanupAll());

  it('start-ci-run exits non-zero within 60 s, naming the URL', async () => {
    const template = await handmadeWorkspaceTemplate('20.8.4');
    const ws = await copyWorkspace(template);
    const url = 'http://127.0.0.1:9'; // discard port: nothing listens there
    linkFleet(ws);
    await configureRunner(ws, url);
    const env = isolatedEnv(ws, { FLEET_URL: url, FLEET_TOKEN: 't', FLEET_RUN_ID: newRunId('down') });
    const started = Date.now();
    const result = await fleetCli(ws, env, ['start-ci-run'], 90_000);
    expect(result.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.stderr).toContain(`cannot reach the Fleet coordinator at ${url}`);
    // it retried with back-off before giving up, and says why
    expect(result.stderr).toMatch(/ECONNREFUSED.* — gave up after \d+ attempts in \d+ s/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('start-agent exits non-zero within 90 s, naming the URL and the reason', async () => {
    const template = await handmadeWorkspaceTemplate('20.8.4');
    const ws = await copyWorkspace(template);
    const url = 'http://127.0.0.1:9';
    linkFleet(ws);
    await configureRunner(ws, url);
    const env = isolatedEnv(ws, { FLEET_URL: url, FLEET_TOKEN: 't', FLEET_RUN_ID: newRunId('down-agent') });
    const started = Date.now();
    const result = await fleetCli(ws, env, ['start-agent', '--name', 'agent-1'], 150_000);
    expect(result.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(result.stderr).toMatch(new RegExp(`cannot reach the Fleet coordinator at ${url.replace(/[.:/]/g, '\\$&')}.*ECONNREFUSED`));
  });
});

describe.each(e2eNxVersions())('a coordinator that goes away during a run, Nx %s', (version) => {
  afterAll(() => cleanupAll());

  it('nx retries for a bounded time, then exits non-zero naming the URL and the reason, and runs nothing locally', async () => {
    const coordinator = await startCoordinator();
    const template = await handmadeWorkspaceTemplate(version);
    const ws = (await fleetWorkspaces(template, coordinator, 0)).main;
    const env = fleetEnv(ws, coordinator, { runId: newRunId(`gone-${version}`) });
    expect(await fleetCli(ws, env, ['start-ci-run', '--agents', '1', '--require-explicit-completion'])).toExitWith(0);
    await coordinator.process.stop();
    const started = Date.now();
    const main = await nx(ws, env, ['run-many', '-t', 'build', ...logFlags(version)], 180_000);
    expect(main.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(150_000);
    expect(main.output).toContain(`cannot reach the Fleet coordinator at ${coordinator.url}`);
    expect(main.output).toMatch(/ECONNREFUSED/);
    // the tasks were not quietly run on main instead
    expect(existsSync(join(ws, 'dist'))).toBe(false);
    expect(main.stdout).not.toContain('built-a');
  });
});
