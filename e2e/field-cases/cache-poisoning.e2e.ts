/**
 * FC-20, cache poisoning from an untrusted branch (CVE-2025-36852, "CREEP"), on the newest Nx of
 * e2eNxVersions(), with real processes: a coordinator, tokens made with `nx-fleet token create`, pull
 * request jobs and a distributed main-branch run.
 *
 * A pull request job holds the same read-write CI token as main (the usual setup). It learns the hash
 * main will compute for a:build (anyone can: the hash is a function of the sources) and PUTs, under it,
 * an archive of its own with an extra dist/a/evil.txt. Its branch header says what its CI says: a pull
 * request build is `pull/<N>` even when its head branch is named `main` (identity.ts).
 *  - main's distributed run never restores it: a:build runs on an agent, dist/a/evil.txt never appears;
 *  - a read-only token's PUT of the same archive is 403 and stores nothing;
 *  - the planted entry is visible to that pull request only: pull/7 restores it, pull/8 runs the task.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyWorkspace } from '../support/copy';
import { cleanupAll } from '../support/processes';
import { handmadeWorkspaceTemplate, type ProjectSpec } from '../support/workspaces';
import { fleetCli, fleetEnv, fleetWorkspaces, nx, startCoordinator, tasksRunBy, type Coordinator } from '../fleet/cluster';
import { customProjects, distributedRun, localCacheHashes, logFlags, newestNxVersion } from './field-support';

jest.setTimeout(6 * 60_000);

const version = newestNxVersion();

const PROJECTS: Record<string, ProjectSpec> = {
  a: {
    targets: {
      build: {
        command: 'sh packages/a/build.sh',
        outputs: ['{workspaceRoot}/dist/a'],
      },
    },
    files: { 'build.sh': 'set -e\nrm -rf dist/a\nmkdir -p dist/a\necho "honest a" > dist/a/index.js\necho built-a-for-real\n' },
  },
};

/** The environment of a GitHub Actions pull_request job for PR `n` whose head branch is named `head`. */
function pullRequestEnv(n: number, head: string): Record<string, string | undefined> {
  return {
    FLEET_BRANCH: undefined,
    FLEET_RUN_ID: undefined,
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_REF: `refs/pull/${n}/merge`,
    GITHUB_REF_NAME: `${n}/merge`,
    GITHUB_HEAD_REF: head,
    GITHUB_BASE_REF: 'main',
  };
}

/** An Nx cache archive (what Nx's HTTP cache PUTs) holding `files` as outputs, a log and exit code 0. */
function poisonedArchive(files: Record<string, string>): Buffer {
  const stage = mkdtempSync(join(tmpdir(), 'fleet-fc20-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(stage, name, '..'), { recursive: true });
    writeFileSync(join(stage, name), content);
  }
  writeFileSync(join(stage, 'terminalOutput'), 'built-a-from-the-cache\n');
  writeFileSync(join(stage, 'code'), Buffer.alloc(4));
  const archive = join(stage, 'artifact.tar.gz');
  execFileSync('tar', ['-czf', archive, '-C', stage, 'terminalOutput', 'code', ...Object.keys(files)]);
  return readFileSync(archive);
}

function putArtifact(coordinator: Coordinator, token: string, hash: string, body: Buffer, branch: string): Promise<Response> {
  return fetch(`${coordinator.url}/v1/cache/${hash}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/octet-stream',
      'x-fleet-sha256': createHash('sha256').update(body).digest('hex'),
      'x-fleet-branch': branch,
    },
    body,
  });
}

async function createToken(coordinator: Coordinator, cwd: string, args: string[]): Promise<string> {
  const env = fleetEnv(cwd, coordinator, { runId: 'unused', extra: { FLEET_RUN_ID: undefined, FLEET_URL: coordinator.url } });
  const created = await fleetCli(cwd, env, ['token', 'create', ...args]);
  expect(created).toExitWith(0);
  const token = created.stdout.trim();
  expect(token).toMatch(/^flt_\S+$/);
  return token;
}

describe(`FC-20 cache poisoning from an untrusted branch, Nx ${version}`, () => {
  let coordinator: Coordinator;
  let template: string;

  beforeAll(async () => {
    template = await handmadeWorkspaceTemplate(version);
    coordinator = await startCoordinator();
  });
  afterAll(() => cleanupAll());

  it("a pull request's planted artifact is never restored by main, a read-only token cannot plant one, and the plant is visible to that pull request only", async () => {
    const ws = await fleetWorkspaces(template, coordinator, 1, customProjects(PROJECTS));
    const [probe, pr7, pr8] = [await copyWorkspace(ws.main), await copyWorkspace(ws.main), await copyWorkspace(ws.main)];
    const ci = await createToken(coordinator, probe, ['--scope', 'read-write', '--label', 'ci (main and pull requests)']);
    const readOnly = await createToken(coordinator, probe, ['--scope', 'read-only', '--label', 'laptops']);

    // the hash main will compute: a local run of the same sources, without Fleet
    const local = await nx(probe, fleetEnv(probe, coordinator, { runId: 'unused', extra: { FLEET_TOKEN: undefined, FLEET_RUN_ID: undefined } }), ['run', 'a:build']);
    expect(local).toExitWith(0);
    const hashes = localCacheHashes(join(probe, '.nx/cache'));
    expect(hashes).toHaveLength(1);
    const hash = hashes[0];
    const poison = poisonedArchive({ 'dist/a/index.js': 'planted a\n', 'dist/a/evil.txt': 'planted by a pull request\n' });

    // a read-only token cannot plant it, whatever branch it names
    const denied = await putArtifact(coordinator, readOnly, hash, poison, 'main');
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ code: 'forbidden' });

    // the pull request job plants it with the CI token: accepted, into pull/7's own namespace
    const planted = await putArtifact(coordinator, ci, hash, poison, 'pull/7');
    expect(planted.status).toBe(200);

    // pull request 7 (its head branch named "main", to try its luck) restores its own plant...
    const own = await nx(pr7, fleetEnv(pr7, coordinator, { runId: 'unused', extra: { FLEET_TOKEN: ci, ...pullRequestEnv(7, 'main') } }), [
      'run',
      'a:build',
      ...logFlags(version),
    ]);
    expect(own).toExitWith(0);
    expect(readFileSync(join(pr7, 'dist/a/evil.txt'), 'utf8')).toBe('planted by a pull request\n');
    expect(own.stdout).not.toContain('built-a-for-real');

    // ...pull request 8 does not see it: the task runs
    const other = await nx(pr8, fleetEnv(pr8, coordinator, { runId: 'unused', extra: { FLEET_TOKEN: ci, ...pullRequestEnv(8, 'feature-x') } }), [
      'run',
      'a:build',
      ...logFlags(version),
    ]);
    expect(other).toExitWith(0);
    expect(other.stdout).toContain('built-a-for-real');
    expect(existsSync(join(pr8, 'dist/a/evil.txt'))).toBe(false);

    // main's distributed run, same CI token: the agent builds a:build, main restores the agent's outputs
    const run = await distributedRun(coordinator, template, version, ['run', 'a:build'], {
      agents: 1,
      workspaces: ws,
      mainEnv: { FLEET_TOKEN: ci },
    });
    expect(run.main).toExitWith(0);
    expect(tasksRunBy(run.agents[0])).toEqual(['a:build']);
    expect(run.main.stdout).toContain('built-a-for-real');
    expect(readFileSync(join(ws.main, 'dist/a/index.js'), 'utf8')).toBe('honest a\n');
    expect(existsSync(join(ws.main, 'dist/a/evil.txt'))).toBe(false);
    expect(existsSync(join(ws.agents[0], 'dist/a/evil.txt'))).toBe(false);
    // the shared namespace holds main's own result for the hash, not the plant
    const shared = await fetch(`${coordinator.url}/v1/cache/${hash}`, {
      headers: { authorization: `Bearer ${readOnly}`, 'x-fleet-branch': 'main' },
    });
    expect(shared.status).toBe(200);
    expect(Buffer.from(await shared.arrayBuffer()).equals(poison)).toBe(false);
  });
});
