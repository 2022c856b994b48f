import { agentExitReason, firedDeadlines, leaseDueAt, nextDueAt, NotFoundError } from '@fleet/core';
import type { LeaseRequest, LeaseResponse } from '@fleet/protocol';
import type { AppDeps } from './app-deps';
import { stopwatch } from './long-poll';
import { runKey, type Wakeups } from './wakeups';

/** How soon an agent told to wait should ask again. */
export const RETRY_IN_MS = 500;

/** What applying the run model needs: the deps, the wake-ups, and when this server started. */
export interface RunModelContext {
  readonly deps: AppDeps;
  readonly wakeups: Wakeups;
  /** The injected clock's time when the app was created: main's silence counts from then at the earliest. */
  readonly startedAt: number;
  /**
   * Per open run, the instant before which nothing of it can be due (core's nextDueAt, lowered by
   * every lease granted here), so that the lease path skips re-reading the run until then. Kept in
   * this process only: another coordinator process's leases are seen by this one's sweeper.
   */
  readonly runDueAt?: Map<string, number>;
}

/**
 * How long a skip may last at most however far the next deadline is: what another process
 * changed (a lease granted there) is seen within this, and a run's memo never outlives it.
 */
export const RUN_MODEL_RECHECK_MS = 1_000;

/**
 * Applies what is due in a run at the injected clock's now: overdue leases expire
 * (re-queued, or failed past leaseRetries), then the run model's time-outs (core's
 * firedDeadlines): a run time-out or a silent main fails the run, a task time-out
 * fails its task. Wakes the watchers of whatever changed. Called by the sweeper and
 * by the long-polls before they answer.
 */
export async function enforceRun(ctx: RunModelContext, runId: string): Promise<void> {
  const { deps, wakeups } = ctx;
  const { state, clock, config, reporter } = deps;
  const changed = new Set(await state.expireLeases(runId, clock.now(), config.leaseRetries));
  const stored = await state.runTimes(runId);
  const times = stored === null ? null : { ...stored, listeningSince: ctx.startedAt, noAgentMs: config.noAgentMs };
  let runChanged = changed.size > 0;
  if (times !== null) {
    for (const fired of firedDeadlines(clock.now(), times)) {
      if (fired.kind === 'task_timeout') {
        const ref = await state.timeOutLease(fired.leaseId, fired.message, clock.now());
        if (ref === null) continue;
        reporter.warn(`${fired.taskId} of run ${runId} failed: ${fired.message}`, { executionId: ref.executionId, leaseId: fired.leaseId });
        changed.add(ref.executionId);
        runChanged = true;
        continue;
      }
      const changes = await state.failRun(runId, fired.message, clock.now());
      if (changes === null) continue;
      reporter.warn(`run ${runId} failed: ${fired.message}`);
      for (const executionId of changes.executionIds) changed.add(executionId);
      runChanged = true;
    }
  }
  for (const executionId of changed) wakeups.wakeExecution(executionId);
  if (runChanged) wakeups.wakeRun(runId);
  if (ctx.runDueAt !== undefined) {
    const now = clock.now();
    // something fired: read the run again next time; a run no longer open needs no memo
    if (times === null) ctx.runDueAt.delete(runId);
    else ctx.runDueAt.set(runId, runChanged ? now : Math.min(nextDueAt(now, times), now + RUN_MODEL_RECHECK_MS));
  }
}

/** enforceRun, skipped while nothing of the run can be due (the lease path runs before every answer). */
async function enforceRunIfDue(ctx: RunModelContext, runId: string): Promise<void> {
  const due = ctx.runDueAt?.get(runId);
  if (due !== undefined && ctx.deps.clock.now() < due) return;
  await enforceRun(ctx, runId);
}

/** A lease granted at `now` may be due before what the memo says: its expiry or its task time-out. */
function noteLease(ctx: RunModelContext, runId: string, now: number, task: { leaseMs: number; timeoutMs: number }): void {
  const due = ctx.runDueAt?.get(runId);
  if (due !== undefined) ctx.runDueAt?.set(runId, Math.min(due, leaseDueAt(now, task.leaseMs, task.timeoutMs)));
}

async function exitReason(deps: AppDeps, runId: string): Promise<string | null> {
  const facts = await deps.state.runExitFacts(runId);
  if (facts === null) throw new NotFoundError(`run ${runId} not found; create it with POST /v1/runs first`);
  return agentExitReason(facts);
}

/**
 * The agent's long-poll: exit when the run is over (or its agents are no longer
 * needed), else lease the highest-priority ready task, else hold the request up to
 * waitMs for a wake-up (a ready task, an ended run, the next lease expiry, the
 * sweeper) and try again.
 */
export async function leaseLoop(
  ctx: RunModelContext,
  runId: string,
  request: LeaseRequest,
  signal: AbortSignal,
  /** Checked after every wait: a token revoked while the request was held gets no task. */
  stillAuthorized: () => Promise<void> = async () => undefined,
): Promise<LeaseResponse> {
  const { deps, wakeups } = ctx;
  const elapsed = stopwatch();
  const waitMs = request.waitMs ?? 0;
  for (let round = 0; ; round++) {
    // listening from before the reads: a task readied while they are in flight wakes the wait below
    const watch = wakeups.watch([runKey(runId)]);
    try {
      if (round > 0) await stillAuthorized();
      await enforceRunIfDue(ctx, runId);
      const reason = await exitReason(deps, runId);
      if (reason !== null) {
        await deps.state.markAgentSeen(runId, request.agentName, deps.clock.now(), true);
        return { action: 'exit', reason };
      }
      if (signal.aborted) return { action: 'wait', retryInMs: RETRY_IN_MS };
      const now = deps.clock.now();
      const task = await deps.state.leaseNext(runId, request.agentName, deps.ids.next(), now, deps.config.leaseMs);
      if (task !== null) {
        noteLease(ctx, runId, now, task);
        wakeups.wakeExecution(task.executionId);
        wakeups.wakeRun(runId);
        return { action: 'run', task };
      }
      const left = waitMs - elapsed();
      if (left <= 0) return { action: 'wait', retryInMs: RETRY_IN_MS };
      const nextExpiry = await deps.state.nextLeaseExpiry(runId);
      const untilExpiry = nextExpiry === null ? left : Math.max(1, nextExpiry - now + 1);
      await watch.wait(Math.min(left, untilExpiry), signal);
    } finally {
      watch.stop();
    }
  }
}
