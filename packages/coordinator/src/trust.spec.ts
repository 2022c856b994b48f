/**
 * Trust (docs/security.md): tokens and their scopes, workspaces, branch-scoped cache
 * namespaces, and the per-token limits, against a real coordinator on loopback.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHarness, planTask, TEST_TOKEN, type Harness, type HarnessOptions } from './testing/harness';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const poisoned = Buffer.from('dist/a/evil.txt');
const honest = Buffer.from('dist/a/index.js');
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function start(options: HarnessOptions = {}): Promise<Harness> {
  h = await createHarness(options);
  return h;
}

async function createToken(body: Record<string, unknown>, as = TEST_TOKEN): Promise<{ token: string; view: any }> {
  const res = await h.call('POST', '/v1/tokens', body, bearer(as));
  expect(res.statusCode).toBe(200);
  return res.json();
}

function put(token: string, hash: string, body: Buffer, branch?: string): ReturnType<Harness['raw']> {
  return h.raw({
    method: 'PUT',
    path: `/v1/cache/${hash}`,
    headers: {
      ...bearer(token),
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'x-fleet-sha256': sha(body),
      ...(branch === undefined ? {} : { 'x-fleet-branch': branch }),
    },
    body,
  });
}

function get(token: string, hash: string, branch?: string): ReturnType<Harness['raw']> {
  return h.raw({
    method: 'GET',
    path: `/v1/cache/${hash}`,
    headers: { ...bearer(token), ...(branch === undefined ? {} : { 'x-fleet-branch': branch }) },
  });
}

describe('tokens', () => {
  it('no token is 401 on every route but /healthz; a junk or malformed one is 401 too', async () => {
    await start();
    expect((await h.raw({ method: 'GET', path: '/healthz' })).statusCode).toBe(200);
    for (const [method, path] of [
      ['GET', '/v1/runs/r1'],
      ['POST', '/v1/runs'],
      ['GET', '/v1/cache/abc'],
      ['GET', '/v1/tokens'],
      ['GET', '/v1/no-such-route'],
    ] as const) {
      const res = await h.raw({ method, path });
      expect([method, path, res.statusCode, res.json().code]).toEqual([method, path, 401, 'unauthorized']);
    }
    expect((await h.raw({ method: 'GET', path: '/v1/runs/r1', headers: bearer('flt_nope') })).statusCode).toBe(401);
    expect((await h.raw({ method: 'GET', path: '/v1/runs/r1', headers: { authorization: 'Basic abc' } })).json()).toEqual({
      code: 'unauthorized',
      message: 'the Authorization header must be "Bearer <token>"',
    });
  });

  it('a created token is shown once, stored only as a hash, listed without its secret', async () => {
    await start();
    const created = await createToken({ scope: 'read-write', label: 'ci main' });
    expect(created.token).toMatch(/^flt_[A-Za-z0-9_-]{43}$/);
    expect(created.view).toMatchObject({ scope: 'read-write', workspace: 'default', label: 'ci main', branchScoped: false, revokedAt: null });
    const list = await h.call('GET', '/v1/tokens');
    expect(list.statusCode).toBe(200);
    expect(list.json().tokens).toEqual([created.view]);
    expect(list.body.toString()).not.toContain(created.token);
    // the database holds the digest, never the secret
    const db = Buffer.concat(
      ['state.sqlite', 'state.sqlite-wal'].flatMap((f) => (existsSync(join(h.dir, f)) ? [readFileSync(join(h.dir, f))] : [])),
    );
    expect(db.includes(Buffer.from(created.token))).toBe(false);
    expect(db.includes(Buffer.from(sha(Buffer.from(created.token))))).toBe(true);
    // nothing the coordinator reported carries a secret
    expect(JSON.stringify(h.reported)).not.toContain(created.token);
    expect(JSON.stringify(h.reported)).not.toContain(TEST_TOKEN);
  });

  it('read-only: reads the cache and watches runs; a PUT, a run or an agent is 403 naming what is needed', async () => {
    await start();
    const writer = await createToken({ scope: 'read-write' });
    const reader = await createToken({ scope: 'read-only' });
    const body = Buffer.from('artifact');
    expect((await put(writer.token, 'h1', body, 'main')).statusCode).toBe(200);
    expect((await h.call('POST', '/v1/runs', { runId: 'r1' }, bearer(writer.token))).statusCode).toBe(200);

    const got = await get(reader.token, 'h1', 'main');
    expect(got.statusCode).toBe(200);
    expect(got.body.equals(body)).toBe(true);
    expect((await h.call('GET', '/v1/runs/r1', undefined, bearer(reader.token))).statusCode).toBe(200);

    const denied = await put(reader.token, 'h2', body, 'main');
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toEqual({
      code: 'forbidden',
      message: `PUT /v1/cache/:hash needs a read-write or admin token; token ${reader.view.tokenId} is read-only`,
    });
    expect((await get(writer.token, 'h2', 'main')).statusCode).toBe(404);
    expect((await h.call('POST', '/v1/runs', { runId: 'r2' }, bearer(reader.token))).statusCode).toBe(403);
    expect((await h.call('POST', '/v1/runs/r1/agents', { agentName: 'a1', parallel: 1 }, bearer(reader.token))).statusCode).toBe(403);
    // only admin tokens manage tokens
    expect((await h.call('POST', '/v1/tokens', { scope: 'admin' }, bearer(writer.token))).statusCode).toBe(403);
    expect((await h.call('GET', '/v1/tokens', undefined, bearer(reader.token))).statusCode).toBe(403);
  });

  it('a revoked token is 401 on its very next request; revoking twice keeps the first time', async () => {
    await start();
    const writer = await createToken({ scope: 'read-write' });
    expect((await h.call('POST', '/v1/runs', { runId: 'r1' }, bearer(writer.token))).statusCode).toBe(200);
    const revoked = await h.call('DELETE', `/v1/tokens/${writer.view.tokenId}`);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revokedAt).toEqual(expect.any(Number));
    const after = await h.call('GET', '/v1/runs/r1', undefined, bearer(writer.token));
    expect(after.statusCode).toBe(401);
    expect(after.json().message).toContain(`token ${writer.view.tokenId} was revoked`);
    h.clock.advance(5000);
    expect((await h.call('DELETE', `/v1/tokens/${writer.view.tokenId}`)).json().revokedAt).toBe(revoked.json().revokedAt);
    expect((await h.call('DELETE', '/v1/tokens/tok_unknown123')).statusCode).toBe(404);
  });

  it('a token revoked while its lease long-poll waits gets no task', async () => {
    await start();
    const ci = await createToken({ scope: 'read-write' });
    await h.call('POST', '/v1/runs', { runId: 'r1', agents: 1 }, bearer(ci.token));
    await h.call('POST', '/v1/runs/r1/agents', { agentName: 'a1', parallel: 1 }, bearer(ci.token));
    const waiting = h.call('POST', '/v1/runs/r1/lease', { agentName: 'a1', waitMs: 5000 }, bearer(ci.token));
    await new Promise((r) => setTimeout(r, 200));
    expect((await h.call('DELETE', `/v1/tokens/${ci.view.tokenId}`)).statusCode).toBe(200);
    // a task arrives (submitted with the server's token) while the revoked token's request is held
    await h.call('POST', '/v1/runs/r1/executions', { executionId: 'e1', command: 'nx', tasks: [planTask('a:build')] });
    const answer = await waiting;
    expect(answer.statusCode).toBe(401);
    expect(answer.json().message).toContain('was revoked while this request waited');
    expect((await h.call('GET', '/v1/executions/e1')).json().tasks[0].status).toBe('ready');
  });

  it("an admin token of a workspace manages that workspace's tokens only", async () => {
    await start();
    const adminA = await createToken({ scope: 'admin', workspace: 'team-a' });
    const inB = await createToken({ scope: 'read-write', workspace: 'team-b' });
    const forA = await createToken({ scope: 'read-only' }, adminA.token);
    expect(forA.view.workspace).toBe('team-a');
    const refused = await h.call('POST', '/v1/tokens', { scope: 'read-write', workspace: 'team-b' }, bearer(adminA.token));
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toContain('admin of workspace team-a only');
    const listed = (await h.call('GET', '/v1/tokens', undefined, bearer(adminA.token))).json().tokens;
    expect(listed.map((t: { tokenId: string }) => t.tokenId).sort()).toEqual([adminA.view.tokenId, forA.view.tokenId].sort());
    expect((await h.call('DELETE', `/v1/tokens/${inB.view.tokenId}`, undefined, bearer(adminA.token))).statusCode).toBe(404);
    // the server's own token sees all of them
    expect((await h.call('GET', '/v1/tokens')).json().tokens).toHaveLength(3);
  });

  it('bad token requests are 400 with what was wrong', async () => {
    await start();
    const bad = await h.call('POST', '/v1/tokens', { scope: 'root' });
    expect(bad.statusCode).toBe(400);
    expect((await h.call('POST', '/v1/tokens', { scope: 'read-only', workspace: '../etc' })).statusCode).toBe(400);
    expect((await h.call('POST', '/v1/tokens', { scope: 'read-only', extra: 1 })).statusCode).toBe(400);
    expect((await h.call('DELETE', '/v1/tokens/..%2F..%2Fx')).statusCode).toBe(400);
  });
});

describe('workspaces', () => {
  it("a token of workspace A cannot read B's artifact, run, execution or lease", async () => {
    await start();
    const a = await createToken({ scope: 'read-write', workspace: 'team-a' });
    const b = await createToken({ scope: 'read-write', workspace: 'team-b' });
    const body = Buffer.from('secret outputs of team b');
    expect((await put(b.token, 'h-b', body, 'main')).statusCode).toBe(200);
    expect((await get(b.token, 'h-b', 'main')).statusCode).toBe(200);
    expect((await get(a.token, 'h-b', 'main')).statusCode).toBe(404);
    expect((await get(TEST_TOKEN, 'h-b', 'main')).statusCode).toBe(404); // the default workspace is a workspace too

    // B's run, under an id that A uses as well: two different runs
    expect((await h.call('POST', '/v1/runs', { runId: 'gh-1-1', agents: 1 }, bearer(b.token))).json().runId).toBe('gh-1-1');
    expect((await h.call('POST', '/v1/runs/gh-1-1/agents', { agentName: 'b1', parallel: 1 }, bearer(b.token))).statusCode).toBe(200);
    const exec = await h.call(
      'POST',
      '/v1/runs/gh-1-1/executions',
      { executionId: 'exec-b', command: 'nx run-many', tasks: [planTask('x:build')] },
      bearer(b.token),
    );
    expect(exec.statusCode).toBe(200);
    expect(exec.json().runId).toBe('gh-1-1');
    const leased = (await h.call('POST', '/v1/runs/gh-1-1/lease', { agentName: 'b1', waitMs: 0 }, bearer(b.token))).json();
    expect(leased.action).toBe('run');

    expect((await h.call('GET', '/v1/runs/gh-1-1', undefined, bearer(a.token))).statusCode).toBe(404);
    expect((await h.call('GET', '/v1/executions/exec-b', undefined, bearer(a.token))).statusCode).toBe(404);
    expect((await h.call('POST', '/v1/executions/exec-b/finish', { status: 'cancelled' }, bearer(a.token))).statusCode).toBe(404);
    const steal = await h.call(
      'POST',
      `/v1/leases/${leased.task.leaseId}/complete`,
      { agentName: 'b1', hash: 'h-x', exitCode: 0, durationMs: 1 },
      bearer(a.token),
    );
    expect(steal.statusCode).toBe(404);
    // an execution id taken in B tells A nothing about B
    const clash = await h.call('POST', '/v1/runs', { runId: 'gh-1-1' }, bearer(a.token));
    expect(clash.json()).toMatchObject({ runId: 'gh-1-1', agents: [], executions: [] });
    const reuse = await h.call(
      'POST',
      '/v1/runs/gh-1-1/executions',
      { executionId: 'exec-b', command: 'nx run-many', tasks: [planTask('x:build')] },
      bearer(a.token),
    );
    expect(reuse.statusCode).toBe(409);
    expect(reuse.json().message).toBe('execution id exec-b is already in use; choose another');
    // B's run is untouched
    expect((await h.call('GET', '/v1/executions/exec-b', undefined, bearer(b.token))).json().tasks[0].status).toBe('leased');
  });
});

describe('branch-scoped tokens and runs', () => {
  it("a branch-scoped token cannot join, lease from, complete or end a trusted job's run, even knowing its id", async () => {
    await start();
    const ci = await createToken({ scope: 'read-write' });
    const pr = await createToken({ scope: 'read-write', branchScoped: true });
    expect((await h.call('POST', '/v1/runs', { runId: 'gh-555-1', agents: 1, branch: 'main' }, bearer(ci.token))).statusCode).toBe(200);
    const plan = { executionId: 'exMain', command: 'nx affected', tasks: [planTask('app:build', [], 'mainhash1')] };
    expect((await h.call('POST', '/v1/runs/gh-555-1/executions', plan, bearer(ci.token))).statusCode).toBe(200);
    await h.call('POST', '/v1/runs/gh-555-1/agents', { agentName: 'main-agent', parallel: 1 }, bearer(ci.token));
    const leased = (await h.call('POST', '/v1/runs/gh-555-1/lease', { agentName: 'main-agent', waitMs: 0 }, bearer(ci.token))).json();
    expect(leased.action).toBe('run');

    expect((await h.call('GET', '/v1/runs/gh-555-1', undefined, bearer(pr.token))).statusCode).toBe(404);
    expect((await h.call('POST', '/v1/runs/gh-555-1/agents', { agentName: 'pr-evil', parallel: 1 }, bearer(pr.token))).statusCode).toBe(404);
    expect((await h.call('POST', '/v1/runs/gh-555-1/lease', { agentName: 'pr-evil', waitMs: 0 }, bearer(pr.token))).statusCode).toBe(404);
    expect((await h.call('POST', '/v1/runs/gh-555-1/complete', { reason: 'pwned' }, bearer(pr.token))).statusCode).toBe(404);
    expect((await h.call('GET', '/v1/executions/exMain', undefined, bearer(pr.token))).statusCode).toBe(404);
    const steal = await h.call(
      'POST',
      `/v1/leases/${leased.task.leaseId}/complete`,
      { agentName: 'main-agent', hash: 'k2', exitCode: 0, durationMs: 5 },
      bearer(pr.token),
    );
    expect(steal.statusCode).toBe(404);
    // opening "the same" run makes the pull request a run of its own; main's is untouched
    const own = await h.call('POST', '/v1/runs', { runId: 'gh-555-1', branch: 'main' }, bearer(pr.token));
    expect(own.json()).toMatchObject({ runId: 'gh-555-1', executions: [], agents: [] });
    const mains = (await h.call('GET', '/v1/runs/gh-555-1', undefined, bearer(ci.token))).json();
    expect(mains).toMatchObject({ status: 'open', executions: [{ executionId: 'exMain' }] });
    expect(mains.agents.map((a: { name: string }) => a.name)).toEqual(['main-agent']);
  });

  it('writes that name no branch are visible to the same token only (a pull request cannot plant for laptops)', async () => {
    await start();
    const ci = await createToken({ scope: 'read-write' });
    const pr = await createToken({ scope: 'read-write', branchScoped: true });
    const laptop = await createToken({ scope: 'read-only' });
    expect((await put(ci.token, 'k17', honest, 'main')).statusCode).toBe(200);
    expect((await put(pr.token, 'k17', poisoned)).statusCode).toBe(200);
    expect((await get(laptop.token, 'k17')).body.equals(honest)).toBe(true);
    expect((await get(ci.token, 'k17')).body.equals(honest)).toBe(true);
    expect((await get(pr.token, 'k17')).body.equals(poisoned)).toBe(true);
    // nor plan-time hits: a branch-less run of the pull request's token records one, another token's run does not see it
    const plan = { command: 'nx run-many', tasks: [planTask('a:build', [], 'planH1')] };
    await h.call('POST', '/v1/runs', { runId: 'r-pr', agents: 1 }, bearer(pr.token));
    await h.call('POST', '/v1/runs/r-pr/agents', { agentName: 'a1', parallel: 1 }, bearer(pr.token));
    await h.call('POST', '/v1/runs/r-pr/executions', { executionId: 'e-pr', ...plan }, bearer(pr.token));
    const leased = (await h.call('POST', '/v1/runs/r-pr/lease', { agentName: 'a1', waitMs: 0 }, bearer(pr.token))).json();
    await h.call('POST', `/v1/leases/${leased.task.leaseId}/complete`, { agentName: 'a1', hash: 'planH1', exitCode: 0, durationMs: 5 }, bearer(pr.token));
    await h.call('POST', '/v1/runs', { runId: 'r-ci' }, bearer(ci.token));
    const planned = (await h.call('POST', '/v1/runs/r-ci/executions', { executionId: 'e-ci', ...plan }, bearer(ci.token))).json();
    expect(planned.tasks[0].status).toBe('ready');
  });

  it('a branch-scoped admin only creates branch-scoped tokens', async () => {
    await start();
    const admin = await createToken({ scope: 'admin', workspace: 'wsc', branchScoped: true });
    const made = await createToken({ scope: 'read-write' }, admin.token);
    expect(made.view).toMatchObject({ workspace: 'wsc', branchScoped: true });
    const refused = await h.call('POST', '/v1/tokens', { scope: 'read-write', branchScoped: false }, bearer(admin.token));
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toContain('the tokens it creates are branch-scoped too');
  });
});

describe('branch-scoped writes', () => {
  it('a pull request’s write is visible to that pull request only; main never restores it', async () => {
    await start();
    const ci = await createToken({ scope: 'read-write' });
    expect((await put(ci.token, 'h-main-will-compute', poisoned, 'pull/7')).statusCode).toBe(200);
    expect((await get(ci.token, 'h-main-will-compute', 'pull/7')).body.equals(poisoned)).toBe(true);
    expect((await get(ci.token, 'h-main-will-compute', 'main')).statusCode).toBe(404);
    expect((await get(ci.token, 'h-main-will-compute', 'pull/8')).statusCode).toBe(404);
    expect((await get(ci.token, 'h-main-will-compute')).statusCode).toBe(404);
    // main builds it for itself: stored in the shared namespace, not refused as a duplicate
    expect((await put(ci.token, 'h-main-will-compute', honest, 'main')).statusCode).toBe(200);
    expect((await get(ci.token, 'h-main-will-compute', 'main')).body.equals(honest)).toBe(true);
    // the pull request still sees its own first, other branches the shared one
    expect((await get(ci.token, 'h-main-will-compute', 'pull/7')).body.equals(poisoned)).toBe(true);
    expect((await get(ci.token, 'h-main-will-compute', 'pull/8')).body.equals(honest)).toBe(true);
  });

  it('trusted branches are configurable (patterns); a write that names no branch is not trusted', async () => {
    await start({ trustedBranches: ['trunk', 'release/*'] });
    expect((await put(TEST_TOKEN, 'h1', honest, 'release/1.2')).statusCode).toBe(200);
    expect((await get(TEST_TOKEN, 'h1', 'trunk')).statusCode).toBe(200);
    expect((await put(TEST_TOKEN, 'h2', poisoned, 'main')).statusCode).toBe(200); // main is not trusted here
    expect((await get(TEST_TOKEN, 'h2', 'trunk')).statusCode).toBe(404);
    expect((await put(TEST_TOKEN, 'h3', poisoned)).statusCode).toBe(200);
    expect((await get(TEST_TOKEN, 'h3', 'trunk')).statusCode).toBe(404);
    expect((await get(TEST_TOKEN, 'h3')).statusCode).toBe(200);
  });

  it('a percent-encoded branch header names the branch it encodes', async () => {
    await start();
    expect((await put(TEST_TOKEN, 'h-u', honest, encodeURIComponent('feature/ü'))).statusCode).toBe(200);
    // the same name sent as a Latin-1 header: the same namespace
    expect((await get(TEST_TOKEN, 'h-u', 'feature/ü')).body.equals(honest)).toBe(true);
    expect((await get(TEST_TOKEN, 'h-u', 'feature/u')).statusCode).toBe(404);
  });

  it('a branch-scoped token never writes to the shared namespace, even when it says main', async () => {
    await start();
    const pr = await createToken({ scope: 'read-write', branchScoped: true, label: 'pull requests' });
    expect((await put(pr.token, 'h1', poisoned, 'main')).statusCode).toBe(200);
    expect((await get(TEST_TOKEN, 'h1', 'main')).statusCode).toBe(404);
    expect((await get(pr.token, 'h1', 'main')).body.equals(poisoned)).toBe(true);
  });

  it("a run's plan-time cache hits come from its own namespaces only", async () => {
    await start();
    const plan = { command: 'nx run-many', tasks: [planTask('a:build', [], 'h-shared-a')] };
    // a pull request's run records a success for h-shared-a
    expect((await h.call('POST', '/v1/runs', { runId: 'pr-run', branch: 'pull/9', agents: 1 })).statusCode).toBe(200);
    await h.call('POST', '/v1/runs/pr-run/agents', { agentName: 'a1', parallel: 1 });
    expect((await h.call('POST', '/v1/runs/pr-run/executions', { executionId: 'e-pr', ...plan })).statusCode).toBe(200);
    const leased = (await h.call('POST', '/v1/runs/pr-run/lease', { agentName: 'a1', waitMs: 0 })).json();
    await h.call('POST', `/v1/leases/${leased.task.leaseId}/complete`, { agentName: 'a1', hash: 'h-shared-a', exitCode: 0, durationMs: 5 });
    // the same pull request's next run gets the hit at plan time; main's run does not
    await h.call('POST', '/v1/runs', { runId: 'pr-run-2', branch: 'pull/9' });
    const again = (await h.call('POST', '/v1/runs/pr-run-2/executions', { executionId: 'e-pr-2', ...plan })).json();
    expect(again.tasks[0].status).toBe('succeeded');
    await h.call('POST', '/v1/runs', { runId: 'main-run', branch: 'main' });
    const onMain = (await h.call('POST', '/v1/runs/main-run/executions', { executionId: 'e-main', ...plan })).json();
    expect(onMain.tasks[0].status).toBe('ready');
  });
});

describe('limits', () => {
  it('more requests per minute than the limit from one token are 429 rate_limited with retry-after; other tokens go on', async () => {
    await start({ rateLimitPerMinute: 5 });
    const other = await createToken({ scope: 'read-only' }); // the server token's first request of the minute
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.call('GET', '/v1/runs/none')).statusCode);
    const limited = await h.call('GET', '/v1/runs/none');
    expect(statuses.every((s) => s === 404)).toBe(true);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toEqual(expect.any(String));
    expect(limited.json()).toEqual({ code: 'rate_limited', message: expect.stringContaining('more than 5 requests in a minute') });
    expect((await h.call('GET', '/v1/runs/none', undefined, bearer(other.token))).statusCode).toBe(404);
    expect((await h.raw({ method: 'GET', path: '/healthz' })).statusCode).toBe(200);
  });

  it('long-polls held open by one token are bounded', async () => {
    await start({ maxLongPollsPerToken: 2 });
    await h.call('POST', '/v1/runs', { runId: 'r1', agents: 3 });
    const held = [0, 1].map((i) => h.call('POST', '/v1/runs/r1/lease', { agentName: `a${i}`, waitMs: 1500 }));
    // both are in flight once the coordinator has seen the agents
    for (let i = 0; i < 100; i++) {
      const agents = (await h.call('GET', '/v1/runs/r1')).json().agents as unknown[];
      if (agents.length >= 2) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const third = await h.call('POST', '/v1/runs/r1/lease', { agentName: 'a2', waitMs: 1500 });
    expect(third.statusCode).toBe(429);
    expect(third.json().message).toContain('already holds 2 long-polls open');
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
    // once they are answered, the token may poll again
    expect((await h.call('POST', '/v1/runs/r1/lease', { agentName: 'a2', waitMs: 0 })).statusCode).toBe(200);
  });
});
