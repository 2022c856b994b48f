import { createHarness, planTask, type Harness } from './testing/harness';

type Call = Harness['call'];

async function setup(call: Call, tasks: ReturnType<typeof planTask>[], executionId = 'e1'): Promise<any> {
  expect((await call('POST', '/v1/runs', { runId: 'r1', agents: 1 })).statusCode).toBe(200);
  expect((await call('POST', '/v1/runs/r1/agents', { agentName: 'agent-1', parallel: 1 })).statusCode).toBe(200);
  const res = await call('POST', '/v1/runs/r1/executions', { executionId, command: 'nx run-many -t build', tasks });
  expect(res.statusCode).toBe(200);
  return res.json();
}

const lease = (call: Call, waitMs = 0, agentName = 'agent-1'): Promise<any> =>
  call('POST', '/v1/runs/r1/lease', { agentName, waitMs }).then((r) => r.json());

const complete = (call: Call, leaseId: string, exitCode = 0, agentName = 'agent-1'): Promise<any> =>
  call('POST', `/v1/leases/${leaseId}/complete`, { agentName, hash: null, exitCode, durationMs: 1234 }).then((r) =>
    r.json(),
  );

const statuses = (view: any): Record<string, string> =>
  Object.fromEntries(view.tasks.map((t: any) => [t.id, t.status]));

describe('scheduling', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('runs a chain a <- b <- c in order, waking long-polls', async () => {
    h = await createHarness();
    const plan = [planTask('a:build'), planTask('b:build', ['a:build']), planTask('c:build', ['b:build'])];
    const view = await setup(h.call, plan);
    expect(statuses(view)).toEqual({ 'a:build': 'ready', 'b:build': 'pending', 'c:build': 'pending' });

    const first = await lease(h.call);
    expect(first).toMatchObject({ action: 'run', task: { taskId: 'a:build', executionId: 'e1', attempt: 1, leaseMs: 10000 } });

    // Nothing else is ready: a second agent's long-poll waits until a's completion readies b.
    const waiting = lease(h.call, 5000, 'agent-2');
    const version = (await h.call('GET', '/v1/executions/e1')).json().version;
    const watch = h.call('GET', `/v1/executions/e1?since=${version}&waitMs=5000`);
    await new Promise((r) => setTimeout(r, 100));
    expect(await complete(h.call, first.task.leaseId)).toEqual({ accepted: true, taskStatus: 'succeeded' });
    const second = await waiting;
    expect(second).toMatchObject({ action: 'run', task: { taskId: 'b:build' } });
    const watched = (await watch).json();
    expect(watched.version).toBeGreaterThan(version);

    expect(await complete(h.call, second.task.leaseId, 0, 'agent-2')).toMatchObject({ accepted: true });
    const third = await lease(h.call);
    expect(third.task.taskId).toBe('c:build');
    await complete(h.call, third.task.leaseId);

    const done = (await h.call('GET', '/v1/executions/e1')).json();
    expect(done.status).toBe('succeeded');
    expect(done.tasks[0]).toMatchObject({ id: 'a:build', status: 'succeeded', agent: 'agent-1', exitCode: 0, durationMs: 1234 });
    expect(await lease(h.call)).toEqual({ action: 'wait', retryInMs: expect.any(Number) });

    const run = (await h.call('POST', '/v1/runs/r1/complete', {})).json();
    expect(run).toMatchObject({ status: 'completed', failedTasks: [] });
    expect(await lease(h.call)).toEqual({ action: 'exit', reason: expect.stringContaining('completed') });
  });

  it('a completion with leaseNext answers the next lease in the same round trip: the dependant it readied, wait, then exit', async () => {
    h = await createHarness();
    await setup(h.call, [planTask('a:build'), planTask('b:build', ['a:build'])]);
    const first = await lease(h.call);
    const withNext = (leaseId: string): Promise<any> =>
      h
        .call('POST', `/v1/leases/${leaseId}/complete`, { agentName: 'agent-1', hash: null, exitCode: 0, durationMs: 5, leaseNext: true })
        .then((r) => r.json());
    const one = await withNext(first.task.leaseId);
    expect(one).toMatchObject({ accepted: true, taskStatus: 'succeeded', next: { action: 'run', task: { taskId: 'b:build', attempt: 1 } } });
    // the lease it answered is a real one: its task is leased to this agent, and completing it works
    expect(statuses((await h.call('GET', '/v1/executions/e1')).json())).toEqual({ 'a:build': 'succeeded', 'b:build': 'leased' });
    const two = await withNext(one.next.task.leaseId);
    // nothing left to run but the run is open: wait, at once (a completion is never held as a long-poll)
    expect(two).toEqual({ accepted: true, taskStatus: 'succeeded', next: { action: 'wait', retryInMs: expect.any(Number) } });
    // the run ends: the next completion's answer tells the agent to exit
    await h.call('POST', '/v1/runs/r1/complete', {});
    expect((await lease(h.call)).action).toBe('exit');
    // without leaseNext the answer is as before
    expect(await complete(h.call, first.task.leaseId)).toEqual({ accepted: true, taskStatus: 'succeeded' });
  });

  it('a completion with leaseNext repeated after a lost answer has no second effect: no second lease', async () => {
    h = await createHarness();
    await setup(h.call, [planTask('a:build'), planTask('b:build'), planTask('c:build')]);
    const first = await lease(h.call);
    const body = { agentName: 'agent-1', hash: null, exitCode: 0, durationMs: 5, leaseNext: true };
    const one = (await h.call('POST', `/v1/leases/${first.task.leaseId}/complete`, body)).json();
    expect(one.next).toMatchObject({ action: 'run' });
    // the answer was lost and the client sends the same completion again
    const again = (await h.call('POST', `/v1/leases/${first.task.leaseId}/complete`, body)).json();
    expect(again).toEqual({ accepted: true, taskStatus: 'succeeded', next: { action: 'wait', retryInMs: 0 } });
    const view = statuses((await h.call('GET', '/v1/executions/e1')).json());
    expect(Object.values(view).sort()).toEqual(['leased', 'ready', 'succeeded']);
  });

  it('a dependant becomes ready only once all its deps succeeded (diamond, and a dep that is itself a dependant)', async () => {
    h = await createHarness();
    const plan = [
      planTask('a:build'),
      planTask('b:build', ['a:build']),
      planTask('c:build', ['a:build']),
      planTask('d:build', ['b:build', 'c:build']),
      planTask('e:build', ['a:build', 'b:build']),
    ];
    await setup(h.call, plan);
    const finish = async (taskId: string): Promise<Record<string, string>> => {
      for (let i = 0; i < 5; i++) {
        const got = await lease(h.call);
        if (got.action !== 'run') break;
        if (got.task.taskId === taskId) {
          await complete(h.call, got.task.leaseId);
          return statuses((await h.call('GET', '/v1/executions/e1')).json());
        }
        await h.call('POST', `/v1/leases/${got.task.leaseId}/release`, { agentName: 'agent-1', reason: 'not this one' });
      }
      throw new Error(`${taskId} was never leased`);
    };
    expect(await finish('a:build')).toMatchObject({ 'b:build': 'ready', 'c:build': 'ready', 'd:build': 'pending', 'e:build': 'pending' });
    expect(await finish('b:build')).toMatchObject({ 'c:build': 'ready', 'd:build': 'pending', 'e:build': 'ready' });
    expect(await finish('c:build')).toMatchObject({ 'd:build': 'ready', 'e:build': 'ready' });
  });

  it('picks the highest b-level first', async () => {
    h = await createHarness();
    const plan = [planTask('short:build'), planTask('long:build'), planTask('tail:build', ['long:build'])];
    await setup(h.call, plan);
    expect((await lease(h.call)).task.taskId).toBe('long:build');
    expect((await lease(h.call)).task.taskId).toBe('short:build');
  });

  it('a failure skips dependants transitively and fails the execution and run', async () => {
    h = await createHarness();
    const plan = [planTask('a:build'), planTask('b:build', ['a:build']), planTask('c:build', ['b:build']), planTask('d:lint')];
    await setup(h.call, plan);
    const a = await lease(h.call);
    expect(a.task.taskId).toBe('a:build');
    expect(await complete(h.call, a.task.leaseId, 1)).toEqual({ accepted: true, taskStatus: 'failed' });
    const view = (await h.call('GET', '/v1/executions/e1')).json();
    expect(statuses(view)).toEqual({ 'a:build': 'failed', 'b:build': 'skipped', 'c:build': 'skipped', 'd:lint': 'ready' });
    expect(view.tasks[1].message).toContain('a:build failed');
    const d = await lease(h.call);
    await complete(h.call, d.task.leaseId);
    expect((await h.call('GET', '/v1/executions/e1')).json().status).toBe('failed');
    const run = (await h.call('POST', '/v1/runs/r1/complete', {})).json();
    expect(run).toMatchObject({ status: 'failed', failedTasks: ['a:build'] });
  });

  it('an expired lease re-queues; its stale completion is not accepted; 3 losses fail the task', async () => {
    h = await createHarness({ leaseMs: 10_000 });
    await setup(h.call, [planTask('a:build'), planTask('b:build', ['a:build'])]);
    const first = await lease(h.call);
    h.clock.advance(9_999);
    expect(await lease(h.call, 0, 'agent-2')).toMatchObject({ action: 'wait' });
    h.clock.advance(1);
    const second = await lease(h.call, 0, 'agent-2');
    expect(second).toMatchObject({ action: 'run', task: { taskId: 'a:build', attempt: 2 } });
    expect(await complete(h.call, first.task.leaseId)).toEqual({ accepted: false, taskStatus: 'leased' });
    const stale = await h.call('POST', `/v1/leases/${first.task.leaseId}/heartbeat`, { agentName: 'agent-1' });
    expect(stale.statusCode).toBe(404);
    const heartbeat = await h.call('POST', `/v1/leases/${second.task.leaseId}/heartbeat`, { agentName: 'agent-1' });
    expect(heartbeat.statusCode).toBe(409);
    expect(heartbeat.json().code).toBe('not_owner');
    // agent-2 heartbeats: the lease is extended past the old expiry.
    h.clock.advance(9_000);
    expect((await h.call('POST', `/v1/leases/${second.task.leaseId}/heartbeat`, { agentName: 'agent-2' })).statusCode).toBe(204);
    h.clock.advance(9_000);
    expect(await lease(h.call)).toMatchObject({ action: 'wait' });
    h.clock.advance(1_000);
    const third = await lease(h.call);
    expect(third.task.attempt).toBe(3);
    h.clock.advance(10_000);
    const view = (await h.call('GET', '/v1/executions/e1')).json();
    // attempts counts those before the last one: main says "after 3 attempts"
    expect(view.tasks[0]).toMatchObject({
      status: 'failed',
      attempts: 2,
      message: 'agent lost 3 times (lease expired on agent-1, then agent-2, then agent-1; retry limit 2)',
    });
    expect(view.tasks[1]).toMatchObject({ status: 'skipped' });
    expect(view.status).toBe('failed');
    expect(await complete(h.call, third.task.leaseId)).toEqual({ accepted: false, taskStatus: 'failed' });
  });

  it('creating an execution is idempotent and cache hits succeed at plan time', async () => {
    h = await createHarness();
    await setup(h.call, [planTask('a:build')]);
    const a = await lease(h.call);
    await complete(h.call, a.task.leaseId);
    const again = await h.call('POST', '/v1/runs/r1/executions', { executionId: 'e1', command: 'other', tasks: [] });
    expect(again.json()).toMatchObject({ executionId: 'e1', command: 'nx run-many -t build', tasks: [{ status: 'succeeded' }] });
    const second = await h.call('POST', '/v1/runs/r1/executions', {
      executionId: 'e2',
      command: 'nx run-many -t test',
      tasks: [planTask('a:build'), planTask('a:test', ['a:build'])],
    });
    expect(statuses(second.json())).toEqual({ 'a:build': 'succeeded', 'a:test': 'ready' });
  });

  it('deferred hashes: main reports one, an agent reports one', async () => {
    h = await createHarness();
    await setup(h.call, [planTask('a:build', [], null), planTask('b:build', [], null)]);
    expect((await h.call('POST', '/v1/executions/e1/hashes', { taskId: 'a:build', hash: 'abc' })).statusCode).toBe(204);
    expect((await h.call('POST', '/v1/executions/e1/hashes', { taskId: 'zz:build', hash: 'abc' })).statusCode).toBe(404);
    const first = await lease(h.call);
    const second = await lease(h.call);
    const b = first.task.taskId === 'b:build' ? first : second;
    await h.call('POST', `/v1/leases/${b.task.leaseId}/complete`, { agentName: 'agent-1', hash: 'def', exitCode: 0, durationMs: 5 });
    const view = (await h.call('GET', '/v1/executions/e1')).json();
    expect(view.tasks.map((t: any) => t.hash)).toEqual(['abc', 'def']);
    expect(view.agentsConnected).toBe(1);
  });

  it('finish cancels what is unfinished; completing the run wakes waiting agents with exit', async () => {
    h = await createHarness();
    await setup(h.call, [planTask('a:build'), planTask('b:build', ['a:build'])]);
    await lease(h.call);
    expect((await h.call('POST', '/v1/executions/e1/heartbeat')).statusCode).toBe(204);
    const finished = (await h.call('POST', '/v1/executions/e1/finish', { status: 'cancelled' })).json();
    expect(finished.status).toBe('cancelled');
    expect(statuses(finished)).toEqual({ 'a:build': 'cancelled', 'b:build': 'cancelled' });
    const waiting = lease(h.call, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    expect((await h.call('POST', '/v1/runs/r1/complete', { reason: 'done' })).json().status).toBe('completed');
    expect(await waiting).toMatchObject({ action: 'exit' });
    expect(Date.now() - started).toBeLessThan(2000);
    const run = (await h.call('GET', '/v1/runs/r1')).json();
    expect(run.agents[0]).toMatchObject({ name: 'agent-1', exited: true });
    expect((await h.call('POST', '/v1/runs/r1/executions', { executionId: 'e9', command: 'x', tasks: [] })).json().code).toBe(
      'run_closed',
    );
  });

  // how fast is a benchmark's business (tools/bench), not a timed test's: this checks that it works
  it('accepts a 10,000-task plan with every task and the ready set right', async () => {
    h = await createHarness();
    await h.call('POST', '/v1/runs', { runId: 'r1' });
    const tasks = Array.from({ length: 10_000 }, (_, i) =>
      planTask(`p${i}:build`, i === 0 ? [] : [`p${Math.floor(i / 2)}:build`].filter((d) => d !== `p${i}:build`)),
    );
    const res = await h.call('POST', '/v1/runs/r1/executions', { executionId: 'big', command: 'nx affected', tasks });
    expect(res.statusCode).toBe(200);
    const view = res.json() as { tasks: Array<{ id: string; status: string }> };
    expect(view.tasks).toHaveLength(10_000);
    expect(view.tasks.filter((t) => t.status === 'ready').map((t) => t.id)).toEqual(['p0:build']);
  });
});
