import { createFakeClock, type FakeClock } from './clock';
import {
  DEFAULT_MAIN_SILENCE_MS,
  DEFAULT_NO_AGENT_MS,
  DEFAULT_RUN_LIMITS,
  DEFAULT_RUN_TIMEOUT_MS,
  DEFAULT_TASK_TIMEOUT_MS,
  firedDeadlines,
  leaseDueAt,
  nextDueAt,
  formatLimit,
  type RunLimits,
  type RunTimes,
} from './deadlines';

const T0 = 1_700_000_000_000;

function run(clock: FakeClock, overrides: Partial<RunTimes> = {}, limits: Partial<RunLimits> = {}): RunTimes {
  return {
    createdAt: clock.now(),
    limits: { ...DEFAULT_RUN_LIMITS, ...limits },
    runningExecutions: [],
    leasedTasks: [],
    ...overrides,
  };
}

describe('defaults', () => {
  it('never let a pipeline hang for hours', () => {
    expect(DEFAULT_RUN_TIMEOUT_MS).toBe(3 * 3600_000);
    expect(DEFAULT_TASK_TIMEOUT_MS).toBe(3600_000);
    expect(DEFAULT_MAIN_SILENCE_MS).toBe(30_000);
  });

  it('limits in words', () => {
    expect([10_800_000, 3_600_000, 5_400_000, 30_000, 1_500, 250].map(formatLimit)).toEqual([
      '3 h',
      '1 h',
      '90 min',
      '30 s',
      '1.5 s',
      '250 ms',
    ]);
  });
});

describe('run time-out', () => {
  it('fires at runTimeoutMs after creation, not 1 ms before, with or without executions', () => {
    const clock = createFakeClock(T0);
    const times = run(clock);
    clock.advance(DEFAULT_RUN_TIMEOUT_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)).toEqual([{ kind: 'run_timeout', message: 'run time-out (3 h) reached' }]);
  });

  it('uses the run\'s own limit and wins over the other deadlines', () => {
    const clock = createFakeClock(T0);
    const times = run(
      clock,
      {
        runningExecutions: [{ executionId: 'e1', lastSeenAt: T0 }],
        leasedTasks: [{ leaseId: 'l1', executionId: 'e1', taskId: 'a:build', agent: 'agent-1', leasedAt: T0 }],
      },
      { runTimeoutMs: 90 * 60_000, mainSilenceMs: 30_000, taskTimeoutMs: 60_000 },
    );
    clock.advance(90 * 60_000);
    expect(firedDeadlines(clock.now(), times)).toEqual([{ kind: 'run_timeout', message: 'run time-out (90 min) reached' }]);
  });
});

describe('main job silent', () => {
  it('fires mainSilenceMs after main\'s last contact, not 1 ms before', () => {
    const clock = createFakeClock(T0);
    const base = run(clock);
    clock.advance(5_000);
    const times: RunTimes = { ...base, runningExecutions: [{ executionId: 'e1', lastSeenAt: clock.now() }] };
    clock.advance(DEFAULT_MAIN_SILENCE_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)).toEqual([{ kind: 'main_silent', message: 'main job silent for 30 s' }]);
  });

  it('any running execution heard from recently keeps the run alive', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, {
      runningExecutions: [
        { executionId: 'e1', lastSeenAt: T0 },
        { executionId: 'e2', lastSeenAt: T0 + 20_000 },
      ],
    });
    clock.advance(49_999);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)).toEqual([{ kind: 'main_silent', message: 'main job silent for 30 s' }]);
  });

  it('a run with no running execution is never silent (only the run time-out applies)', () => {
    const clock = createFakeClock(T0);
    const times = run(clock);
    clock.advance(DEFAULT_RUN_TIMEOUT_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
  });

  it('counts silence from when the coordinator began listening, at the earliest (a restart is not main\'s silence)', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, { runningExecutions: [{ executionId: 'e1', lastSeenAt: T0 }] });
    clock.advance(600_000);
    const restarted = { ...times, listeningSince: clock.now() };
    expect(firedDeadlines(clock.now(), times)).toHaveLength(1);
    expect(firedDeadlines(clock.now(), restarted)).toEqual([]);
    clock.advance(DEFAULT_MAIN_SILENCE_MS - 1);
    expect(firedDeadlines(clock.now(), restarted)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), restarted)).toEqual([{ kind: 'main_silent', message: 'main job silent for 30 s' }]);
  });

  it('once main\'s run heartbeat has beaten, its silence counts between commands too', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, { mainHeartbeatAt: T0 + 10_000 });
    clock.advance(10_000 + DEFAULT_MAIN_SILENCE_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)).toEqual([{ kind: 'main_silent', message: 'main job silent for 30 s' }]);
  });

  it('an execution heard from after the last run heartbeat keeps the run alive, and the other way round', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, { mainHeartbeatAt: T0, runningExecutions: [{ executionId: 'e1', lastSeenAt: T0 + 25_000 }] });
    clock.advance(25_000 + DEFAULT_MAIN_SILENCE_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    const beaten = { ...times, mainHeartbeatAt: clock.now() };
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)).toHaveLength(1);
    expect(firedDeadlines(clock.now(), beaten)).toEqual([]);
  });

  it('a run whose heartbeat never beat (--require-explicit-completion) is not silent between commands', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, { mainHeartbeatAt: null });
    clock.advance(DEFAULT_RUN_TIMEOUT_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
  });

  it('uses the run\'s mainTimeoutMs', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, { runningExecutions: [{ executionId: 'e1', lastSeenAt: T0 }] }, { mainSilenceMs: 120_000 });
    clock.advance(119_999);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)[0]?.message).toBe('main job silent for 2 min');
  });
});

describe('task time-out', () => {
  it('fires taskTimeoutMs after the lease began, however often it was renewed', () => {
    const clock = createFakeClock(T0);
    const base = run(clock);
    clock.advance(1_000);
    const leased = { leaseId: 'l1', executionId: 'e1', taskId: 'a:test', agent: 'agent-1', leasedAt: clock.now() };
    const other = { leaseId: 'l2', executionId: 'e1', taskId: 'b:test', agent: 'agent-2', leasedAt: clock.now() + 10 };
    const at = (now: number) =>
      firedDeadlines(now, { ...base, runningExecutions: [{ executionId: 'e1', lastSeenAt: now }], leasedTasks: [leased, other] });
    clock.advance(DEFAULT_TASK_TIMEOUT_MS - 1);
    expect(at(clock.now())).toEqual([]);
    clock.advance(1);
    expect(at(clock.now())).toEqual([
      { kind: 'task_timeout', ...leased, message: 'task time-out (1 h) reached on agent agent-1' },
    ]);
    clock.advance(10);
    expect(at(clock.now()).map((f) => f.kind === 'task_timeout' && f.taskId)).toEqual(['a:test', 'b:test']);
  });
});

describe('no agent left', () => {
  const agent = (name: string, lastSeenAt: number, exited = false) => ({ name, lastSeenAt, exited });

  it('fires DEFAULT_NO_AGENT_MS after the last agent was heard from while tasks are ready, not 1 ms before', () => {
    const clock = createFakeClock(T0);
    const times = run(clock, { agents: [agent('agent-1', T0), agent('agent-2', T0 + 5_000)], readyTasks: 1 });
    clock.advance(5_000 + DEFAULT_NO_AGENT_MS - 1);
    expect(firedDeadlines(clock.now(), times)).toEqual([]);
    clock.advance(1);
    expect(firedDeadlines(clock.now(), times)).toEqual([
      { kind: 'no_agent', message: 'no agent left to run the ready tasks: none heard from for 30 s (last: agent-2)' },
    ]);
  });

  it('is not judged with nothing ready, with no agent joined yet, or with one live agent', () => {
    const clock = createFakeClock(T0);
    clock.advance(10 * DEFAULT_NO_AGENT_MS);
    const now = clock.now();
    expect(firedDeadlines(now, run(clock, { agents: [agent('agent-1', T0)], readyTasks: 0 }))).toEqual([]);
    expect(firedDeadlines(now, run(clock, { agents: [], readyTasks: 3 }))).toEqual([]);
    expect(firedDeadlines(now, run(clock, { agents: [agent('agent-1', T0), agent('agent-2', now - 1_000)], readyTasks: 3 }))).toEqual([]);
  });

  it('counts an agent that left as gone at once, and a restart of the coordinator as no one\'s silence', () => {
    const clock = createFakeClock(T0);
    clock.advance(DEFAULT_NO_AGENT_MS);
    const left = run(clock, { agents: [agent('agent-1', T0, true)], readyTasks: 1 });
    expect(firedDeadlines(clock.now(), left)).toEqual([
      { kind: 'no_agent', message: 'no agent left to run the ready tasks: none heard from for 30 s (last: agent-1, which left)' },
    ]);
    const restarted = { ...left, listeningSince: clock.now() - 1_000 };
    expect(firedDeadlines(clock.now(), restarted)).toEqual([]);
    clock.advance(DEFAULT_NO_AGENT_MS - 1_000);
    expect(firedDeadlines(clock.now(), restarted)).toHaveLength(1);
  });
});

describe('nextDueAt: until when applying the run model can be skipped', () => {
  const clock = () => createFakeClock(T0);

  it('is the earliest of the run time-out, main silence, no agent, task time-outs and lease expiries', () => {
    const c = clock();
    const base = run(c, {}, { runTimeoutMs: 50_000, mainSilenceMs: 40_000, taskTimeoutMs: 20_000 });
    // nothing running, no agent: the run time-out, or main silence / no agent counted from now
    expect(nextDueAt(T0, base)).toBe(T0 + 30_000); // DEFAULT_NO_AGENT_MS from now
    expect(nextDueAt(T0, { ...base, noAgentMs: 60_000 })).toBe(T0 + 40_000); // main silence from now
    expect(nextDueAt(T0, { ...base, noAgentMs: 60_000, limits: { ...base.limits, mainSilenceMs: 90_000 } })).toBe(T0 + 50_000);
    const leased = {
      ...base,
      noAgentMs: 60_000,
      leasedTasks: [{ leaseId: 'l1', executionId: 'e1', taskId: 'a:build', agent: 'x', leasedAt: T0 - 5_000, expiresAt: T0 + 8_000 }],
    };
    expect(nextDueAt(T0, leased)).toBe(T0 + 8_000); // the lease expiry
    expect(nextDueAt(T0, { ...leased, leasedTasks: [{ ...leased.leasedTasks[0], expiresAt: T0 + 60_000 }] })).toBe(T0 + 15_000); // its time-out
    // never in the past: an overdue run is due now
    expect(nextDueAt(T0 + 100_000, base)).toBe(T0 + 100_000);
  });

  it('counts main from its oldest running execution, so an execution ending cannot make it late', () => {
    const c = clock();
    const times = run(c, {
      runningExecutions: [
        { executionId: 'old', lastSeenAt: T0 - 20_000 },
        { executionId: 'new', lastSeenAt: T0 },
      ],
      noAgentMs: 3_600_000,
    });
    const due = nextDueAt(T0, times);
    expect(due).toBe(T0 + 10_000);
    // "new" ends: main's silence now counts from "old", and fires exactly at the bound
    const after = { ...times, runningExecutions: [times.runningExecutions[0]] };
    expect(firedDeadlines(due - 1, after)).toEqual([]);
    expect(firedDeadlines(due, after).map((f) => f.kind)).toEqual(['main_silent']);
  });

  it('nothing fires before it, for any run, whatever the run does meanwhile short of a new lease (seeded property)', () => {
    let seed = 20261203;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const between = (lo: number, hi: number): number => Math.floor(lo + rand() * (hi - lo));
    let checked = 0;
    for (let i = 0; i < 2_000; i++) {
      const now = T0 + between(0, 100_000);
      const agents = Array.from({ length: between(0, 4) }, (_, k) => ({ name: `a${k}`, lastSeenAt: now - between(0, 60_000), exited: rand() < 0.3 }));
      const times: RunTimes = {
        createdAt: T0 - between(0, 50_000),
        limits: { runTimeoutMs: between(1_000, 200_000), taskTimeoutMs: between(1_000, 100_000), mainSilenceMs: between(1_000, 60_000) },
        runningExecutions: Array.from({ length: between(0, 3) }, (_, k) => ({ executionId: `e${k}`, lastSeenAt: now - between(0, 40_000) })),
        leasedTasks: Array.from({ length: between(0, 3) }, (_, k) => ({
          leaseId: `l${k}`,
          executionId: 'e0',
          taskId: `t${k}`,
          agent: 'a0',
          leasedAt: now - between(0, 50_000),
          expiresAt: now + between(-5_000, 30_000),
        })),
        listeningSince: T0 - between(0, 100_000),
        mainHeartbeatAt: rand() < 0.5 ? null : now - between(0, 30_000),
        agents,
        readyTasks: between(0, 3),
        noAgentMs: between(1_000, 60_000),
      };
      const due = nextDueAt(now, times);
      if (firedDeadlines(now, times).length > 0 || times.leasedTasks.some((t) => (t.expiresAt ?? 0) <= now)) {
        expect(due).toBe(now); // already due
        continue;
      }
      // what requests may do meanwhile: newer contacts, a running execution ends, agents leave or appear, tasks become ready
      const later = between(now, due);
      const changed: RunTimes = {
        ...times,
        runningExecutions: times.runningExecutions.filter(() => rand() < 0.6).map((e) => ({ ...e, lastSeenAt: rand() < 0.5 ? e.lastSeenAt : between(e.lastSeenAt, later + 1) })),
        agents: [...agents.map((a) => ({ ...a, exited: a.exited || rand() < 0.3 })), ...(rand() < 0.3 ? [{ name: 'late', lastSeenAt: between(now, later + 1), exited: false }] : [])],
        leasedTasks: times.leasedTasks.filter(() => rand() < 0.7),
        readyTasks: between(0, 3),
      };
      for (const t of [now, later, due - 1]) {
        if (t < now || t >= due) continue;
        expect(firedDeadlines(t, times)).toEqual([]);
        expect(firedDeadlines(t, changed)).toEqual([]);
        expect(changed.leasedTasks.every((l) => (l.expiresAt ?? Infinity) > t)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1_000);
  });

  it('a new lease is due at its expiry or its task time-out, whichever is first', () => {
    expect(leaseDueAt(T0, 10_000, 3_600_000)).toBe(T0 + 10_000);
    expect(leaseDueAt(T0, 10_000, 2_000)).toBe(T0 + 2_000);
    expect(leaseDueAt(T0, 10_000, 0)).toBe(T0 + 10_000);
  });
});
