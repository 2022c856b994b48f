/**
 * FC-09, a continuous dependency (Nx 21+): `api:serve` is continuous (listens on a port) and
 * `app:e2e` depends on it and curls it; 2 agents; `nx run app:e2e` in an active run.
 *
 * What Fleet does: a continuous task is never cacheable, so it is never distributed, and a task
 * that depends on one is not either (plan.ts: only cacheable tasks whose dependencies are
 * distributed go to agents). Both run on main, side by side, as Nx runs them without Fleet:
 * the server is where its client is. The test shows: exit 0, the e2e reached the server, no agent
 * ran or crashed on either task, the execution never lists serve (not pending, not counted), no
 * artifact was stored for serve, and the server is stopped once e2e is done.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, freePort } from '../support/processes';
import { handmadeWorkspaceTemplate } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from '../fleet/cluster';
import { customProjects, getExecution, getRun, newestNxVersion, storedArtifacts } from './field-support';

jest.setTimeout(5 * 60_000);

const version = newestNxVersion();
const major = Number(version.split('.')[0]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function writeContinuousProjects(dir: string): void {
  customProjects({})(dir);
  const project = (name: string, targets: Record<string, unknown>): void => {
    mkdirSync(join(dir, 'packages', name), { recursive: true });
    writeFileSync(join(dir, 'packages', name, 'project.json'), JSON.stringify({ name, root: `packages/${name}`, targets }, null, 2));
  };
  project('api', {
    serve: {
      executor: 'nx:run-commands',
      continuous: true,
      options: {
        command:
          'node -e "require(\'fs\').mkdirSync(\'.markers\',{recursive:true});require(\'fs\').writeFileSync(\'.markers/serve.pid\',String(process.pid));' +
          'require(\'http\').createServer((q,s)=>s.end(\'pong\')).listen(Number(process.env.API_PORT),\'127.0.0.1\')"',
      },
    },
  });
  project('app', {
    e2e: {
      executor: 'nx:run-commands',
      cache: true,
      dependsOn: [{ projects: ['api'], target: 'serve' }],
      options: {
        command:
          'node -e "const t=Date.now();(function go(){fetch(\'http://127.0.0.1:\'+process.env.API_PORT).then(r=>r.text()).then(b=>console.log(\'e2e got \'+b),' +
          'e=>{if(Date.now()-t>30000){console.error(e);process.exit(1)}setTimeout(go,200)})})()"',
      },
    },
  });
}

(major >= 21 ? describe : describe.skip)(`FC-09 a continuous dependency, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('runs serve next to e2e on main, never caches or queues serve, and stops it after e2e', async () => {
    const runId = newRunId('fc09');
    const ws = await fleetWorkspaces(template, coordinator, 2, writeContinuousProjects);
    const env = fleetEnv(ws.main, coordinator, { runId, extra: { API_PORT: String(await freePort()) } });
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '2'])).toExitWith(0);
    const agents = ws.agents.map((dir, i) => startAgent(dir, coordinator, runId, `agent-${i + 1}`));
    await waitForAgents(coordinator, runId, 2);
    const before = storedArtifacts(coordinator).size;

    const main = await nx(ws.main, env, ['run', 'app:e2e', '--outputStyle=static']);
    expect(main).toExitWith(0);
    expect(main.output).toContain('e2e got pong');
    // both ran on main: no agent ran either, none crashed
    expect(agents.flatMap(tasksRunBy)).toEqual([]);
    for (const agent of agents) expect(agent.hasExited).toBe(false);
    // serve is never queued: the run has no execution with serve in it, and nothing was stored for it
    const run = await getRun(coordinator, runId);
    for (const e of run.executions) {
      const execution = await getExecution(coordinator, e.executionId);
      expect(execution.tasks.map((t) => t.id)).not.toContain('api:serve');
    }
    expect(storedArtifacts(coordinator).size - before).toBeLessThanOrEqual(1); // app:e2e's own result at most
    // the server is stopped once e2e is done
    const pidFile = join(ws.main, '.markers', 'serve.pid');
    expect(existsSync(pidFile)).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);

    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
    for (const agent of agents) expect(await agent.exited).toMatchObject({ code: 0 });
  });
});
