/**
 * Field cases about task hashes (see docs/field-cases.md), on the newest Nx of e2eNxVersions(), one
 * coordinator:
 *  - FC-10 dependency outputs in the hash: p:first writes $RUN_ID, p:second cats it with
 *    `inputs: [{ dependentTasksOutputFiles: '**\/*.txt' }]`; RUN_ID=1 then 2, first and second on different
 *    agents (agent-2 joins only once agent-1 is running p:first, which waits for a release file, so agent-2's
 *    long-poll is the one woken when p:second becomes ready). The second run re-executes p:second, main
 *    prints 2, main and the agent agree on the hash.
 *  - FC-11 OS in the cache key: native:build has the runtime input `node -p process.platform`; same platform,
 *    same hash (main restores the agent's result); a different answer (a `node` shim on PATH answering win32)
 *    gives a different hash.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyWorkspace } from '../support/copy';
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate, type ProjectSpec } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, newRunId, nx, startCoordinator, tasksRunBy, waitForAgents, type Coordinator } from '../fleet/cluster';
import {
  customProjects,
  distributedRun,
  getExecution,
  getRun,
  localCacheHashes,
  logFlags,
  newestNxVersion,
  startAgentWithEnv,
  within,
} from './field-support';

jest.setTimeout(6 * 60_000);

const version = newestNxVersion();

const FC10: Record<string, ProjectSpec> = {
  p: {
    targets: {
      first: {
        command: 'sh packages/p/first.sh',
        inputs: ['default', { env: 'RUN_ID' }],
        outputs: ['{workspaceRoot}/dist/p/first'],
        cache: true,
      },
      second: {
        command: 'sh packages/p/second.sh',
        dependsOn: ['first'],
        inputs: [{ dependentTasksOutputFiles: '**/*.txt' }],
        outputs: ['{workspaceRoot}/dist/p/second'],
        cache: true,
      },
    },
    files: {
      // waits (at most 60 s) for the test to release it, so that the test can line the agents up
      'first.sh': [
        'set -e',
        'mkdir -p dist/p/first',
        'echo "$RUN_ID" > dist/p/first/output.txt',
        'i=0; while [ -n "$FC10_RELEASE" ] && [ ! -f "$FC10_RELEASE" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done',
        'echo "first wrote $RUN_ID"',
        '',
      ].join('\n'),
      'second.sh': ['set -e', 'mkdir -p dist/p/second', 'cp dist/p/first/output.txt dist/p/second/seen.txt', 'echo "second saw $(cat dist/p/first/output.txt)"', ''].join('\n'),
    },
  },
};

const FC11: Record<string, ProjectSpec> = {
  native: {
    targets: {
      build: {
        command: 'mkdir -p dist/native && uname > dist/native/os.txt && echo built-native',
        inputs: ['default', { runtime: 'node -p process.platform' }],
        outputs: ['{workspaceRoot}/dist/native'],
      },
    },
  },
};

describe(`hash field cases, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('FC-10: with RUN_ID=1 then 2, p:second (dependency outputs in its hash) runs again on another agent and main prints 2', async () => {
    const ws = await fleetWorkspaces(template, coordinator, 2, customProjects(FC10));
    const release = join(mkdtempSync(join(tmpdir(), 'fleet-fc10-')), 'release');

    async function pipeline(runNumber: string) {
      rmSync(release, { force: true });
      const runId = newRunId(`fc10-${runNumber}`);
      const extra = { RUN_ID: runNumber, FC10_RELEASE: release };
      // agent-1 must not take p:second with p:first's completion (leaseNext keeps a dependant on the
      // agent that holds its dependency's outputs): this case is about restoring them on another agent
      const agent1 = startAgentWithEnv(ws.agents[0], coordinator, runId, 'agent-1', ['--parallel', '1'], { ...extra, FLEET_LEASE_NEXT: 'false' });
      const env = fleetEnv(ws.main, coordinator, { runId, extra });
      expect(await fleetCli(ws.main, env, ['start-ci-run', '--agents', '2'])).toExitWith(0);
      const main = nx(ws.main, env, ['run', 'p:second', ...logFlags(version)]);
      await agent1.waitForOutput(/running p:first/, { timeoutMs: 120_000 });
      const agent2 = startAgentWithEnv(ws.agents[1], coordinator, runId, 'agent-2', ['--parallel', '1'], extra);
      await waitForAgents(coordinator, runId, 2);
      writeFileSync(release, 'go');
      const result = await main;
      const stop = await fleetCli(ws.main, env, ['stop-all-agents']);
      const exits = await within(Promise.all([agent1.exited, agent2.exited]), 30_000, 'agents to exit');
      const view = await getRun(coordinator, runId);
      const execution = await getExecution(coordinator, view.executions[0].executionId);
      return { result, stop, exits, agents: [agent1, agent2], execution };
    }

    const one = await pipeline('1');
    expect(one.result).toExitWith(0);
    expect(one.result.stdout).toContain('second saw 1');
    const two = await pipeline('2');
    expect(two.result).toExitWith(0);
    expect(two.result.stdout).toContain('second saw 2');
    expect(two.result.stdout).not.toContain('second saw 1');
    expect(readFileSync(join(ws.main, 'dist/p/second/seen.txt'), 'utf8')).toBe('2\n');
    for (const run of [one, two]) {
      // forced apart, and both results came from the agents
      expect(tasksRunBy(run.agents[0])).toEqual(['p:first']);
      expect(tasksRunBy(run.agents[1])).toEqual(['p:second']);
      expect(run.result.output).not.toMatch(/the agent computed hash/);
      expect(run.result.stdout).toMatch(/read the output from the cache instead of running the command for 2 out of 2 tasks/);
      expect(run.stop).toExitWith(0);
      for (const exit of run.exits) expect(exit).toExitWith(0);
    }
    const hashOf = (run: typeof one, id: string): string | null => run.execution.tasks.find((t) => t.id === id)?.hash ?? null;
    expect(hashOf(two, 'p:second')).toBeTruthy();
    expect(hashOf(two, 'p:second')).not.toBe(hashOf(one, 'p:second'));
    expect(hashOf(two, 'p:first')).not.toBe(hashOf(one, 'p:first'));
  });

  it('FC-11: same platform, same hash (main restores the agent’s native:build)', async () => {
    const run = await distributedRun(coordinator, template, version, ['run', 'native:build'], { agents: 1, prepare: customProjects(FC11) });
    expect(run.main).toExitWith(0);
    expect(tasksRunBy(run.agents[0])).toEqual(['native:build']);
    expect(run.main.output).not.toMatch(/the agent computed hash/);
    expect(run.main.stdout).toMatch(/read the output from the cache instead of running the command for 1 out of 1 tasks/);
    expect(readFileSync(join(run.ws.main, 'dist/native/os.txt'), 'utf8').trim()).toBe('Linux');
  });

  it('FC-11: a different process.platform gives a different hash; back on this platform, the first hash again', async () => {
    const { main } = await fleetWorkspaces(template, coordinator, 0, customProjects(FC11));
    const ws = await copyWorkspace(main);
    // a `node` on PATH that answers the runtime input as a Windows machine would
    const shim = mkdtempSync(join(tmpdir(), 'fleet-fc11-shim-'));
    writeFileSync(
      join(shim, 'node'),
      `#!/bin/sh\nif [ "$1" = "-p" ] && [ "$2" = "process.platform" ]; then echo win32; exit 0; fi\nexec "${process.execPath}" "$@"\n`,
    );
    chmodSync(join(shim, 'node'), 0o755);
    const local = { runId: 'unused', extra: { FLEET_TOKEN: undefined, FLEET_RUN_ID: undefined } };
    const cache = join(ws, '.nx/cache');
    const linux = await nx(ws, fleetEnv(ws, coordinator, local), ['run', 'native:build']);
    expect(linux).toExitWith(0);
    const [h1] = localCacheHashes(cache);
    expect(localCacheHashes(cache)).toHaveLength(1);
    const win = await nx(ws, fleetEnv(ws, coordinator, { ...local, extra: { ...local.extra, PATH: `${shim}:${process.env.PATH}` } }), [
      'run',
      'native:build',
    ]);
    expect(win).toExitWith(0);
    expect(win.stdout).not.toMatch(/read the output from the cache/);
    const after = localCacheHashes(cache);
    expect(after).toHaveLength(2);
    const h2 = after.find((h) => h !== h1);
    expect(h2).toBeDefined();
    const again = await nx(ws, fleetEnv(ws, coordinator, local), ['run', 'native:build']);
    expect(again).toExitWith(0);
    expect(again.stdout).toMatch(/read the output from the cache instead of running the command for 1 out of 1 tasks/);
    expect(localCacheHashes(cache).sort()).toEqual([h1, h2].sort());
    expect(existsSync(join(ws, 'dist/native/os.txt'))).toBe(true);
  });
});
