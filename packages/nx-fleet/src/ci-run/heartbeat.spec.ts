import { silentReporter } from '../reporter';
import { runMainHeartbeat, type RunHeartbeatClient } from './heartbeat';

/** A fake clock that sleeping advances. */
function fakeTime() {
  let t = 1_000_000;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), advance: (ms: number) => void (t += ms) };
}

describe('runMainHeartbeat', () => {
  it('beats every interval until the run is no longer open', async () => {
    const time = fakeTime();
    const beats: number[] = [];
    const client: RunHeartbeatClient = {
      heartbeatRun: async () => {
        beats.push(time.now());
        return beats.length < 4 ? { status: 'open', reason: null } : { status: 'failed', reason: 'a:test failed' };
      },
    };
    const end = await runMainHeartbeat({ client, runId: 'r', reporter: silentReporter, stillHeld: () => true, ...time });
    expect(end).toBe('run_closed');
    expect(beats).toEqual([1_000_000, 1_005_000, 1_010_000, 1_015_000]);
  });

  it('keeps beating through a coordinator outage shorter than giveUpMs, and gives up at giveUpMs', async () => {
    const time = fakeTime();
    let calls = 0;
    const down = { from: 2, to: 5 }; // beats 2..5 fail (20 s), then it is back
    const client: RunHeartbeatClient = {
      heartbeatRun: async () => {
        calls++;
        if (calls >= down.from && calls <= down.to) throw new Error('ECONNREFUSED');
        return calls < 8 ? { status: 'open', reason: null } : { status: 'completed', reason: null };
      },
    };
    expect(await runMainHeartbeat({ client, runId: 'r', reporter: silentReporter, stillHeld: () => true, giveUpMs: 30_000, ...time })).toBe('run_closed');
    expect(calls).toBe(8);

    const always = { heartbeatRun: async () => Promise.reject(new Error('ECONNREFUSED')) };
    const start = time.now();
    const times: number[] = [];
    const end = await runMainHeartbeat({
      client: { heartbeatRun: async () => (times.push(time.now()), always.heartbeatRun()) } as RunHeartbeatClient,
      runId: 'r',
      reporter: silentReporter,
      stillHeld: () => true,
      giveUpMs: 30_000,
      ...time,
    });
    expect(end).toBe('unreachable');
    // failures at +0 … +30 s: the one at +30 s is the first at the limit
    expect(times[times.length - 1] - start).toBe(30_000);
  });

  it('stops when the job no longer holds the run, and at its maximum life', async () => {
    const time = fakeTime();
    let held = 3;
    const client: RunHeartbeatClient = { heartbeatRun: async () => ({ status: 'open', reason: null }) };
    expect(await runMainHeartbeat({ client, runId: 'r', reporter: silentReporter, stillHeld: () => held-- > 0, ...time })).toBe('released');
    const t0 = time.now();
    expect(await runMainHeartbeat({ client, runId: 'r', reporter: silentReporter, stillHeld: () => true, maxLifeMs: 60_000, ...time })).toBe('max_life');
    expect(time.now() - t0).toBe(60_000);
  });
});
