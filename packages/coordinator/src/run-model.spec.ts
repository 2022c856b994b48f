/**
 * The run model on a fake clock: lease retries, late results, main lost, time-outs,
 * flaky retries and stop-agents-after. Time moves only through h.clock; the sweeper's
 * timer only through h.ticker.tick().
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createHarness, planTask, type Harness, type HarnessOptions } from './testing/harness';

type Call = Harness['call'];

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function start(
  options: HarnessOptions = {},
  run: Record<string, unknown> = {},
  tasks = [planTask('a:build'), planTask('b:build', ['a:build'])],
  agents = ['agent-1'],
): Promise<Harness> {
  h = await createHarness(options);
  const created = await h.call('POST', '/v1/runs', { runId: 'r1', agents: agents.length, ...run });
  expect(created.statusCode).toBe(200);
  for (const agentName of agents) {
    expect((await h.call('POST', '/v1/runs/r1/agents', { agentName, parallel: 1 })).statusCode).toBe(200);
  }
  if (tasks.length > 0) await execution(h.call, 'e1', tasks);
  return h;
}

async function execution(call: Call, executionId: string, tasks: ReturnType<typeof planTask>[]): Promise<any> {
  const res = await call('POST', '/v1/runs/r1/executions', { executionId, command: 'nx run-many', tasks });
  expect(res.statusCode).toBe(200);
  return res.json();
}

const lease = (agentName = 'agent-1', waitMs = 0): Promise<any> =>
  h.call('POST', '/v1/runs/r1/lease', { agentName, waitMs }).then((r) => r.json());

const complete = (leaseId: string, agentName: string, exitCode: number, extra: Record<string, unknown> = {}): Promise<any> =>
  h
    .call('POST', `/v1/leases/${leaseId}/complete`, { agentName, hash: null, exitCode, durationMs: 100, ...extra })
    .then((r) => r.json());

/** For tests about main: their joined agent never polls, and "no agent left" is not what they test. */
const QUIET_AGENTS_OK = { noAgentMs: 24 * 3_600_000 };

const view = (executionId = 'e1'): Promise<any> => h.call('GET', `/v1/executions/${executionId}`).then((r) => r.json());
const run = (): Promise<any> => h.call('GET', '/v1/runs/r1').then((r) => r.json());
const task = async (id: string, executionId = 'e1'): Promise<any> => (await view(executionId)).tasks.find((t: any) => t.id === id);
const heartbeatMain = (executionId = 'e1'): Promise<number> =>
  h.call('POST', `/v1/executions/${executionId}/heartbeat`).then((r) => r.statusCode);

function leaseRow(leaseId: string): any {
  const db = new Database(join(h.dir, 'state.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT * FROM leases WHERE lease_id = ?').get(leaseId);
  } finally {
    db.close();
  }
}

describe('lease retries', () => {
  it('leaseRetries 1: put back once, the second loss fails the task, saying why', async () => {
    await start({ leaseRetries: 1, leaseMs: 10_000 }, {}, [planTask('a:build'), planTask('b:build', ['a:build'])], ['agent-1', 'agent-2']);
    const first = await lease('agent-1');
    h.clock.advance(10_000);
    const second = await lease('agent-2');
    expect(second).toMatchObject({ action: 'run', task: { taskId: 'a:build', attempt: 2 } });
    h.clock.advance(9_999);
    await h.ticker.tick();
    expect(await task('a:build')).toMatchObject({ status: 'leased', agent: 'agent-2' });
    h.clock.advance(1);
    await h.ticker.tick();
    expect(await task('a:build')).toMatchObject({
      status: 'failed',
      attempts: 1,
      message: 'agent lost twice (lease expired on agent-1, then agent-2; retry limit 1)',
    });
    expect(await task('b:build')).toMatchObject({ status: 'skipped' });
    expect(leaseRow(first.task.leaseId)).toMatchObject({ outcome: 'lost', agent: 'agent-1' });
    expect(leaseRow(second.task.leaseId)).toMatchObject({ outcome: 'lost', agent: 'agent-2' });
  });
  it('a lease granted since the run was last read is still taken back on time by the next request (no sweeper pass)', async () => {
    // the lease path skips re-reading a run until something can be due; granting a lease
    // must bring that instant forward to the lease's own expiry
    await start({ leaseRetries: 1, leaseMs: 400 }, {}, [planTask('a:build')], ['agent-1', 'agent-2']);
    expect(await lease('agent-1')).toMatchObject({ action: 'run', task: { taskId: 'a:build', attempt: 1 } });
    h.clock.advance(399);
    expect(await lease('agent-2')).toMatchObject({ action: 'wait' });
    h.clock.advance(1);
    expect(await lease('agent-2')).toMatchObject({ action: 'run', task: { taskId: 'a:build', attempt: 2 } });
  });
});

describe('a completion repeated after a lost answer', () => {
  it('gets the first answer again and has no second effect', async () => {
    await start();
    const leased = await lease();
    const first = await complete(leased.task.leaseId, 'agent-1', 0);
    expect(first).toEqual({ accepted: true, taskStatus: 'succeeded' });
    const b = await lease();
    expect(b.task.taskId).toBe('b:build');
    const again = await complete(leased.task.leaseId, 'agent-1', 0);
    expect(again).toEqual({ accepted: true, taskStatus: 'succeeded' });
    expect(leaseRow(leased.task.leaseId)).toMatchObject({ outcome: 'succeeded', late_result_at: null });
    expect((await run()).agents[0].tasksRun).toBe(1);
    // b was leased once and is still leased: the repeat readied nothing twice
    expect(await task('b:build')).toMatchObject({ status: 'leased', attempts: 0 });
  });
});

describe('late results', () => {
  it('a result after the task was re-queued is recorded as late and changes nothing', async () => {
    await start({ leaseMs: 10_000 }, {}, [planTask('a:build', [], null)]);
    const first = await lease();
    h.clock.advance(10_000);
    await h.ticker.tick();
    expect(await task('a:build')).toMatchObject({ status: 'ready', hash: null });
    const late = await complete(first.task.leaseId, 'agent-1', 0, { hash: 'latehash' });
    expect(late).toEqual({ accepted: false, taskStatus: 'ready' });
    expect(await task('a:build')).toMatchObject({ status: 'ready', hash: null, exitCode: null });
    expect(leaseRow(first.task.leaseId)).toMatchObject({
      outcome: 'lost',
      late_result_at: h.clock.now(),
      late_exit_code: 0,
      late_hash: 'latehash',
    });
    // never a cache hit either: a later plan with that hash still has to run
    const again = await execution(h.call, 'e2', [planTask('a:build', [], 'latehash')]);
    expect(again.tasks[0].status).toBe('ready');
  });

  it('a result after the task was re-leased never overwrites the new attempt', async () => {
    await start({ leaseMs: 10_000 }, {}, [planTask('a:build')], ['agent-1', 'agent-2']);
    const first = await lease('agent-1');
    h.clock.advance(10_000);
    const second = await lease('agent-2');
    expect(second.task.taskId).toBe('a:build');
    h.clock.advance(500);
    expect(await complete(first.task.leaseId, 'agent-1', 1, { log: 'oldlog' })).toEqual({ accepted: false, taskStatus: 'leased' });
    expect(await task('a:build')).toMatchObject({ status: 'leased', agent: 'agent-2', exitCode: null, log: null });
    expect(await complete(second.task.leaseId, 'agent-2', 0, { hash: 'newhash' })).toEqual({ accepted: true, taskStatus: 'succeeded' });
    expect(await task('a:build')).toMatchObject({ status: 'succeeded', agent: 'agent-2', exitCode: 0, hash: 'newhash' });
    // a second late report keeps the first one's record
    h.clock.advance(500);
    expect(await complete(first.task.leaseId, 'agent-1', 0)).toMatchObject({ accepted: false, taskStatus: 'succeeded' });
    expect(leaseRow(first.task.leaseId)).toMatchObject({ late_exit_code: 1, late_result_at: h.clock.now() - 500 });
    expect(leaseRow(second.task.leaseId)).toMatchObject({ outcome: 'succeeded', exit_code: 0, late_result_at: null });
  });
});

describe('main job lost', () => {
  it('fails the run after 30 s without main, cancels its tasks and sends agents away with the reason', async () => {
    await start({ leaseMs: 120_000 });
    const running = await lease();
    h.clock.advance(20_000);
    expect(await heartbeatMain()).toBe(204);
    h.clock.advance(29_999);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(1);
    await h.ticker.tick();
    const ended = await run();
    expect(ended).toMatchObject({ status: 'failed', reason: 'main job silent for 30 s' });
    const tasks = (await view()).tasks;
    expect(tasks.map((t: any) => [t.id, t.status, t.message])).toEqual([
      ['a:build', 'cancelled', 'not finished: main job silent for 30 s'],
      ['b:build', 'cancelled', 'not finished: main job silent for 30 s'],
    ]);
    expect((await view()).status).toBe('failed');
    expect(await lease()).toEqual({ action: 'exit', reason: 'run r1 failed: main job silent for 30 s' });
    expect(leaseRow(running.task.leaseId)).toMatchObject({ outcome: 'cancelled' });
    expect(await complete(running.task.leaseId, 'agent-1', 0)).toEqual({ accepted: false, taskStatus: 'cancelled' });
    // stop-all-agents afterwards still succeeds and reports the failure
    const completed = await h.call('POST', '/v1/runs/r1/complete', {});
    expect(completed.statusCode).toBe(200);
    expect(completed.json()).toMatchObject({ status: 'failed', reason: 'main job silent for 30 s' });
  });

  it('a watch and a hash report count as main\'s contact', async () => {
    await start(QUIET_AGENTS_OK, {}, [planTask('a:build', [], null)]);
    h.clock.advance(29_000);
    expect((await h.call('GET', '/v1/executions/e1?since=-1&waitMs=0')).statusCode).toBe(200);
    h.clock.advance(29_000);
    expect((await h.call('POST', '/v1/executions/e1/hashes', { taskId: 'a:build', hash: 'abc' })).statusCode).toBe(204);
    h.clock.advance(29_999);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(1);
    await h.ticker.tick();
    expect((await run()).status).toBe('failed');
  });

  it('a run that never had an execution is not affected; one whose executions ended is not either', async () => {
    await start({}, {}, []);
    h.clock.advance(3_600_000);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    await execution(h.call, 'e1', [planTask('a:build')]);
    expect((await h.call('POST', '/v1/executions/e1/finish', { status: 'succeeded' })).statusCode).toBe(200);
    h.clock.advance(600_000);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
  });

  it('honours the run\'s own mainTimeoutMs, with the request\'s lease as trigger when no sweeper ran', async () => {
    await start(QUIET_AGENTS_OK, { mainTimeoutMs: 120_000 });
    expect(await run()).toMatchObject({ mainTimeoutMs: 120_000, runTimeoutMs: 3 * 3600_000, taskTimeoutMs: 3600_000 });
    h.clock.advance(119_999);
    expect(await lease()).toMatchObject({ action: 'run' });
    h.clock.advance(1);
    expect(await lease()).toEqual({ action: 'exit', reason: 'run r1 failed: main job silent for 2 min' });
  });

  it('a coordinator restart is not main\'s silence: it counts from the restart', async () => {
    await start({ leaseMs: 3_600_000 });
    h.clock.advance(10_000);
    h = await h.restart(600_000);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(29_999);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(1);
    await h.ticker.tick();
    expect(await run()).toMatchObject({ status: 'failed', reason: 'main job silent for 30 s' });
  });

  it('the server default applies to runs that set none', async () => {
    await start({ mainSilenceMs: 60_000, ...QUIET_AGENTS_OK });
    expect((await run()).mainTimeoutMs).toBe(60_000);
    h.clock.advance(59_999);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(1);
    await h.ticker.tick();
    expect(await run()).toMatchObject({ status: 'failed', reason: 'main job silent for 1 min' });
  });
});

describe('no agent left (FC-01)', () => {
  it('a task whose only agent died is re-queued, and the run fails 30 s after the agent was last heard from', async () => {
    await start({ leaseMs: 10_000, mainSilenceMs: 24 * 3_600_000 }, {}, [planTask('a:test')]);
    const leased = await lease();
    expect(leased.action).toBe('run');
    // the agent dies with its result unsent: the lease expires and the task is ready again, not pending
    h.clock.advance(10_000);
    await h.ticker.tick();
    expect(await task('a:test')).toMatchObject({ status: 'ready', attempts: 1 });
    h.clock.advance(19_999);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(1);
    await h.ticker.tick();
    const ended = await run();
    expect(ended).toMatchObject({ status: 'failed' });
    expect(ended.reason).toBe('no agent left to run the ready tasks: none heard from for 30 s (last: agent-1)');
    expect(await task('a:test')).toMatchObject({ status: 'cancelled', message: expect.stringContaining('no agent left') });
  });

  it('a busy agent that renews its lease counts as live while another task waits', async () => {
    await start({ mainSilenceMs: 24 * 3_600_000 }, {}, [planTask('a:test'), planTask('b:lint')]);
    const busy = await lease('agent-1');
    expect(busy.action).toBe('run');
    for (let i = 0; i < 40; i++) {
      h.clock.advance(3_000);
      expect((await h.call('POST', `/v1/leases/${busy.task.leaseId}/heartbeat`, { agentName: 'agent-1' })).statusCode).toBe(204);
      await h.ticker.tick();
    }
    expect((await run()).status).toBe('open');
    expect((await view()).tasks.map((t: any) => t.status).sort()).toEqual(['leased', 'ready']);
  });
});

describe('main\'s run heartbeat', () => {
  it('counts as contact on the running executions and answers the run\'s status', async () => {
    await start({ leaseMs: 3_600_000, ...QUIET_AGENTS_OK });
    for (let i = 0; i < 4; i++) {
      h.clock.advance(25_000);
      const beat = await h.call('POST', '/v1/runs/r1/heartbeat');
      expect(beat.statusCode).toBe(200);
      expect(beat.json()).toEqual({ status: 'open', reason: null });
    }
    // main comes back too late: the sweeper has failed the run, the beat says so
    h.clock.advance(30_000);
    await h.ticker.tick();
    expect((await h.call('POST', '/v1/runs/r1/heartbeat')).json()).toEqual({ status: 'failed', reason: 'main job silent for 30 s' });
    expect((await h.call('POST', '/v1/runs/nope/heartbeat')).statusCode).toBe(404);
  });
});

describe('main\'s run heartbeat between commands', () => {
  it('fails a run whose heartbeat stops when no execution is running, and tells the agents', async () => {
    await start({}, {}, []);
    // a run that never beat is not silent between commands
    h.clock.advance(120_000);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    expect((await h.call('POST', '/v1/runs/r1/heartbeat')).json()).toEqual({ status: 'open', reason: null });
    h.clock.advance(29_999);
    await h.ticker.tick();
    expect((await run()).status).toBe('open');
    h.clock.advance(1);
    await h.ticker.tick();
    expect(await run()).toMatchObject({ status: 'failed', reason: 'main job silent for 30 s' });
    expect(await lease()).toEqual({ action: 'exit', reason: expect.stringContaining('main job silent for 30 s') });
  });
});

describe('released leases', () => {
  it('a lease handed back is ready for another agent at once and is not a loss', async () => {
    await start({ leaseRetries: 0 }, {}, [planTask('a:build')], ['agent-1', 'agent-2']);
    const first = await lease('agent-1');
    const wrong = await h.call('POST', `/v1/leases/${first.task.leaseId}/release`, { agentName: 'agent-2' });
    expect(wrong.statusCode).toBe(409);
    const released = await h.call('POST', `/v1/leases/${first.task.leaseId}/release`, { agentName: 'agent-1', reason: 'SIGTERM' });
    expect(released.statusCode).toBe(204);
    expect(leaseRow(first.task.leaseId)).toMatchObject({ outcome: 'released' });
    const second = await lease('agent-2');
    expect(second).toMatchObject({ action: 'run', task: { taskId: 'a:build', attempt: 2 } });
    // handing back again is harmless; the old lease's result is late
    expect((await h.call('POST', `/v1/leases/${first.task.leaseId}/release`, { agentName: 'agent-1' })).statusCode).toBe(204);
    expect(await complete(first.task.leaseId, 'agent-1', 0)).toEqual({ accepted: false, taskStatus: 'leased' });
    // with leaseRetries 0 a lost lease fails at once: the release did not count as one
    h.clock.advance(10_000);
    await h.ticker.tick();
    expect(await task('a:build')).toMatchObject({
      status: 'failed',
      message: 'agent lost once (lease expired on agent-2; retry limit 0)',
    });
  });
});

describe('run time-out', () => {
  it('fails the run 3 h after creation even with no execution, and agents exit', async () => {
    await start({}, {}, []);
    h.clock.advance(3 * 3600_000 - 1);
    await h.ticker.tick();
    expect(await lease()).toMatchObject({ action: 'wait' });
    h.clock.advance(1);
    await h.ticker.tick();
    expect(await run()).toMatchObject({ status: 'failed', reason: 'run time-out (3 h) reached' });
    expect(await lease()).toEqual({ action: 'exit', reason: 'run r1 failed: run time-out (3 h) reached' });
  });

  it('cancels what is running when it fires, with main alive', async () => {
    await start({}, { runTimeoutMs: 90 * 60_000, mainTimeoutMs: 24 * 3600_000 });
    await lease();
    h.clock.advance(90 * 60_000);
    const completed = (await h.call('POST', '/v1/runs/r1/complete', {})).json();
    expect(completed).toMatchObject({ status: 'failed', reason: 'run time-out (90 min) reached' });
    expect((await view()).tasks.map((t: any) => t.status)).toEqual(['cancelled', 'cancelled']);
  });
});

describe('task time-out', () => {
  it('fails a task leased longer than taskTimeoutMs although its lease is renewed; the agent is told the limit', async () => {
    await start({ leaseMs: 10_000 }, { taskTimeoutMs: 60_000, mainTimeoutMs: 3_600_000 });
    const leased = await lease();
    expect(leased.task).toMatchObject({ taskId: 'a:build', leaseMs: 10_000, timeoutMs: 60_000 });
    for (let i = 0; i < 6; i++) {
      h.clock.advance(9_000);
      expect((await h.call('POST', `/v1/leases/${leased.task.leaseId}/heartbeat`, { agentName: 'agent-1' })).statusCode).toBe(204);
    }
    h.clock.advance(5_999);
    await h.ticker.tick();
    expect(await task('a:build')).toMatchObject({ status: 'leased' });
    h.clock.advance(1);
    await h.ticker.tick();
    expect(await task('a:build')).toMatchObject({
      status: 'failed',
      exitCode: null,
      message: 'task time-out (1 min) reached on agent agent-1',
    });
    expect(await task('b:build')).toMatchObject({ status: 'skipped' });
    expect(leaseRow(leased.task.leaseId)).toMatchObject({ outcome: 'timed_out' });
    expect((await h.call('POST', `/v1/leases/${leased.task.leaseId}/heartbeat`, { agentName: 'agent-1' })).statusCode).toBe(404);
    expect(await complete(leased.task.leaseId, 'agent-1', 0)).toEqual({ accepted: false, taskStatus: 'failed' });
    expect((await run()).failedTasks).toEqual(['a:build']);
  });
});

describe('flaky retries', () => {
  it('a failed task is retried on another agent; the failed attempt and its log stay in the view', async () => {
    await start({}, { retries: 1, stopAgentsOnFailure: true }, [planTask('a:test')], ['agent-1', 'agent-2']);
    const first = await lease('agent-1');
    expect(await complete(first.task.leaseId, 'agent-1', 1, { log: 'faillog1' })).toEqual({ accepted: true, taskStatus: 'ready' });
    expect(await task('a:test')).toMatchObject({ status: 'ready', retried: 1, attempts: 1, exitCode: null, log: null });
    // a retried failure is not a failure of the run: stopAgentsOnFailure does not fire
    expect((await run()).failedTasks).toEqual([]);
    // agent-1 failed it and agent-2 could take it: agent-1 waits
    expect(await lease('agent-1')).toMatchObject({ action: 'wait' });
    const second = await lease('agent-2');
    expect(second).toMatchObject({ action: 'run', task: { taskId: 'a:test', attempt: 2 } });
    expect(await complete(second.task.leaseId, 'agent-2', 0)).toEqual({ accepted: true, taskStatus: 'succeeded' });
    expect(await task('a:test')).toMatchObject({
      status: 'succeeded',
      agent: 'agent-2',
      retried: 1,
      attempts: 1,
      failedAttempts: [{ agent: 'agent-1', exitCode: 1, log: 'faillog1' }],
    });
  });

  it('fails for good once the retries are used up, keeping the last attempt\'s own result', async () => {
    await start({}, { retries: 2 }, [planTask('a:test'), planTask('b:test', ['a:test'])], ['agent-1', 'agent-2']);
    const first = await lease('agent-1');
    await complete(first.task.leaseId, 'agent-1', 1, { log: 'log1' });
    const second = await lease('agent-2');
    expect(await complete(second.task.leaseId, 'agent-2', 2, { log: 'log2' })).toMatchObject({ taskStatus: 'ready' });
    // both agents failed it: either may take it now
    const third = await lease('agent-1');
    expect(third).toMatchObject({ action: 'run', task: { taskId: 'a:test', attempt: 3 } });
    expect(await complete(third.task.leaseId, 'agent-1', 3, { log: 'log3' })).toEqual({ accepted: true, taskStatus: 'failed' });
    expect(await task('a:test')).toMatchObject({
      status: 'failed',
      exitCode: 3,
      log: 'log3',
      retried: 2,
      attempts: 2,
      failedAttempts: [
        { agent: 'agent-1', exitCode: 1, log: 'log1' },
        { agent: 'agent-2', exitCode: 2, log: 'log2' },
      ],
    });
    expect(await task('b:test')).toMatchObject({ status: 'skipped' });
  });

  it('the only agent of a run retries its own failure', async () => {
    await start({}, { retries: 1 }, [planTask('a:test')], ['agent-1']);
    const first = await lease('agent-1');
    await complete(first.task.leaseId, 'agent-1', 1);
    expect(await lease('agent-1')).toMatchObject({ action: 'run', task: { taskId: 'a:test', attempt: 2 } });
  });

  it('an agent that failed a task still takes other ready work', async () => {
    await start({}, { retries: 1 }, [planTask('long:test'), planTask('short:test')], ['agent-1', 'agent-2']);
    const first = await lease('agent-1');
    expect(first.task.taskId).toBe('long:test');
    await complete(first.task.leaseId, 'agent-1', 1);
    expect(await lease('agent-1')).toMatchObject({ action: 'run', task: { taskId: 'short:test' } });
  });

  it('retries default to 0 and are bounded by the protocol', async () => {
    await start({}, {}, [planTask('a:test')]);
    expect((await run()).retries).toBe(0);
    const first = await lease();
    expect(await complete(first.task.leaseId, 'agent-1', 1)).toMatchObject({ taskStatus: 'failed' });
    const tooMany = await h.call('POST', '/v1/runs', { runId: 'r2', retries: 11 });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().message).toContain('body.retries');
  });
});

describe('stop agents after', () => {
  it('agents exit once every task of the listed targets is terminal and nothing is ready or leased', async () => {
    await start({}, { stopAgentsAfter: ['build'] }, [planTask('a:lint')]);
    expect((await run()).stopAgentsAfter).toEqual(['build']);
    const lint = await lease();
    await complete(lint.task.leaseId, 'agent-1', 0);
    // no task of a listed target yet: the agents stay for the next command
    expect(await lease()).toMatchObject({ action: 'wait' });
    await execution(h.call, 'e2', [planTask('a:build'), planTask('a:test', ['a:build'])]);
    const build = await lease();
    expect(build.task.taskId).toBe('a:build');
    await complete(build.task.leaseId, 'agent-1', 0);
    // builds are done but a:test is ready: it is not abandoned
    const test = await lease();
    expect(test.task.taskId).toBe('a:test');
    await complete(test.task.leaseId, 'agent-1', 0);
    expect(await lease()).toEqual({ action: 'exit', reason: 'targets build done' });
  });
});

describe('the sweeper', () => {
  it('ticks every second, wakes waiting agents when it ends a run, and stops with the server', async () => {
    await start({}, {}, [planTask('a:build')], ['agent-1', 'agent-2']);
    expect(h.ticker.intervalMs).toBe(1000);
    await lease('agent-1');
    const waiting = lease('agent-2', 10_000);
    await new Promise((r) => setTimeout(r, 100));
    h.clock.advance(30_000);
    const started = Date.now();
    await h.ticker.tick();
    expect(await waiting).toEqual({ action: 'exit', reason: 'run r1 failed: main job silent for 30 s' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(h.ticker.running).toBe(true);
    await h.app.close();
    expect(h.ticker.running).toBe(false);
  });

});
