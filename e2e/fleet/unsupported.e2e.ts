/**
 * Fleet refuses, loudly, the Nx setups it cannot serve: a hand-made workspace on Nx 18.3.5
 * (too old) with the nx-fleet tasks runner gets a non-zero exit and the supported range from
 * both `nx run-many` and `nx-fleet start-ci-run`, and no task runs; a workspace on Nx 21.6.11
 * that still has only the runner entry (which Nx 21+ ignores) is told to run `nx g nx-fleet:init`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../support/processes';
import { copyWorkspace, handmadeWorkspaceTemplate, unsupportedHandmadeTemplate } from '../support/workspaces';
import { fleetCli, fleetEnv, git, linkFleet, newRunId, nx, nxMajor, startCoordinator, type Coordinator } from './cluster';

jest.setTimeout(10 * 60_000);

const SUPPORTED_RANGE = 'Fleet supports Nx 19.8 to 24.x';

/** Writes only the tasks-runner entry (what `nx g nx-fleet:init` writes on 19.8–20), whatever the Nx version, and commits. */
async function useRunnerEntry(workspace: string, url: string): Promise<void> {
  const file = join(workspace, 'nx.json');
  const nxJson = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  nxJson.tasksRunnerOptions = { default: { runner: 'nx-fleet', options: { url } } };
  writeFileSync(file, `${JSON.stringify(nxJson, null, 2)}\n`);
  await git(workspace, ['add', '-A']);
  await git(workspace, ['commit', '-q', '-m', 'nx-fleet tasks runner']);
}

describe('unsupported Nx setups', () => {
  let coordinator: Coordinator;

  beforeAll(async () => {
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  describe('Nx 18.3.5 with the nx-fleet tasks runner', () => {
    let ws: string;

    beforeAll(async () => {
      ws = await copyWorkspace(await unsupportedHandmadeTemplate('18.3.5'));
      linkFleet(ws);
      await useRunnerEntry(ws, coordinator.url);
      expect(nxMajor(ws)).toBe(18);
    });

    it('nx run-many -t build exits non-zero, names the supported range and runs no task', async () => {
      const result = await nx(ws, fleetEnv(ws, coordinator, { runId: newRunId('nx18-run') }), ['run-many', '-t', 'build']);
      expect(result.code).not.toBe(0);
      expect(`${result.stdout}\n${result.stderr}`).toContain(SUPPORTED_RANGE);
      // a:build writes dist/a/data.txt and prints built-a: neither happened
      expect(existsSync(join(ws, 'dist/a/data.txt'))).toBe(false);
      expect(existsSync(join(ws, 'dist'))).toBe(false);
      expect(result.stdout).not.toContain('built-a');
    });

    it('nx-fleet start-ci-run exits non-zero with the same message', async () => {
      const result = await fleetCli(ws, fleetEnv(ws, coordinator, { runId: newRunId('nx18-start') }), ['start-ci-run']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(SUPPORTED_RANGE);
      expect(result.stderr).toContain('18.3.5');
    });
  });

  describe('Nx 21.6.11 with only the tasks-runner entry', () => {
    it('nx-fleet start-ci-run exits non-zero and says to run nx g nx-fleet:init', async () => {
      const ws = await copyWorkspace(await handmadeWorkspaceTemplate('21.6.11'));
      linkFleet(ws);
      await useRunnerEntry(ws, coordinator.url);
      expect(nxMajor(ws)).toBe(21);
      const result = await fleetCli(ws, fleetEnv(ws, coordinator, { runId: newRunId('nx21-runner') }), ['start-ci-run']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('nx g nx-fleet:init');
    });
  });
});
