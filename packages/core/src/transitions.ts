import { TERMINAL_TASK_STATUSES, type ExecutionStatus, type TaskStatus } from '@fleet/protocol';

/** What the transition functions need to know about a task. */
export interface TaskNode {
  readonly id: string;
  readonly status: TaskStatus;
  readonly deps: readonly string[];
}

/**
 * A view of (part of) an execution's graph. Partial graphs are fine as long as they
 * hold every node the function will look at: the dependants of the task in question
 * and, for `readyAfterSuccess`, those dependants' deps.
 */
export interface GraphSlice {
  readonly nodes: ReadonlyMap<string, TaskNode>;
  readonly dependants: ReadonlyMap<string, readonly string[]>;
}

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.has(status);
}

/** Ids of the pending dependants of `succeededId` whose deps have now all succeeded. */
export function readyAfterSuccess(graph: GraphSlice, succeededId: string): string[] {
  const ready: string[] = [];
  for (const id of graph.dependants.get(succeededId) ?? []) {
    const node = graph.nodes.get(id);
    if (node === undefined || node.status !== 'pending') continue;
    const allDone = node.deps.every(
      (dep) => dep === succeededId || graph.nodes.get(dep)?.status === 'succeeded',
    );
    if (allDone) ready.push(id);
  }
  return ready;
}

/** Ids of every not-yet-terminal task that (transitively) depends on `failedId`. */
export function skippedAfterFailure(graph: GraphSlice, failedId: string): string[] {
  const skipped: string[] = [];
  const seen = new Set<string>([failedId]);
  const stack = [...(graph.dependants.get(failedId) ?? [])];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const node = graph.nodes.get(id);
    if (node !== undefined && !isTerminal(node.status)) skipped.push(id);
    stack.push(...(graph.dependants.get(id) ?? []));
  }
  return skipped;
}

export type InitialStatus = Extract<TaskStatus, 'pending' | 'ready' | 'succeeded'>;

/**
 * Statuses of a freshly planned execution: cache hits are succeeded, tasks whose deps
 * are all cache hits are ready, the rest wait.
 */
export function initialStatuses(
  tasks: readonly { readonly id: string; readonly deps: readonly string[] }[],
  cached: ReadonlySet<string>,
): Map<string, InitialStatus> {
  const statuses = new Map<string, InitialStatus>();
  for (const task of tasks) {
    if (cached.has(task.id)) statuses.set(task.id, 'succeeded');
    else statuses.set(task.id, task.deps.every((d) => cached.has(d)) ? 'ready' : 'pending');
  }
  return statuses;
}

/** The status an execution has by itself: running until every task is terminal. */
export function executionOutcome(statuses: Iterable<TaskStatus>): ExecutionStatus {
  let failed = false;
  let cancelled = false;
  for (const status of statuses) {
    switch (status) {
      case 'pending':
      case 'ready':
      case 'leased':
        return 'running';
      case 'failed':
      case 'skipped':
        failed = true;
        break;
      case 'cancelled':
        cancelled = true;
        break;
      case 'succeeded':
        break;
      default: {
        const never: never = status;
        throw new Error(`unknown task status ${String(never)}`);
      }
    }
  }
  if (failed) return 'failed';
  return cancelled ? 'cancelled' : 'succeeded';
}
