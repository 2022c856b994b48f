import type { RunStatus } from '@fleet/protocol';

/** What the exit decision needs to know about a run. */
export interface RunExitFacts {
  readonly runId: string;
  readonly status: RunStatus;
  /** Why the run ended, when the coordinator ended it (a time-out, main gone). */
  readonly reason: string | null;
  readonly stopAgentsOnFailure: boolean;
  /** Tasks of the run that failed for good (a failure that will be retried does not count). */
  readonly failedTasks: number;
  /** --stop-agents-after: target names. */
  readonly stopAgentsAfter: readonly string[];
  /** Tasks of the run whose target is in stopAgentsAfter, and how many of them are not terminal. */
  readonly listedTasks: number;
  readonly listedUnfinished: number;
  /** Tasks of the run that are ready or leased, whatever their target. */
  readonly readyOrLeased: number;
}

/**
 * Why an agent asking for work should exit, or null to keep it. With stopAgentsAfter,
 * agents exit once the run has at least one task of a listed target, every such task is
 * terminal, and nothing of the run is ready or leased (queued work is never abandoned).
 * A run with no task of a listed target keeps its agents until it completes, so a
 * pipeline whose listed targets are not affected costs agent time, never a hang.
 */
export function agentExitReason(facts: RunExitFacts): string | null {
  switch (facts.status) {
    case 'completed':
      return `run ${facts.runId} is completed`;
    case 'failed':
      return facts.reason ? `run ${facts.runId} failed: ${facts.reason}` : `run ${facts.runId} is failed`;
    case 'open':
      break;
    default: {
      const never: never = facts.status;
      throw new Error(`unknown run status ${String(never)}`);
    }
  }
  if (facts.stopAgentsOnFailure && facts.failedTasks > 0) {
    return `a task of run ${facts.runId} failed and stopAgentsOnFailure is set`;
  }
  if (
    facts.stopAgentsAfter.length > 0 &&
    facts.listedTasks > 0 &&
    facts.listedUnfinished === 0 &&
    facts.readyOrLeased === 0
  ) {
    return `targets ${facts.stopAgentsAfter.join(', ')} done`;
  }
  return null;
}
