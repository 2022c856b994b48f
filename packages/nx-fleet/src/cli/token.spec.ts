import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, silentReporter, type RunningServer } from '@fleet/coordinator';
import { FleetClient } from '../client/fleet-client';
import { NO_RETRY } from '../client/retry';
import { tokenTable } from './commands/token';
import { runCli } from './testing/run-cli';

const SERVER_TOKEN = 'server-token-0123456789';

describe('nx-fleet token (against a real coordinator)', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const cwd = mkdtempSync(join(tmpdir(), 'fleet-token-cli-'));

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: mkdtempSync(join(tmpdir(), 'fleet-token-data-')), token: SERVER_TOKEN, reporter: silentReporter });
    env = { FLEET_URL: server.url, FLEET_TOKEN: SERVER_TOKEN, FLEET_RETRY_TOTAL_MS: '0' };
  });
  afterAll(() => server.close());

  it('create prints the secret alone on stdout, once, and on stderr where it goes; the token works', async () => {
    const created = await runCli(['token', 'create', '--scope', 'read-write', '--label', 'ci main', '--workspace', 'team-a'], env, cwd);
    expect(created.exitCode).toBe(0);
    const lines = created.stdout.split('\n');
    expect(lines).toHaveLength(2); // the token and the final newline
    const secret = lines[0];
    expect(secret.length).toBeGreaterThanOrEqual(20);
    expect(created.stderr).toMatch(/token tok_\S+ created \(read-write, workspace team-a\)/);
    expect(created.stderr).toMatch(/cannot be shown again: put it in the FLEET_TOKEN secret of your trusted CI/);
    expect(created.stderr).not.toContain(secret);

    // it is a token of workspace team-a: it may create a run there
    const client = new FleetClient({ url: server.url, token: secret, retry: NO_RETRY });
    await expect(client.createRun({ runId: 'run-1' })).resolves.toMatchObject({ status: 'open' });
  });

  it('list prints a table (and --json) without any secret', async () => {
    const made = await runCli(['token', 'create', '--scope', 'read-only', '--branch-scoped', '--label', 'forks'], env, cwd);
    const secret = made.stdout.trim();
    const table = await runCli(['token', 'list'], env, cwd);
    expect(table.exitCode).toBe(0);
    const [head, ...rows] = table.stdout.trim().split('\n');
    expect(head.split(/\s{2,}/)).toEqual(['ID', 'SCOPE', 'WORKSPACE', 'LABEL', 'BRANCH-SCOPED', 'CREATED', 'REVOKED']);
    const forks = rows.find((r) => r.includes('forks'))!;
    expect(forks.split(/\s{2,}/)).toEqual([expect.stringMatching(/^tok_/), 'read-only', 'default', 'forks', 'yes', expect.stringMatching(/^\d{4}-\d\d-\d\dT/), '-']);
    expect(table.stdout).not.toContain(secret);
    expect(table.stdout).not.toContain(SERVER_TOKEN);

    const json = await runCli(['token', 'list', '--json'], env, cwd);
    const parsed = JSON.parse(json.stdout) as { tokens: Array<{ label: string | null; branchScoped: boolean }> };
    expect(parsed.tokens.find((t) => t.label === 'forks')).toMatchObject({ branchScoped: true });
    expect(json.stdout).not.toContain(secret);
  });

  it('revoke ends a token at once; a revoked or non-admin token gets a message that says what to do', async () => {
    const made = await runCli(['token', 'create', '--scope', 'read-write'], env, cwd);
    const secret = made.stdout.trim();
    const id = /token (tok_\S+) created/.exec(made.stderr)![1];

    const notAdmin = await runCli(['token', 'list'], { ...env, FLEET_TOKEN: secret }, cwd);
    expect(notAdmin.exitCode).toBe(1);
    expect(notAdmin.stderr).toMatch(/token list needs an admin token .*use the coordinator's own token \(serve --token \/ FLEET_TOKEN\) or one created with `nx-fleet token create --scope admin`/);
    expect(notAdmin.stderr).not.toContain(secret);
    const createNotAdmin = await runCli(['token', 'create', '--scope', 'admin'], { ...env, FLEET_TOKEN: secret }, cwd);
    expect(createNotAdmin.stderr).toMatch(/token create needs an admin token/);

    const revoked = await runCli(['token', 'revoke', id], env, cwd);
    expect(revoked.exitCode).toBe(0);
    expect(revoked.stderr).toMatch(new RegExp(`token ${id} \\(read-write, workspace default\\) is revoked`));
    expect((await runCli(['token', 'list', '--json'], env, cwd)).stdout).toMatch(new RegExp(`"tokenId": "${id}"[^}]*"revokedAt": \\d+`));

    const after = await runCli(['token', 'list'], { ...env, FLEET_TOKEN: secret }, cwd);
    expect(after.exitCode).toBe(1);
    expect(after.stderr).toMatch(/token list was refused \(401\): FLEET_TOKEN is not a live token of this coordinator \(unknown, mistyped or revoked\)/);
    expect(after.stderr).not.toContain(secret);

    const unknown = await runCli(['token', 'revoke', 'tok_doesnotexist1'], env, cwd);
    expect(unknown.stderr).toMatch(/no token tok_doesnotexist1 in the workspaces this admin token manages/);
  });

  it('refuses bad arguments before calling the coordinator', async () => {
    expect((await runCli(['token', 'create', '--scope', 'root'], env, cwd)).stderr).toMatch(/Invalid values:[\s\S]*scope[\s\S]*"read-only", "read-write", "admin"/);
    expect((await runCli(['token', 'create'], env, cwd)).stderr).toMatch(/Missing required argument: scope/);
    expect((await runCli(['token', 'create', '--scope', 'admin', '--workspace', 'Bad Name'], env, cwd)).stderr).toMatch(/--workspace must be lower-case/);
    expect((await runCli(['token', 'revoke', 'nope'], env, cwd)).stderr).toMatch(/"nope" is not a token id/);
    expect((await runCli(['token'], env, cwd)).stderr).toMatch(/name a token command: create, list or revoke/);
    expect((await runCli(['token', 'list'], { FLEET_URL: server.url }, cwd)).stderr).toMatch(/FLEET_TOKEN is not set/);
  });
});

describe('tokenTable', () => {
  it('says when there are none, and keeps control characters of labels out of the terminal', () => {
    expect(tokenTable([])).toMatch(/\(no tokens\)/);
    const row = tokenTable([
      { tokenId: 'tok_abcdefgh', scope: 'admin', workspace: 'default', label: 'a\u001b[31mb', branchScoped: false, createdAt: 0, revokedAt: null },
    ]);
    expect(row).not.toContain('\u001b');
    expect(row).toContain('1970-01-01T00:00:00Z');
  });
});
