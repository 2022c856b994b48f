import {
  EXECUTION_STATUSES,
  RUN_STATUSES,
  TASK_STATUSES,
  type ExecutionStatus,
  type RunStatus,
  type TaskStatus,
  type TaskView,
} from '@fleet/protocol';
import type { TaskRow } from './sql';

function member<T extends string>(values: readonly T[], value: string, what: string): T {
  if ((values as readonly string[]).includes(value)) return value as T;
  throw new Error(`corrupt state: unknown ${what} status ${value}`);
}

export const asRunStatus = (value: string): RunStatus => member(RUN_STATUSES, value, 'run');
export const asTaskStatus = (value: string): TaskStatus => member(TASK_STATUSES, value, 'task');
export const asExecutionStatus = (value: string): ExecutionStatus =>
  member(EXECUTION_STATUSES, value, 'execution');

export function parseDeps(row: Pick<TaskRow, 'deps'>): string[] {
  return JSON.parse(row.deps) as string[];
}

export function toTaskView(row: TaskRow): TaskView {
  return {
    id: row.task_id,
    project: row.project,
    target: row.target,
    configuration: row.configuration,
    status: asTaskStatus(row.status),
    hash: row.hash,
    agent: row.agent,
    exitCode: row.exit_code,
    attempts: row.attempts,
    durationMs: row.duration_ms,
    message: row.message,
    log: row.log ?? null,
    retried: row.retried,
  };
}
