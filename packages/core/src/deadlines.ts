/**
 * The run model's time-outs, as one pure decision: given the time and a run's
 * timestamps and limits, what has fired. The coordinator applies the answer (from its
 * sweeper and on requests); nothing here reads a clock.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** From the run's creation: a pipeline never holds agents longer than this. */
export const DEFAULT_RUN_TIMEOUT_MS = 3 * HOUR;
/** From a lease's start (renewals do not count): one attempt of one task. */
export const DEFAULT_TASK_TIMEOUT_MS = HOUR;
/**
 * Tasks are ready but no agent of the run has been heard from for this long (they were
 * all lost or left): nothing would ever run them. Longer than an idle agent's long-poll.
 */
export const DEFAULT_NO_AGENT_MS = 30 * SECOND;
/** No heartbeat, watch or report from main for this long while an execution runs. */
export const DEFAULT_MAIN_SILENCE_MS = 30 * SECOND;

export interface RunLimits {
  readonly runTimeoutMs: number;
  readonly taskTimeoutMs: number;
  readonly mainSilenceMs: number;
}

export const DEFAULT_RUN_LIMITS: RunLimits = {
  runTimeoutMs: DEFAULT_RUN_TIMEOUT_MS,
  taskTimeoutMs: DEFAULT_TASK_TIMEOUT_MS,
  mainSilenceMs: DEFAULT_MAIN_SILENCE_MS,
};

export interface LeasedTaskTimes {
  readonly leaseId: string;
  readonly executionId: string;
  readonly taskId: string;
  readonly agent: string;
  /** When the current lease began (its heartbeats do not move this). */
  readonly leasedAt: number;
  /** When the lease expires unless its agent renews it (heartbeats move this later); unknown if absent. */
  readonly expiresAt?: number;
}

/** What the decision needs to know about an open run. */
export interface RunTimes {
  readonly createdAt: number;
  readonly limits: RunLimits;
  /** The run's executions that are still running, with main's last contact for each. */
  readonly runningExecutions: readonly { readonly executionId: string; readonly lastSeenAt: number }[];
  readonly leasedTasks: readonly LeasedTaskTimes[];
  /**
   * When the coordinator began listening: main could not be heard before (a restart,
   * an outage), so its silence counts from then at the earliest.
   */
  readonly listeningSince?: number;
  /**
   * The last beat of main's run heartbeat (the process start-ci-run leaves running), or
   * null if it never beat (`--require-explicit-completion`, or an older client). Once it
   * has beaten, main's silence counts between nx commands too.
   */
  readonly mainHeartbeatAt?: number | null;
  /** The agents that joined the run; `exited` once told to leave. */
  readonly agents?: readonly { readonly name: string; readonly lastSeenAt: number; readonly exited: boolean }[];
  /** How many tasks of running executions are ready (waiting for an agent). */
  readonly readyTasks?: number;
  /** Default DEFAULT_NO_AGENT_MS. */
  readonly noAgentMs?: number;
}

export type FiredDeadline =
  | { readonly kind: 'run_timeout'; readonly message: string }
  | { readonly kind: 'main_silent'; readonly message: string }
  | { readonly kind: 'no_agent'; readonly message: string }
  | ({ readonly kind: 'task_timeout'; readonly message: string } & LeasedTaskTimes);

/** A limit in words: "3 h", "90 min", "30 s", "1.5 s", "250 ms". */
export function formatLimit(ms: number): string {
  if (ms >= HOUR && ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms >= MINUTE && ms % MINUTE === 0) return `${ms / MINUTE} min`;
  if (ms >= SECOND && ms % SECOND === 0) return `${ms / SECOND} s`;
  if (ms >= SECOND) return `${(ms / SECOND).toFixed(1)} s`;
  return `${ms} ms`;
}

/**
 * What has fired at `now` (each at its limit exactly, never 1 ms before):
 * - run time-out: `runTimeoutMs` after the run was created;
 * - main silent: main has been silent for `mainSilenceMs` — no run heartbeat and no
 *   contact on any running execution — counted at the earliest from `listeningSince`.
 *   This needs something to be silent about: a run heartbeat that has beaten at least
 *   once, or a running execution (a run with neither is never "silent");
 * - task time-out: a lease began `taskTimeoutMs` ago.
 * A run-level deadline ends the run and everything in it, so when one fires it is the
 * only answer (the run time-out first).
 */
export function firedDeadlines(now: number, run: RunTimes): FiredDeadline[] {
  const { limits } = run;
  if (now - run.createdAt >= limits.runTimeoutMs) {
    return [{ kind: 'run_timeout', message: `run time-out (${formatLimit(limits.runTimeoutMs)}) reached` }];
  }
  const heartbeat = run.mainHeartbeatAt ?? null;
  if (run.runningExecutions.length > 0 || heartbeat !== null) {
    const lastContact = Math.max(run.listeningSince ?? 0, heartbeat ?? 0, ...run.runningExecutions.map((e) => e.lastSeenAt));
    if (now - lastContact >= limits.mainSilenceMs) {
      return [{ kind: 'main_silent', message: `main job silent for ${formatLimit(limits.mainSilenceMs)}` }];
    }
  }
  const noAgent = noAgentLeft(now, run);
  if (noAgent !== null) return [{ kind: 'no_agent', message: noAgent }];
  const fired: FiredDeadline[] = [];
  for (const task of run.leasedTasks) {
    if (now - task.leasedAt >= limits.taskTimeoutMs) {
      fired.push({
        kind: 'task_timeout',
        ...task,
        message: `task time-out (${formatLimit(limits.taskTimeoutMs)}) reached on agent ${task.agent}`,
      });
    }
  }
  return fired;
}

/**
 * Tasks are ready, agents joined, and none has been heard from for `noAgentMs` (counted
 * at the earliest from `listeningSince`): every agent was lost or left, so the ready
 * tasks would wait for ever. Returns the reason, or null. A run no agent has joined yet
 * is not judged (agents may still be starting; the run time-out bounds that wait).
 */
function noAgentLeft(now: number, run: RunTimes): string | null {
  const agents = run.agents ?? [];
  if ((run.readyTasks ?? 0) === 0 || agents.length === 0) return null;
  const limit = run.noAgentMs ?? DEFAULT_NO_AGENT_MS;
  const live = agents.filter((a) => !a.exited && now - a.lastSeenAt < limit);
  if (live.length > 0) return null;
  const lastHeard = Math.max(run.listeningSince ?? 0, ...agents.map((a) => a.lastSeenAt));
  if (now - lastHeard < limit) return null;
  const last = agents.reduce((a, b) => (b.lastSeenAt > a.lastSeenAt ? b : a));
  return `no agent left to run the ready tasks: none heard from for ${formatLimit(limit)} (last: ${last.name}${last.exited ? ', which left' : ''})`;
}

/**
 * The earliest instant at or after `now` at which something of the run could be due —
 * a deadline of firedDeadlines or the expiry of a current lease — so that a caller that
 * applied the run model at `now` may skip it until then. It stays a lower bound while
 * the run changes in the ways requests change it: contacts and heartbeats only move
 * later, executions and agents that appear are first heard at or after `now`, executions
 * end, agents leave, tasks become ready or finish. The one change it cannot foresee is a
 * new lease: whoever grants one lowers the bound to that lease's own expiry and
 * time-out (`leaseDueAt`).
 */
export function nextDueAt(now: number, run: RunTimes): number {
  const { limits } = run;
  let due = run.createdAt + limits.runTimeoutMs;
  // main's latest contact drops when executions end: to its run heartbeat once they all have,
  // else (no heartbeat) to the oldest running execution's; with nothing to be silent about
  // yet, an execution first heard now starts the clock
  const heartbeat = run.mainHeartbeatAt ?? null;
  const oldestRunning = run.runningExecutions.length ? Math.min(...run.runningExecutions.map((e) => e.lastSeenAt)) : null;
  const floor = heartbeat ?? oldestRunning;
  const contactFloor = floor === null ? now : Math.max(run.listeningSince ?? 0, floor);
  due = Math.min(due, contactFloor + limits.mainSilenceMs);
  // agents: "none heard from" counts from the latest contact of any agent, or from now for the first one
  const agents = run.agents ?? [];
  const heard = agents.length ? Math.max(run.listeningSince ?? 0, ...agents.map((a) => a.lastSeenAt)) : now;
  due = Math.min(due, heard + (run.noAgentMs ?? DEFAULT_NO_AGENT_MS));
  for (const task of run.leasedTasks) {
    due = Math.min(due, task.leasedAt + limits.taskTimeoutMs, task.expiresAt ?? now);
  }
  return Math.max(now, due);
}

/** When a lease granted at `leasedAt` is first due: its expiry or its task time-out, whichever comes first. */
export function leaseDueAt(leasedAt: number, leaseMs: number, taskTimeoutMs: number): number {
  return leasedAt + Math.min(leaseMs, taskTimeoutMs > 0 ? taskTimeoutMs : leaseMs);
}
