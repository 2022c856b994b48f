import { createFakeClock } from './clock';
import { attemptNumber, DEFAULT_LEASE_RETRIES, expireLease, failAttempt, isLeaseExpired, leaseExpiresAt, times } from './lease';

/**
 * Leases a task to each agent in turn on a fake clock and lets every lease expire, as
 * the coordinator does; returns what each expiry decided.
 */
function loseRepeatedly(agents: string[], leaseRetries?: number): { attempt: number; status: string; message: string | null }[] {
  const clock = createFakeClock(0);
  const leaseMs = 10_000;
  const lostOn: string[] = [];
  const decisions: { attempt: number; status: string; message: string | null }[] = [];
  for (const agent of agents) {
    const lease = { leaseId: `l-${agent}`, agentName: agent, expiresAt: leaseExpiresAt(clock.now(), leaseMs) };
    clock.advance(leaseMs - 1);
    expect(isLeaseExpired(lease, clock.now())).toBe(false);
    clock.advance(1);
    expect(isLeaseExpired(lease, clock.now())).toBe(true);
    lostOn.push(agent);
    const outcome = expireLease(lostOn, leaseRetries);
    decisions.push({ attempt: attemptNumber(lostOn.length - 1), status: outcome.status, message: outcome.message });
    if (outcome.status === 'failed') break;
  }
  return decisions;
}

describe('lease retries (agent lost)', () => {
  it('default: put back twice, the third loss fails the task and says why', () => {
    expect(DEFAULT_LEASE_RETRIES).toBe(2);
    const decisions = loseRepeatedly(['agent-1', 'agent-2', 'agent-3', 'agent-4']);
    expect(decisions).toEqual([
      { attempt: 1, status: 'ready', message: null },
      { attempt: 2, status: 'ready', message: null },
      {
        attempt: 3,
        status: 'failed',
        message: 'agent lost 3 times (lease expired on agent-1, then agent-2, then agent-3; retry limit 2)',
      },
    ]);
  });

  it('leaseRetries 1: the second loss fails it, not the first', () => {
    expect(loseRepeatedly(['agent-1', 'agent-2', 'agent-3'], 1)).toEqual([
      { attempt: 1, status: 'ready', message: null },
      { attempt: 2, status: 'failed', message: 'agent lost twice (lease expired on agent-1, then agent-2; retry limit 1)' },
    ]);
  });

  it('leaseRetries 0: the first loss fails it', () => {
    expect(expireLease(['agent-1'], 0)).toEqual({
      status: 'failed',
      message: 'agent lost once (lease expired on agent-1; retry limit 0)',
    });
  });

  it('the same agent may lose a task more than once', () => {
    expect(expireLease(['a', 'a'], 1).message).toBe('agent lost twice (lease expired on a, then a; retry limit 1)');
  });

  it('counts in words', () => {
    expect([1, 2, 3, 11].map(times)).toEqual(['once', 'twice', '3 times', '11 times']);
  });
});

describe('flaky retries (attempt failed)', () => {
  it('retries 0 fails at once', () => {
    expect(failAttempt(0, 0).status).toBe('failed');
    expect(failAttempt(0).status).toBe('failed');
  });

  it('retries N puts a failure back N times, and fails the N+1th', () => {
    const seen: string[] = [];
    for (let retried = 0; retried <= 3; retried++) seen.push(failAttempt(retried, 3).status);
    expect(seen).toEqual(['ready', 'ready', 'ready', 'failed']);
  });
});
