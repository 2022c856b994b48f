import { createHarness, TEST_TOKEN, type Harness } from './testing/harness';

describe('auth, validation and errors', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('GET /healthz needs no token', async () => {
    const res = await h.raw({ method: 'GET', path: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, protocolVersion: 1, version: expect.any(String) });
  });

  it('no token and a wrong token are 401 with code unauthorized', async () => {
    const none = await h.raw({ method: 'GET', path: '/v1/runs/r1' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ code: 'unauthorized', message: expect.stringMatching(/Authorization/) });
    const wrong = await h.raw({ method: 'GET', path: '/v1/runs/r1', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('unauthorized');
    const scheme = await h.raw({ method: 'GET', path: '/v1/runs/r1', headers: { authorization: TEST_TOKEN } });
    expect(scheme.statusCode).toBe(401);
  });

  it('malformed JSON is 400 bad_request', async () => {
    const res = await h.call('POST', '/v1/runs', '{"runId": ', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code: 'bad_request', message: expect.stringMatching(/JSON/) });
  });

  it('wrong types, unknown fields and missing fields name the field', async () => {
    const wrongType = await h.call('POST', '/v1/runs', { runId: 'r1', agents: '3' });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json()).toEqual({ code: 'bad_request', message: expect.stringContaining('body.agents') });
    const unknown = await h.call('POST', '/v1/runs', { runId: 'r1', extra: true });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toContain('body.extra');
    const missing = await h.call('POST', '/v1/runs', {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toContain('body.runId');
  });

  it('bad ids in params and queries are 400', async () => {
    const badRun = await h.call('GET', '/v1/runs/' + encodeURIComponent('bad id!'));
    expect(badRun.statusCode).toBe(400);
    expect(badRun.json().message).toContain('params.runId');
    const badQuery = await h.call('GET', '/v1/executions/e1?since=abc');
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().message).toContain('querystring.since');
    const unknownQuery = await h.call('GET', '/v1/executions/e1?foo=1');
    expect(unknownQuery.statusCode).toBe(400);
  });

  it('unknown routes are 404 not_found', async () => {
    const res = await h.call('GET', '/v1/nothing');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'not_found', message: 'no route GET /v1/nothing' });
  });

  it('unknown run, execution and lease are 404', async () => {
    expect((await h.call('GET', '/v1/runs/nope')).statusCode).toBe(404);
    expect((await h.call('POST', '/v1/runs/nope/agents', { agentName: 'a1', parallel: 1 })).json().code).toBe('not_found');
    expect((await h.call('GET', '/v1/executions/nope')).statusCode).toBe(404);
    const lease = await h.call('POST', '/v1/leases/nope/complete', { agentName: 'a', hash: null, exitCode: 0, durationMs: 1 });
    expect(lease.statusCode).toBe(404);
  });

  it('POST /v1/runs is idempotent', async () => {
    const first = await h.call('POST', '/v1/runs', { runId: 'r1', agents: 2 });
    expect(first.statusCode).toBe(200);
    h.clock.advance(1000);
    const second = await h.call('POST', '/v1/runs', { runId: 'r1', agents: 5 });
    expect(second.json()).toEqual(first.json());
    expect(second.json()).toMatchObject({ runId: 'r1', status: 'open', expectedAgents: 2 });
  });

  it('a plan with a cycle is 400 naming the tasks', async () => {
    await h.call('POST', '/v1/runs', { runId: 'r1' });
    const res = await h.call('POST', '/v1/runs/r1/executions', {
      executionId: 'e1',
      command: 'nx affected',
      tasks: [
        { id: 'a:build', project: 'a', target: 'build', hash: 'h1', deps: ['b:build'] },
        { id: 'b:build', project: 'b', target: 'build', hash: 'h2', deps: ['a:build'] },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code: 'bad_request', message: expect.stringMatching(/cycle.*a:build.*b:build/) });
  });
});
