/**
 * The agent's idle time-out: an agent in an open run where nothing happens (no task, no running
 * execution: main never ran an nx command) leaves after --idle-timeout, says so, and exits 1
 * rather than holding a CI machine for hours. An agent with work in the run does not.
 */
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate, e2eNxVersions } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, startAgent, startCoordinator, waitForAgents, type Coordinator } from './cluster';

jest.setTimeout(5 * 60_000);

const version = e2eNxVersions()[e2eNxVersions().length - 1];

describe(`agent idle time-out, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('leaves an idle run after --idle-timeout, saying why, with exit 1', async () => {
    const runId = newRunId('idle');
    const ws = await fleetWorkspaces(template, coordinator, 1);
    const env = fleetEnv(ws.main, coordinator, { runId });
    expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '1'])).toExitWith(0);
    const agent = startAgent(ws.agents[0], coordinator, runId, 'agent-1', ['--idle-timeout', '3']);
    await waitForAgents(coordinator, runId, 1);
    const joinedAt = Date.now();
    const exit = await agent.exited;
    const afterMs = Date.now() - joinedAt;
    expect(exit.code).toBe(1);
    expect(agent.output).toMatch(/no task and no running execution for 3 s \(agent idle time-out\): leaving/);
    // checked when a long-poll (at most 20 s) comes back empty
    expect(afterMs).toBeGreaterThanOrEqual(3_000);
    expect(afterMs).toBeLessThan(3_000 + 20_000 + 10_000);
    expect(await fleetCli(ws.main, env, ['stop-all-agents'])).toExitWith(0);
  });

  it('rejects a bad --idle-timeout with a message naming the flag', async () => {
    const ws = await fleetWorkspaces(template, coordinator, 0);
    const env = fleetEnv(ws.main, coordinator, { runId: newRunId('idle-bad') });
    const result = await fleetCli(ws.main, env, ['start-agent', '--idle-timeout', '0']);
    expect(result).toExitWith(1);
    expect(result.output).toMatch(/--idle-timeout must be a number of seconds from 1 to 86400/);
  });
});
