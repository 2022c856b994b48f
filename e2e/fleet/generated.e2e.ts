/**
 * Fleet end to end on workspaces made by Nx's own generators (create-nx-workspace
 * --preset=ts and six @nx/js libraries in a dependency chain, with build, test and lint):
 * the distributed run leaves main with the same files, the same logs and the same exit
 * code as a plain local run, and the three agents share the work.
 */
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { e2eNxVersions, generatedWorkspaceTemplate } from '../support/workspaces';
import { isolatedEnv } from '../support/env';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents } from './cluster';

jest.setTimeout(20 * 60_000);

/**
 * From Nx 23.3 the default (non-TUI) output style prints only a `✔  nx run <task>` line for a task that
 * succeeded, not its `> nx run <task>` header and log (19.8–22 print both). This test checks that every
 * task's log reaches main, so on 23+ both runs ask for the 19–22 style with `--outputStyle=static`; the
 * assertions stay the same on every version.
 */
const logFlags = (version: string): string[] => (Number(version.split('.')[0]) >= 23 ? ['--outputStyle=static'] : []);

/** What a run leaves in the workspace beyond its sources, and Nx's or Fleet's own state. */
const NOT_OUTPUTS = [/(^|\/)node_modules(\/|$)/, '.git', '.nx', '.home', '.fleet', '.fleet-e2e'];

describe.each(e2eNxVersions())('distributed run-many on a generated workspace, Nx %s', (version) => {
  afterAll(() => cleanupAll());

  it('matches a local run file for file, log for log, and uses all three agents', async () => {
    const template = await generatedWorkspaceTemplate(version);
    const targets = ['run-many', '-t', 'build', 'test', 'lint', ...logFlags(version)];

    const coordinator = await startCoordinator();
    // the local run: the same workspace, nx-fleet configured, no run and no token (a laptop)
    const local = (await fleetWorkspaces(template, coordinator, 0)).main;
    const localRun = await nx(local, isolatedEnv(local), targets);
    expect(localRun).toExitWith(0);
    const taskIds = [...localRun.stdout.matchAll(/> nx run (\S+)/g)].map((m) => m[1]).sort();
    expect(taskIds.length).toBeGreaterThanOrEqual(18);

    const runId = newRunId(`gen-${version}`);
    const ws = await fleetWorkspaces(template, coordinator, 3);
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', '2']));
    const env = fleetEnv(ws.main, coordinator, { runId });
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '3'])).toExitWith(0);
    await waitForAgents(coordinator, runId, 3);
    const main = await nx(ws.main, env, targets);
    const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
    const exits = await Promise.all(agents.map((a) => a.exited));

    expect(main).toExitWith(0);
    expect(stop).toExitWith(0);
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);
    // every task's log reached main: its header, and the test runners' own summaries
    const distributedIds = [...main.stdout.matchAll(/> nx run (\S+)/g)].map((m) => m[1]).sort();
    expect(distributedIds).toEqual(taskIds);
    const count = (text: string, pattern: RegExp): number => (text.match(pattern) ?? []).length;
    expect(count(main.stdout, /Test Suites: .*passed/g)).toBe(count(localRun.stdout, /Test Suites: .*passed/g));
    expect(count(main.stdout, /Test Suites: .*passed/g)).toBeGreaterThanOrEqual(6);
    // the agents ran everything, each its share
    const perAgent = agents.map(tasksRunBy);
    for (const ran of perAgent) expect(ran.length).toBeGreaterThanOrEqual(1);
    expect(perAgent.flat().sort()).toEqual(taskIds);
    // the same output files, byte for byte and mode for mode
    const want = digestTree(local, { exclude: NOT_OUTPUTS });
    const got = digestTree(ws.main, { exclude: NOT_OUTPUTS });
    expect(Object.keys(got).filter((f) => f.includes('/dist/') || f.startsWith('dist/')).length).toBeGreaterThanOrEqual(6);
    expect(got).toEqual(want);
  });
});
