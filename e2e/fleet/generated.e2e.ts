/**
 * Fleet end to end on workspaces made by Nx's own generators (create-nx-workspace
 * --preset=ts and six @nx/js libraries in a dependency chain, with build, test and lint):
 * the distributed run leaves main with the same files, the same logs and the same exit
 * code as a plain local run, and the three agents share the work; a jest test that fails
 * on an agent fails main with its log and never runs on main; nothing affected ends at once.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { e2eNxVersions, generatedWorkspaceTemplate } from '../support/workspaces';
import { isolatedEnv } from '../support/env';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from './cluster';

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

/**
 * lib3's spec gets a second test that fails, after writing `<FLEET_MARKER_DIR>/.markers/lib3-test-ran-<FLEET_MARKER_ID>`:
 * the same file in every checkout (so every checkout computes the same hash), each process says where it is.
 */
function addFailingSpec(workspace: string): void {
  const file = join(workspace, 'packages/lib3/src/lib/lib3.spec.ts');
  const failing = [
    "it('fails on purpose (Fleet e2e)', () => {",
    "  const dir = `${process.env.FLEET_MARKER_DIR ?? '.'}/.markers`;",
    '  mkdirSync(dir, { recursive: true });',
    "  writeFileSync(`${dir}/lib3-test-ran-${process.env.FLEET_MARKER_ID ?? 'main'}`, 'ran');",
    "  expect('distributed').toBe('FLEET-E2E-FAILURE');",
    '});',
  ].join('\n');
  const spec = readFileSync(file, 'utf8');
  writeFileSync(file, `// @ts-nocheck\nimport { mkdirSync, writeFileSync } from 'fs';\n${spec}\n${failing}\n`);
}

/** Three agents and a main workspace made from `template`; runs the main job's three commands around `nxArgs`. */
async function distributed(template: string, coordinator: Coordinator, label: string, nxArgs: string[], prepare?: (workspace: string) => void) {
  const runId = newRunId(label);
  const ws = await fleetWorkspaces(template, coordinator, 3, prepare);
  const agents = ws.agents.map((dir, i) =>
    startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', '2'], { FLEET_MARKER_DIR: dir }),
  );
  const env = fleetEnv(ws.main, coordinator, { runId, extra: { FLEET_MARKER_DIR: ws.main } });
  expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '3'])).toExitWith(0);
  await waitForAgents(coordinator, runId, 3);
  const main = await nx(ws.main, env, nxArgs);
  const stopStartedAt = Date.now();
  const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
  const exits = await Promise.all(agents.map((a) => a.exited));
  return { ws, agents, main, stop, exits, agentsExitedAfterMs: Date.now() - stopStartedAt };
}

describe.each(e2eNxVersions())('distributed run-many on a generated workspace, Nx %s', (version) => {
  let coordinator: Coordinator;
  let template: string;
  beforeAll(async () => {
    template = await generatedWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('matches a local run file for file, log for log, and uses all three agents', async () => {
    const targets = ['run-many', '-t', 'build', 'test', 'lint', ...logFlags(version)];

    // the local run: the same workspace, nx-fleet configured, no run and no token (a laptop)
    const local = (await fleetWorkspaces(template, coordinator, 0)).main;
    const localRun = await nx(local, isolatedEnv(local), targets);
    expect(localRun).toExitWith(0);
    const taskIds = [...localRun.stdout.matchAll(/> nx run (\S+)/g)].map((m) => m[1]).sort();
    expect(taskIds.length).toBeGreaterThanOrEqual(18);

    const { ws, agents, main, stop, exits } = await distributed(template, coordinator, `gen-${version}`, targets);

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

  it('fails main with the log of a jest test that failed on an agent, and never runs it on main', async () => {
    const run = await distributed(template, coordinator, `gen-fail-${version}`, ['run-many', '-t', 'test', ...logFlags(version)], addFailingSpec);
    expect(run.main).toExitWith(1);
    // jest's own report of the failure, from the agent, in main's log
    expect(run.main.stdout).toContain('fails on purpose (Fleet e2e)');
    expect(run.main.stdout).toContain('FLEET-E2E-FAILURE');
    expect(run.main.stdout).toMatch(/lib3:test failed on agent agent-\d/);
    // it ran once, on an agent, and never on main
    expect(existsSync(join(run.ws.main, '.markers'))).toBe(false);
    const markers = run.ws.agents.flatMap((dir) => (existsSync(join(dir, '.markers')) ? readdirSync(join(dir, '.markers')) : []));
    expect(markers).toHaveLength(1);
    expect(markers[0]).toMatch(/^lib3-test-ran-agent-\d$/);
    expect(run.stop).toExitWith(1);
    expect(run.stop.stderr).toContain('lib3:test');
    expect(run.exits.map((e) => e.code)).toEqual([0, 0, 0]);
  });

  it('with nothing affected, exits 0 at once and the agents leave within 30 s', async () => {
    const run = await distributed(template, coordinator, `gen-none-${version}`, ['affected', '-t', 'build', 'test', 'lint', '--base=HEAD', '--head=HEAD']);
    expect(run.main).toExitWith(0);
    expect(run.main.durationMs).toBeLessThan(60_000);
    expect(run.agents.flatMap(tasksRunBy)).toEqual([]);
    expect(run.stop).toExitWith(0);
    expect(run.exits.map((e) => e.code)).toEqual([0, 0, 0]);
    expect(run.agentsExitedAfterMs).toBeLessThan(30_000);
  });
});
