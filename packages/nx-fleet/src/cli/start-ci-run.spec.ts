import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, silentReporter, type RunningServer } from '@fleet/coordinator';
import { FleetClient } from '../client/fleet-client';
import { NO_RETRY } from '../client/retry';
import { readRunMarker } from '../run-marker';
import { relayClientConfig } from './commands/internal-relay';
import { runCli } from './testing/run-cli';

const TOKEN = 'server-token-abcdef0123';

/** A workspace whose nx.json uses the nx-fleet runner of Nx 20 (enough for start-ci-run's checks). */
function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'fleet-start-ci-run-'));
  writeFileSync(join(root, 'nx.json'), JSON.stringify({ tasksRunnerOptions: { default: { runner: 'nx-fleet', options: {} } } }));
  mkdirSync(join(root, 'node_modules', 'nx'), { recursive: true });
  writeFileSync(join(root, 'node_modules', 'nx', 'package.json'), JSON.stringify({ name: 'nx', version: '20.8.4' }));
  return root;
}

describe('start-ci-run and the branch of the run (against a real coordinator)', () => {
  let server: RunningServer;
  let base: Record<string, string>;
  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: mkdtempSync(join(tmpdir(), 'fleet-scr-data-')), token: TOKEN, reporter: silentReporter });
    base = { FLEET_URL: server.url, FLEET_TOKEN: TOKEN, FLEET_RETRY_TOTAL_MS: '0' };
  });
  afterAll(() => server.close());
  const pullRequest = { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/5/merge', GITHUB_HEAD_REF: 'main', GITHUB_REF_NAME: '5/merge' };
  const client = (branch?: string): FleetClient => new FleetClient({ url: server.url, token: TOKEN, retry: NO_RETRY, branch });

  it('without --branch the run and the marker take resolveBranch: a pull request is pull/<N>, whatever its head branch is called', async () => {
    const root = workspace();
    const result = await runCli(['start-ci-run', '--require-explicit-completion'], { ...base, ...pullRequest, FLEET_RUN_ID: 'scr-pr' }, root);
    expect(result.stderr).toMatch(/run scr-pr \(branch pull\/5\) is open/);
    expect(result.exitCode).toBe(0);
    expect(readRunMarker(root)?.branch).toBe('pull/5');
    expect((await client().getRun('scr-pr')).branch).toBe('pull/5');

    // main's later nx commands (the relay of Nx 21+, the runner of Nx 19-20 read the same marker) carry it
    const config = relayClientConfig({ ...base, ...pullRequest }, root);
    expect(config.branch).toBe('pull/5');
    const file = join(root, 'artifact');
    writeFileSync(file, 'pr output');
    const sha = createHash('sha256').update('pr output').digest('hex');
    expect(await new FleetClient(config).uploadArtifact('abc123', file, sha)).toBe('stored');
    // what the pull request wrote is its own: never served to main
    expect(await client('main').downloadArtifact('abc123', join(root, 'got-main'))).toBeNull();
    expect(await client('pull/5').downloadArtifact('abc123', join(root, 'got-pr'))).toMatchObject({ sha256: sha });
  });

  it('is idempotent for the same run id: a second start-ci-run (a retried step) joins the open run and keeps its agents', async () => {
    const root = workspace();
    const env = { ...base, FLEET_RUN_ID: 'scr-twice', FLEET_BRANCH: 'main' };
    const first = await runCli(['start-ci-run', '--agents', '2', '--require-explicit-completion'], env, root);
    expect(first.exitCode).toBe(0);
    await client('main').joinRun('scr-twice', 'agent-1', 3);
    const second = await runCli(['start-ci-run', '--agents', '2', '--require-explicit-completion'], env, root);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toMatch(/run scr-twice \(branch main\) is open/);
    const run = await client('main').getRun('scr-twice');
    expect(run.status).toBe('open');
    expect(run.agents.map((a) => a.name)).toEqual(['agent-1']);
    expect(readRunMarker(root)?.runId).toBe('scr-twice');
    // once the run has ended, the same id is refused with what to do
    await client('main').completeRun('scr-twice');
    const late = await runCli(['start-ci-run', '--require-explicit-completion'], env, root);
    expect(late.exitCode).toBe(1);
    expect(late.stderr).toMatch(/run scr-twice is already \w+ and takes no new commands: give this pipeline attempt its own run id/);
  });

  it('warns when no branch is found, and says what that means for the cache', async () => {
    const root = workspace();
    const result = await runCli(['start-ci-run', '--require-explicit-completion'], { ...base, FLEET_RUN_ID: 'scr-nobranch' }, root);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/warning: no branch found in the CI variables \(set FLEET_BRANCH or --branch\)/);
    expect(readRunMarker(root)?.branch).toBeUndefined();
    const withBranch = await runCli(['start-ci-run', '--require-explicit-completion'], { ...base, FLEET_RUN_ID: 'scr-b', FLEET_BRANCH: 'main' }, workspace());
    expect(withBranch.stderr).not.toContain('no branch found');
  });

  it('--branch overrides the detected branch for the run and for the later commands of main', async () => {
    const root = workspace();
    const env = { ...base, GITHUB_REF_NAME: 'feature/x', FLEET_RUN_ID: 'scr-flag' };
    const result = await runCli(['start-ci-run', '--branch', 'release/1', '--require-explicit-completion'], env, root);
    expect(result.exitCode).toBe(0);
    expect(readRunMarker(root)?.branch).toBe('release/1');
    expect((await client().getRun('scr-flag')).branch).toBe('release/1');
    expect(relayClientConfig(env, root).branch).toBe('release/1');
    // outside a run (no marker) the CI's own branch
    expect(relayClientConfig(env, workspace()).branch).toBe('feature/x');
  });

  it('a branch outside ASCII is one branch in the run, the marker and the header (encoded, decoded by the coordinator)', async () => {
    const root = workspace();
    const env = { ...base, FLEET_RUN_ID: 'scr-utf8' };
    expect((await runCli(['start-ci-run', '--branch', 'feat/é-100%', '--require-explicit-completion'], env, root)).exitCode).toBe(0);
    expect(readRunMarker(root)?.branch).toBe('feat/é-100%');
    const run = await client().getRun('scr-utf8');
    expect(run.branch).toBe('feat/é-100%');
    const file = join(root, 'artifact');
    writeFileSync(file, 'utf8 output');
    const sha = createHash('sha256').update('utf8 output').digest('hex');
    await new FleetClient(relayClientConfig(env, root)).uploadArtifact('def456', file, sha);
    // an agent sends its run's branch (RunView.branch): it finds what main wrote
    expect(await client(run.branch ?? undefined).downloadArtifact('def456', join(root, 'got'))).toMatchObject({ sha256: sha });
    expect(await client('feat/e-100%').downloadArtifact('def456', join(root, 'got2'))).toBeNull();
  });

  it('refuses an empty --branch', async () => {
    const result = await runCli(['start-ci-run', '--branch', '\u0007', '--require-explicit-completion'], { ...base, FLEET_RUN_ID: 'scr-empty' }, workspace());
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/--branch needs a branch name/);
  });
});
