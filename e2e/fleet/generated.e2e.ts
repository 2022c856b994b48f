/**
 * Fleet end to end on workspaces made by Nx's own generators (create-nx-workspace
 * --preset=ts and six @nx/js libraries in a dependency chain, with build, test and lint):
 * the distributed run leaves main with the same files, the same logs and the same exit
 * code as a plain local run, and the three agents share the work; a jest test that fails
 * on an agent fails main with its log and never runs on main; nothing affected ends at once.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { digestTree } from '../support/tree-digest';
import { e2eNxVersions, generatedWorkspaceTemplate } from '../support/workspaces';
import { isolatedEnv } from '../support/env';
import { distributedRun, fleetWorkspaces, logFlags, nx, startCoordinator, tasksRunBy, type Coordinator } from './cluster';

jest.setTimeout(20 * 60_000);

/** What a run leaves in the workspace beyond its sources, and Nx's or Fleet's own state. */
const NOT_OUTPUTS = [/(^|\/)node_modules(\/|$)/, '.git', '.nx', '.home', '.fleet', '.fleet-e2e'];

/**
 * lib3's spec gets a second test that fails, after writing `$FLEET_MARKER_DIR/lib3-test-ran-<FLEET_MARKER_ID, main if unset>`:
 * the same file in every checkout (so that every checkout computes the same hash); one marker folder for all.
 */
function addFailingSpec(workspace: string): void {
  const file = join(workspace, 'packages/lib3/src/lib/lib3.spec.ts');
  const failing = [
    "it('fails on purpose (Fleet e2e)', () => {",
    "  mkdirSync(process.env.FLEET_MARKER_DIR, { recursive: true });",
    "  writeFileSync(`${process.env.FLEET_MARKER_DIR}/lib3-test-ran-${process.env.FLEET_MARKER_ID ?? 'main'}`, 'ran');",
    "  expect('distributed').toBe('FLEET-E2E-FAILURE');",
    '});',
  ].join('\n');
  const spec = readFileSync(file, 'utf8');
  writeFileSync(file, `// @ts-nocheck\nimport { mkdirSync, writeFileSync } from 'fs';\n${spec}\n${failing}\n`);
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
    const targets = ['run-many', '-t', 'build', 'test', 'lint'];

    // the local run: the same workspace, nx-fleet configured, no run and no token (a laptop)
    const local = (await fleetWorkspaces(template, coordinator, 0)).main;
    const localRun = await nx(local, isolatedEnv(local), [...targets, ...logFlags(version)]);
    expect(localRun).toExitWith(0);
    const taskIds = [...localRun.stdout.matchAll(/> nx run (\S+)/g)].map((m) => m[1]).sort();
    expect(taskIds.length).toBeGreaterThanOrEqual(18);

    const { ws, agents, main, stop, exits } = await distributedRun(coordinator, template, version, targets, { agents: 3 });

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
    const markers = mkdtempSync(join(tmpdir(), 'fleet-e2e-markers-'));
    const env = { FLEET_MARKER_DIR: markers };
    // the other tasks run to their end, as in a local run: with the default --stop-agents-on-failure the builds
    // still running are cancelled, their dependants skipped, and Nx 21-23 then exit 130 (see handmade.e2e.ts)
    const run = await distributedRun(coordinator, template, version, ['run-many', '-t', 'test'], {
      agents: 3,
      prepare: addFailingSpec,
      mainEnv: env,
      agentEnv: env,
      startFlags: ['--no-stop-agents-on-failure'],
    });
    expect(run.main).toExitWith(1);
    // jest's own report of the failure, from the agent, in main's log
    expect(run.main.stdout).toContain('fails on purpose (Fleet e2e)');
    expect(run.main.stdout).toContain('FLEET-E2E-FAILURE');
    expect(run.main.stdout).toMatch(/lib3:test failed on agent agent-\d/);
    // it ran once, on an agent, and never on main
    const ran = existsSync(markers) ? readdirSync(markers) : [];
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/^lib3-test-ran-agent-\d$/);
    expect(run.stop).toExitWith(1);
    expect(run.stop.stderr).toContain('lib3:test');
    expect(run.exits.map((e) => e.code)).toEqual([0, 0, 0]);
  });

  it('with nothing affected, exits 0 at once and the agents leave within 30 s', async () => {
    const run = await distributedRun(coordinator, template, version, ['affected', '-t', 'build', 'test', 'lint', '--base=HEAD', '--head=HEAD'], { agents: 3 });
    expect(run.main).toExitWith(0);
    expect(run.main.durationMs).toBeLessThan(60_000);
    expect(run.agents.flatMap(tasksRunBy)).toEqual([]);
    expect(run.stop).toExitWith(0);
    expect(run.exits.map((e) => e.code)).toEqual([0, 0, 0]);
    expect(run.agentsExitedAfterMs).toBeLessThan(30_000);
  });
});
