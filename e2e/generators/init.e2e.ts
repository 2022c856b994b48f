/**
 * `nx g nx-fleet:init` for real, through the workspace's own Nx CLI, on workspaces made by
 * Nx's own generators (Nx 20.8.4, 19.8.14 and 24.0.6), nx-fleet installed in node_modules: it
 * writes the runner entry (Nx 19–20) or the plugin entry (Nx 21+, moving a runner entry left from
 * Nx 20 there) and the .gitignore line, a second run changes nothing, a URL where nothing listens
 * is refused with nothing written, and the configured workspace really distributes
 * `nx run-many -t build` over two agents.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, cleanupAll } from '../support/processes';
import { generatedWorkspaceTemplate, copyWorkspace, type NxVersion } from '../support/workspaces';
import { fleetCli, fleetEnv, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from '../fleet/cluster';
import { commitAll, fleetInstalledCopy, gitStatus, nxGenerate } from './workspace';

jest.setTimeout(10 * 60_000);

const versions: NxVersion[] = process.env.FLEET_E2E_SKIP_19 === '1' ? ['20.8.4', '24.0.6'] : ['20.8.4', '19.8.14', '24.0.6'];
const usesPlugin = (version: NxVersion): boolean => Number(version.split('.')[0]) >= 21;

/** Where each template's libraries put their build output (see e2e/support/README.md). */
const BUILD_OUTPUT: Partial<Record<NxVersion, (n: number) => string>> = {
  '20.8.4': (n) => `packages/lib${n}/dist/index.js`,
  '24.0.6': (n) => `packages/lib${n}/dist/index.js`,
  '19.8.14': (n) => `dist/packages/lib${n}/src/index.js`,
};
const PROJECT: Partial<Record<NxVersion, (n: number) => string>> = {
  '20.8.4': (n) => `@demo/lib${n}`,
  '24.0.6': (n) => `@demo/lib${n}`,
  '19.8.14': (n) => `lib${n}`,
};

const read = (ws: string, file: string): string => readFileSync(join(ws, file), 'utf8');
const lines = (text: string): string[] => text.split(/\r?\n/).map((l) => l.trim());

describe.each(versions)('nx g nx-fleet:init on a generated workspace, Nx %s', (version) => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await generatedWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('configures the front door and .gitignore, is idempotent, and the workspace then distributes run-many -t build', async () => {
    const ws = await fleetInstalledCopy(template);
    if (usesPlugin(version)) {
      // a workspace upgraded from Nx 20 with Fleet's runner entry, which Nx 21+ ignores without a word
      const planted = JSON.parse(read(ws, 'nx.json')) as Record<string, unknown>;
      planted.tasksRunnerOptions = { default: { runner: 'nx-fleet', options: { url: 'http://old.example' } } };
      writeFileSync(join(ws, 'nx.json'), `${JSON.stringify(planted, null, 2)}\n`);
      await commitAll(ws, 'the Nx 20 runner entry');
    }
    const first = await nxGenerate(ws, 'nx-fleet:init', [`--url=${coordinator.url}`]);
    expect(first).toExitWith(0);
    expect(first.output).toContain(`Fleet coordinator at ${coordinator.url} is reachable`);

    const nxJson = JSON.parse(read(ws, 'nx.json')) as { tasksRunnerOptions?: Record<string, unknown>; plugins?: unknown[] };
    if (usesPlugin(version)) {
      expect(first.output).toContain('Moved the "nx-fleet" tasks runner entry');
      expect(nxJson.tasksRunnerOptions).toBeUndefined();
      expect(nxJson.plugins).toContainEqual({ plugin: 'nx-fleet', options: { url: coordinator.url } });
    } else {
      expect(nxJson.tasksRunnerOptions).toEqual({ default: { runner: 'nx-fleet', options: { url: coordinator.url } } });
    }
    expect(lines(read(ws, '.gitignore'))).toContain('.fleet/');
    // only those two files changed, and the token is written nowhere
    const changed = (await gitStatus(ws))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3))
      .sort();
    // formatFiles runs with sortRootTsconfigPaths: false, so tsconfig.base.json is never rewritten
    expect(changed).toEqual(['.gitignore', 'nx.json']);
    expect(read(ws, 'nx.json')).not.toContain(coordinator.token);
    await commitAll(ws, 'nx g nx-fleet:init');

    // a second run: exit 0, says so, and changes nothing at all
    const before = { nx: read(ws, 'nx.json'), ignore: read(ws, '.gitignore') };
    const second = await nxGenerate(ws, 'nx-fleet:init', [`--url=${coordinator.url}`]);
    expect(second).toExitWith(0);
    expect(second.output).toContain('already configured for Fleet');
    expect(await gitStatus(ws)).toBe('');
    expect({ nx: read(ws, 'nx.json'), ignore: read(ws, '.gitignore') }).toEqual(before);
    expect(lines(read(ws, '.gitignore')).filter((l) => l === '.fleet/')).toHaveLength(1);

    // the configured workspace distributes: 2 agents in their own checkouts of this commit
    const agentDirs = [await copyWorkspace(ws), await copyWorkspace(ws)];
    const runId = newRunId(`init-${version}`);
    const agents = agentDirs.map((dir, i) => startAgent(dir, coordinator, runId, `agent-${i + 1}`, ['--parallel', '2']));
    const env = fleetEnv(ws, coordinator, { runId });
    const start = await fleetCli(ws, env, ['start-ci-run', '--agents', '2']);
    expect(start).toExitWith(0);
    await waitForAgents(coordinator, runId, 2);
    const build = await nx(ws, env, ['run-many', '-t', 'build']);
    const stop = await fleetCli(ws, env, ['stop-all-agents']);
    const exits = await Promise.all(agents.map((a) => a.exited));
    expect(build).toExitWith(0);
    expect(stop).toExitWith(0);
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    const builds = [1, 2, 3, 4, 5, 6].map((n) => `${PROJECT[version]!(n)}:build`);
    for (const id of builds) expect(build.stdout).toContain(`nx run ${id}`);
    // the agents ran the builds (the URL came from nx.json: no FLEET_URL in the environment)
    expect(env.FLEET_URL).toBeUndefined();
    expect(agents.flatMap(tasksRunBy).sort()).toEqual([...builds].sort());
    for (let n = 1; n <= 6; n++) expect(read(ws, BUILD_OUTPUT[version]!(n))).toContain(`lib${n}`);
  });

  it('refuses a URL where nothing listens, naming it and suggesting --no-verify, and writes nothing', async () => {
    const ws = await fleetInstalledCopy(template);
    const before = { nx: read(ws, 'nx.json'), ignore: read(ws, '.gitignore') };
    // port 9 (discard: nothing listens), and a port that was free a moment ago
    for (const url of ['http://127.0.0.1:9', `http://127.0.0.1:${await freePort()}`]) {
      const result = await nxGenerate(ws, 'nx-fleet:init', [`--url=${url}`]);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain(`Cannot reach the Fleet coordinator at ${url}/healthz`);
      expect(result.output).toContain('--no-verify');
      expect(await gitStatus(ws)).toBe('');
      expect({ nx: read(ws, 'nx.json'), ignore: read(ws, '.gitignore') }).toEqual(before);
    }
  });
});
