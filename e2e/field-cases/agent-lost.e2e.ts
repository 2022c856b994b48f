/**
 * FC-01, an agent that dies before its result is acknowledged: `a:test` exits 3 on the only agent;
 * the agent's completion never reaches the coordinator (a proxy answers it 503) and the agent is
 * SIGKILLed while it retries. The lease expires (10 s), the task is ready again with no agent left,
 * and 30 s later the coordinator fails the run ("no agent left"): main ends within the lease time-out
 * + 30 s (+ start-up), exits non-zero and names a:test; the task is never left pending.
 */
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startAgent, startCoordinator, waitForAgents, type Coordinator } from '../fleet/cluster';
import { customProjects, getExecution, getRun, logFlags, newestNxVersion, startFaultProxy, type FaultProxy } from './field-support';

jest.setTimeout(5 * 60_000);

const version = newestNxVersion();

describe(`FC-01 an agent lost before its result is recorded, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;
  let proxy: FaultProxy;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
    proxy = await startFaultProxy(coordinator.url, (req) =>
      req.method === 'POST' && /^\/v1\/leases\/[^/]+\/complete/.test(req.path) ? { kind: 'status', status: 503 } : null,
    );
  });
  afterAll(async () => {
    await proxy?.close();
    await cleanupAll();
  });

  it('main exits non-zero naming a:test within lease time-out + 30 s, and the task ends failed, not pending', async () => {
    const runId = newRunId('fc01');
    const ws = await fleetWorkspaces(
      template,
      coordinator,
      1,
      customProjects({ a: { targets: { test: { command: `echo a-test-${runId} && exit 3` } } } }),
    );
    const env = fleetEnv(ws.main, coordinator, { runId });
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '1'])).toExitWith(0);
    const agent = startAgent(ws.agents[0], coordinator, runId, 'agent-1', ['--parallel', '1'], { FLEET_URL: proxy.url });
    await waitForAgents(coordinator, runId, 1);
    const startedAt = Date.now();
    const main = nx(ws.main, env, ['run', 'a:test', ...logFlags(version)]);

    // the agent ran the task and is trying to report it: kill it now
    await agent.waitForOutput(/a:test failed \(exit 3\)|a-test-/, { timeoutMs: 120_000 });
    for (let i = 0; i < 600 && !proxy.seen.some((r) => /\/complete/.test(r.path)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(proxy.seen.some((r) => /\/complete/.test(r.path) && r.status === 503)).toBe(true);
    agent.kill('SIGKILL');
    await agent.exited;

    const result = await main;
    const tookMs = Date.now() - startedAt;
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/a:test/);
    expect(result.output).toMatch(/no agent left/);
    // 10 s lease + 30 s without agents + Nx and the agent's start-up on this machine
    expect(tookMs).toBeLessThan(10_000 + 30_000 + 30_000);

    const run = await getRun(coordinator, runId);
    expect(run.status).toBe('failed');
    const execution = await getExecution(coordinator, run.executions[0].executionId);
    const task = execution.tasks.find((t) => t.id === 'a:test');
    expect(task?.status).toBe('cancelled');
    expect(['pending', 'ready', 'leased']).not.toContain(task?.status);
    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(1);
  });
});
