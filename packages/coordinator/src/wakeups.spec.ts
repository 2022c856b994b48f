import { runKey, Wakeups } from './wakeups';

describe('Wakeups.watch', () => {
  const never = new AbortController().signal;

  it('a wake-up sent after the watch began but before the wait makes the wait return at once', async () => {
    const wakeups = new Wakeups();
    const watch = wakeups.watch([runKey('r1')]);
    // what a long-poll's store reads leave room for: another request readies a task meanwhile
    wakeups.wakeRun('r1');
    const started = Date.now();
    await watch.wait(10_000, never);
    expect(Date.now() - started).toBeLessThan(1_000);
    watch.stop();
    expect(wakeups.listenerCount()).toBe(0);
  });

  it('waits for a wake-up, the time, or the signal; other keys do not wake it', async () => {
    const wakeups = new Wakeups();
    const watch = wakeups.watch([runKey('r1')]);
    const waiting = watch.wait(10_000, never);
    wakeups.wakeRun('r2');
    let done = false;
    void waiting.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    wakeups.wakeRun('r1');
    await waiting;
    watch.stop();

    const timed = wakeups.watch([runKey('r1')]);
    const t0 = Date.now();
    await timed.wait(30, never);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    timed.stop();

    const aborted = new AbortController();
    const signalled = wakeups.watch([runKey('r1')]);
    const pending = signalled.wait(10_000, aborted.signal);
    aborted.abort();
    await pending;
    signalled.stop();
    expect(wakeups.listenerCount()).toBe(0);
  });

  it('stop ends a wait in progress and removes its listeners', async () => {
    const wakeups = new Wakeups();
    const watch = wakeups.watch([runKey('r1'), runKey('r2')]);
    expect(wakeups.listenerCount()).toBe(2);
    const pending = watch.wait(10_000, never);
    watch.stop();
    await pending;
    expect(wakeups.listenerCount()).toBe(0);
  });
});
