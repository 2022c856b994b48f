import type { TaskStatus } from '@fleet/protocol';
import { createFakeClock } from './clock';
import { isLeaseExpired, leaseExpiresAt } from './lease';
import { pickNext } from './pick';
import { validatePlan } from './plan';
import {
  executionOutcome,
  initialStatuses,
  readyAfterSuccess,
  skippedAfterFailure,
  type GraphSlice,
  type TaskNode,
} from './transitions';

function graph(spec: Record<string, { deps?: string[]; status: TaskStatus }>): GraphSlice {
  const tasks = Object.entries(spec).map(([id, s]) => ({ id, deps: s.deps ?? [], status: s.status }));
  const plan = validatePlan(tasks);
  return { nodes: new Map<string, TaskNode>(tasks.map((t) => [t.id, t])), dependants: plan.dependants };
}

describe('transitions', () => {
  it('a success readies dependants whose deps are all done', () => {
    const g = graph({
      'a:x': { status: 'succeeded' },
      'b:x': { status: 'leased' },
      'c:x': { deps: ['a:x'], status: 'pending' },
      'd:x': { deps: ['a:x', 'b:x'], status: 'pending' },
    });
    expect(readyAfterSuccess(g, 'a:x')).toEqual(['c:x']);
  });

  it('the task that just succeeded counts as done even if the slice is stale', () => {
    const g = graph({ 'a:x': { status: 'leased' }, 'b:x': { deps: ['a:x'], status: 'pending' } });
    expect(readyAfterSuccess(g, 'a:x')).toEqual(['b:x']);
  });

  it('a failure skips every non-terminal dependant, transitively', () => {
    const g = graph({
      'a:x': { status: 'failed' },
      'b:x': { deps: ['a:x'], status: 'pending' },
      'c:x': { deps: ['b:x'], status: 'pending' },
      'd:x': { deps: ['a:x'], status: 'succeeded' }, // a plan-time cache hit
      'e:x': { deps: ['d:x'], status: 'pending' },
      'f:x': { status: 'ready' },
    });
    expect(skippedAfterFailure(g, 'a:x').sort()).toEqual(['b:x', 'c:x', 'e:x']);
  });

  it('initial statuses honour cache hits', () => {
    const tasks = [
      { id: 'a:x', deps: [] },
      { id: 'b:x', deps: ['a:x'] },
      { id: 'c:x', deps: ['b:x'] },
    ];
    expect(Object.fromEntries(initialStatuses(tasks, new Set(['a:x'])))).toEqual({
      'a:x': 'succeeded',
      'b:x': 'ready',
      'c:x': 'pending',
    });
  });

  it('execution outcome', () => {
    expect(executionOutcome(['succeeded', 'ready'])).toBe('running');
    expect(executionOutcome(['succeeded', 'succeeded'])).toBe('succeeded');
    expect(executionOutcome(['succeeded', 'failed', 'skipped'])).toBe('failed');
    expect(executionOutcome(['succeeded', 'cancelled'])).toBe('cancelled');
    expect(executionOutcome([])).toBe('succeeded');
  });
});

describe('leases on a fake clock', () => {
  it('expire at leaseMs, not before', () => {
    const clock = createFakeClock(1000);
    const lease = { leaseId: 'l1', agentName: 'a', expiresAt: leaseExpiresAt(clock.now(), 10_000) };
    clock.advance(9_999);
    expect(isLeaseExpired(lease, clock.now())).toBe(false);
    clock.advance(1);
    expect(isLeaseExpired(lease, clock.now())).toBe(true);
  });
});

describe('pickNext', () => {
  it('highest priority first, ties by plan order', () => {
    const ready = [
      { id: 'a', priority: 10, order: 2 },
      { id: 'b', priority: 30, order: 5 },
      { id: 'c', priority: 30, order: 1 },
    ];
    expect(pickNext(ready)?.id).toBe('c');
    expect(pickNext([])).toBeUndefined();
  });
});
