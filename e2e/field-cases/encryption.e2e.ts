/**
 * End-to-end encryption of artifacts (FLEET_ENCRYPTION_KEY, docs/security.md), with real processes
 * on the newest Nx of e2eNxVersions(): main and its agent share a key the coordinator never sees.
 *  - the distributed run is green and main has the agent's outputs;
 *  - what the coordinator stores is ciphertext (Fleet's header, no gzip magic, the output's text absent);
 *  - a job with another key, or with none, gets a miss (the task runs), never garbage.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyWorkspace } from '../support/copy';
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate, type ProjectSpec } from '../support/workspaces';
import { fleetEnv, fleetWorkspaces, nx, startCoordinator, tasksRunBy, type Coordinator } from '../fleet/cluster';
import { customProjects, distributedRun, logFlags, newestNxVersion, salt, storedArtifacts } from './field-support';

jest.setTimeout(6 * 60_000);

const version = newestNxVersion();
const MARK = 'output-text-that-must-not-be-readable-on-the-coordinator';

const PROJECTS: Record<string, ProjectSpec> = {
  a: {
    targets: { build: { command: 'sh packages/a/build.sh', outputs: ['{workspaceRoot}/dist/a'] } },
    files: { 'build.sh': `set -e\nmkdir -p dist/a\necho "${MARK}" > dist/a/index.js\necho built-a\n` },
  },
};

describe(`artifacts encrypted with FLEET_ENCRYPTION_KEY, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it('a run with a key on main and agent is green; the coordinator holds only ciphertext; another key or none is a miss', async () => {
    const key = randomBytes(32).toString('hex');
    const ws = await fleetWorkspaces(template, coordinator, 1, customProjects(PROJECTS, salt('a')));
    const [otherKey, noKey] = [await copyWorkspace(ws.main), await copyWorkspace(ws.main)];
    const before = new Set(storedArtifacts(coordinator).keys());
    const run = await distributedRun(coordinator, template, version, ['run', 'a:build'], {
      agents: 1,
      workspaces: ws,
      mainEnv: { FLEET_ENCRYPTION_KEY: key },
      agentEnv: { FLEET_ENCRYPTION_KEY: key },
    });
    expect(run.main).toExitWith(0);
    expect(tasksRunBy(run.agents[0])).toEqual(['a:build']);
    expect(readFileSync(join(ws.main, 'dist/a/index.js'), 'utf8')).toBe(`${MARK}\n`);

    const added = [...storedArtifacts(coordinator).keys()].filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    const stored = readFileSync(join(coordinator.dataDir, 'blobs', 'default', added[0]));
    expect(stored.subarray(0, 9).toString('ascii')).toBe('FLEETENC1');
    expect(stored[0] === 0x1f && stored[1] === 0x8b).toBe(false);
    expect(stored.includes(Buffer.from(MARK))).toBe(false);

    for (const [dir, extra, warning] of [
      [otherKey, { FLEET_ENCRYPTION_KEY: randomBytes(32).toString('hex') }, 'encrypted with another key than FLEET_ENCRYPTION_KEY'],
      [noKey, {}, 'is encrypted (written with FLEET_ENCRYPTION_KEY) and this job has no key'],
    ] as const) {
      const result = await nx(dir, fleetEnv(dir, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined, ...extra } }), [
        'run',
        'a:build',
        ...logFlags(version),
      ]);
      expect(result).toExitWith(0);
      expect(result.stdout).toContain('built-a'); // it ran: a miss, not a restore of ciphertext
      expect(result.output).toContain(warning);
      expect(readFileSync(join(dir, 'dist/a/index.js'), 'utf8')).toBe(`${MARK}\n`);
    }
  });
});
