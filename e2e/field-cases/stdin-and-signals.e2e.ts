/**
 * FC-08 (stdin and Ctrl-C through the runner), on both front doors: Nx 19.8.14 (tasks runner)
 * and the newest Nx (plugin), in a workspace configured for Fleet.
 *  - `echo hi | nx run a:ask` (a:ask reads one line, cache: false) prints `got hi` and exits 0,
 *    outside a run and inside an active one: non-cacheable tasks run on main, never on an agent,
 *    and the agent stays free (it runs the next cacheable task and leaves when told).
 *  - `nx run a:serve` (never ends, cache: false), then SIGINT to nx's process group (Ctrl-C), and
 *    on the newest Nx also to the nx process alone: nx and the task's process are gone within 5 s.
 * Known gap, Nx 19.8.14 only (runs with FLEET_E2E_KNOWN_GAPS=1): Nx 19.8's nx:run-commands runs the
 * command through its pseudo-terminal only when stdout is a TTY, else with child_process.exec,
 * whose stdin is a pipe Nx never writes nor closes; so `echo hi | nx run a:ask` waits for ever
 * in CI, with plain Nx 19.8.14 (no Fleet) exactly as with Fleet. Nx 20+ passes stdin on.
 * Also Nx 19.8.14 only: SIGINT to the nx process alone leaves the task running (plain Nx too).
 */
import { join } from 'node:path';
import { nxBin } from '../support/nx-cli';
import { cleanupAll, runToEnd, startProcess } from '../support/processes';
import { handmadeWorkspaceTemplate, type NxVersion, type ProjectSpec } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, startAgent, startCoordinator, tasksRunBy, waitForAgents, nx, type Coordinator } from '../fleet/cluster';
import { pidAlive, pidFromFile, stopHeartbeats, trackHeartbeat, waitForPidGone } from '../fleet/run-control-support';
import { customProjects, logFlags, newestNxVersion, salt, within } from './field-support';

jest.setTimeout(5 * 60_000);

const projects: Record<string, ProjectSpec> = {
  a: {
    targets: {
      ask: { command: 'read line; echo got $line', cache: false },
      // `exec`: the shell's pid ($$) becomes the sleep's, so the file names the task's own process
      serve: { command: 'mkdir -p .markers && echo $$ > .markers/serve.pid && exec sleep 1000', cache: false },
      build: { command: 'mkdir -p dist/a && echo built-a > dist/a/out.txt && echo built-a', outputs: ['{workspaceRoot}/dist/a'] },
    },
  },
};

const newest = newestNxVersion();
const versions: NxVersion[] = [...new Set<NxVersion>(['19.8.14', newest])];

/** Copies of the version's template with the projects above (salted), and a coordinator. */
function setup(version: NxVersion) {
  const state = {} as { coordinator: Coordinator; template: string };
  beforeAll(async () => {
    state.template = await handmadeWorkspaceTemplate(version);
    state.coordinator = await startCoordinator();
  });
  afterAll(async () => {
    stopHeartbeats();
    await cleanupAll();
  });
  return state;
}

/** `echo hi | nx run a:ask`, bounded. */
const askWithStdin = (version: NxVersion, ws: string, env: Record<string, string>) =>
  runToEnd('nx run a:ask', process.execPath, [nxBin(ws), 'run', 'a:ask', ...logFlags(version)], { cwd: ws, env, stdin: 'hi\n', timeoutMs: 60_000 });

function stdinTests(version: NxVersion): void {
  const state = setup(version);

  it('outside a run: `echo hi | nx run a:ask` prints got hi and exits 0', async () => {
    const { coordinator, template } = state;
    const ws = (await fleetWorkspaces(template, coordinator, 0, customProjects(projects, salt('a')))).main;
    // FLEET_TOKEN set and no run: Fleet is the remote cache (a laptop with a token)
    const ask = await askWithStdin(version, ws, fleetEnv(ws, coordinator, { runId: newRunId('fc08-local') }));
    expect(ask).toExitWith(0);
    expect(ask.stdout).toMatch(/^got hi$/m);
  });

  it('inside an active run: `echo hi | nx run a:ask` prints got hi on main, and the agent is never blocked', async () => {
    const { coordinator, template } = state;
    const runId = newRunId(`fc08-${version}`);
    const ws = await fleetWorkspaces(template, coordinator, 1, customProjects(projects, salt('a')));
    const env = fleetEnv(ws.main, coordinator, { runId });
    trackHeartbeat(ws.main);
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '1'])).toExitWith(0);
    const agent = startAgent(ws.agents[0], coordinator, runId, 'agent-1', ['--parallel', '1']);
    await waitForAgents(coordinator, runId, 1);

    const ask = await askWithStdin(version, ws.main, env);
    expect(ask).toExitWith(0);
    expect(ask.stdout).toMatch(/^got hi$/m);
    expect(tasksRunBy(agent)).toEqual([]);

    // the agent is free: the next (cacheable) command's task runs on it at once
    const build = await nx(ws.main, env, ['run', 'a:build', ...logFlags(version)], 120_000);
    expect(build).toExitWith(0);
    expect(build.stdout).toContain('built-a');
    expect(tasksRunBy(agent)).toEqual(['a:build']);

    const stoppedAt = Date.now();
    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
    expect(await within(agent.exited, 30_000, 'the agent to exit')).toExitWith(0);
    expect(Date.now() - stoppedAt).toBeLessThan(30_000);
  });
}

describe(`FC-08 stdin through the runner, Nx ${newest}`, () => stdinTests(newest));

if (process.env.FLEET_E2E_KNOWN_GAPS === '1' && newest !== '19.8.14') {
  describe('FC-08 stdin through the runner, Nx 19.8.14 (known gap: Nx 19.8 gives run-commands no stdin without a TTY)', () =>
    stdinTests('19.8.14'),
  );
}

/**
 * `nx run a:serve`, then SIGINT: to nx's process group, as a terminal's Ctrl-C does, or to the nx
 * process alone, as a CI runner cancelling a step may.
 */
function serveTest(version: NxVersion, target: 'group' | 'nx'): void {
  const state = setup(version);

  it(`SIGINT to ${target === 'group' ? "nx's process group (Ctrl-C)" : 'the nx process alone'} during \`nx run a:serve\` (never ends): nx and the task are gone within 5 s`, async () => {
    const { coordinator, template } = state;
    const ws = (await fleetWorkspaces(template, coordinator, 0, customProjects(projects, salt('a')))).main;
    const env = fleetEnv(ws, coordinator, { runId: newRunId('fc08-serve') });
    const serve = startProcess('nx run a:serve', process.execPath, [nxBin(ws), 'run', 'a:serve', ...logFlags(version)], { cwd: ws, env });
    const child = await pidFromFile(join(ws, '.markers/serve.pid'), 60_000);
    expect(pidAlive(child)).toBe(true);
    const signalledAt = Date.now();
    if (target === 'group') serve.kill('SIGINT');
    else process.kill(serve.pid, 'SIGINT');
    const [nxGoneMs, childGoneMs] = await Promise.all([
      within(serve.exited, 30_000, 'nx to exit after SIGINT').then(() => Date.now() - signalledAt),
      waitForPidGone(child, 10_000),
    ]);
    process.stderr.write(`[fc08 ${version}] SIGINT to ${target}: nx gone in ${nxGoneMs} ms, the task's process in ${childGoneMs} ms\n`);
    try {
      expect(nxGoneMs).toBeLessThan(5_000);
      expect(childGoneMs).not.toBeNull();
      expect(childGoneMs!).toBeLessThan(5_000);
    } finally {
      if (pidAlive(child)) process.kill(child, 'SIGKILL'); // outside nx's group once orphaned: cleanupAll would miss it
    }
  });
}

describe.each(versions)('FC-08 Ctrl-C through the runner, Nx %s', (version) => serveTest(version, 'group'));

describe(`FC-08 SIGINT to the nx process alone, Nx ${newest}`, () => serveTest(newest, 'nx'));

/*
 * Known gap, Nx 19.8.14: on SIGINT to the nx process alone, nx exits at once and leaves the task's
 * process running (re-parented to init): plain Nx 19.8.14 without Fleet does the same, and Fleet's
 * runner adds no handler outside a distributed execution. Ctrl-C in a terminal signals the whole
 * group and ends both (tested above).
 */
if (process.env.FLEET_E2E_KNOWN_GAPS === '1' && newest !== '19.8.14') {
  describe('FC-08 SIGINT to the nx process alone, Nx 19.8.14 (known gap: Nx 19.8 leaves the task running)', () => serveTest('19.8.14', 'nx'));
}
