import { NotFoundError } from '@fleet/core';
import type { LeaseRequest, LeaseResponse } from '@fleet/protocol';
import type { AppDeps } from './app-deps';
import { stopwatch } from './long-poll';
import { runKey, type Wakeups } from './wakeups';

/** How soon an agent told to wait should ask again. */
export const RETRY_IN_MS = 500;

/** Expires the run's overdue leases and wakes the watchers of what changed. */
export async function expireOverdue(deps: AppDeps, wakeups: Wakeups, runId: string): Promise<void> {
  const changed = await deps.state.expireLeases(runId, deps.clock.now(), deps.config.maxAttempts);
  for (const executionId of changed) wakeups.wakeExecution(executionId);
  if (changed.length > 0) wakeups.wakeRun(runId);
}

async function exitReason(deps: AppDeps, runId: string): Promise<string | null> {
  const run = await deps.state.getRun(runId, deps.clock.now());
  if (run === null) throw new NotFoundError(`run ${runId} not found; create it with POST /v1/runs first`);
  switch (run.status) {
    case 'completed':
    case 'failed':
      return `run ${runId} is ${run.status}`;
    case 'open':
      if (run.stopAgentsOnFailure && (await deps.state.countFailedTasks(runId)) > 0) {
        return `a task of run ${runId} failed and stopAgentsOnFailure is set`;
      }
      return null;
    default: {
      const never: never = run.status;
      throw new Error(`unknown run status ${String(never)}`);
    }
  }
}

/**
 * The agent's long-poll: exit when the run is over, else lease the highest-priority
 * ready task, else hold the request up to waitMs for a wake-up (a ready task, a
 * completed run or the next lease expiry) and try again.
 */
export async function leaseLoop(
  deps: AppDeps,
  wakeups: Wakeups,
  runId: string,
  request: LeaseRequest,
  signal: AbortSignal,
): Promise<LeaseResponse> {
  const elapsed = stopwatch();
  const waitMs = request.waitMs ?? 0;
  for (;;) {
    const reason = await exitReason(deps, runId);
    if (reason !== null) {
      await deps.state.markAgentSeen(runId, request.agentName, deps.clock.now(), true);
      return { action: 'exit', reason };
    }
    await expireOverdue(deps, wakeups, runId);
    if (signal.aborted) return { action: 'wait', retryInMs: RETRY_IN_MS };
    const now = deps.clock.now();
    const task = await deps.state.leaseNext(runId, request.agentName, deps.ids.next(), now, deps.config.leaseMs);
    if (task !== null) {
      wakeups.wakeExecution(task.executionId);
      return { action: 'run', task };
    }
    const left = waitMs - elapsed();
    if (left <= 0) return { action: 'wait', retryInMs: RETRY_IN_MS };
    const nextExpiry = await deps.state.nextLeaseExpiry(runId);
    const untilExpiry = nextExpiry === null ? left : Math.max(1, nextExpiry - now + 1);
    await wakeups.wait([runKey(runId)], Math.min(left, untilExpiry), signal);
  }
}
