import type { TaskView } from '@fleet/protocol';

type RetryFacts = Pick<TaskView, 'id' | 'status' | 'agent' | 'retried' | 'failedAttempts'>;

/**
 * One line about a task's flaky retries for main's summary, or null when it was not
 * retried: "a:test failed on agent-1 and was retried on agent-2", "a:test failed on
 * agent-1, then on agent-2, and was retried on agent-3".
 */
export function describeRetries(task: RetryFacts): string | null {
  const failed = task.failedAttempts ?? [];
  if ((task.retried ?? 0) === 0 || failed.length === 0) return null;
  const where = failed.map((a, i) => (i === 0 ? `on ${a.agent}` : `then on ${a.agent}`)).join(', ');
  const retriedOn = task.agent ? ` on ${task.agent}` : '';
  return `${task.id} failed ${where}${failed.length > 1 ? ',' : ''} and was retried${retriedOn}`;
}

/** Tasks that passed only on a retry: the flaky ones. */
export function flakyTasks<T extends RetryFacts>(tasks: readonly T[]): T[] {
  return tasks.filter((t) => t.status === 'succeeded' && (t.retried ?? 0) > 0);
}
