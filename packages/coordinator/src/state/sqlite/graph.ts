/** Graph changes inside an execution; callers hold the transaction. */
import { executionOutcome, readyAfterSuccess, skippedAfterFailure, type TaskNode } from '@fleet/core';
import type { ExecutionStatus } from '@fleet/protocol';
import { asExecutionStatus, asTaskStatus, parseDeps } from './rows';
import type { LeaseOutcome, Sql, TaskRow } from './sql';

export const UNFINISHED = "('pending', 'ready', 'leased')";

export function bumpVersion(sql: Sql, seq: number): void {
  sql.run('UPDATE executions SET version = version + 1 WHERE seq = ?', seq);
}

/**
 * A running execution whose tasks are all terminal takes its outcome as status. Called
 * on every completion: while a task is unfinished it costs three index probes
 * (tasks_by_status), not a pass over the execution's tasks; the statuses are read
 * only once nothing is left to run.
 */
export function settleExecution(sql: Sql, seq: number): void {
  const row = sql.get<{ status: string }>('SELECT status FROM executions WHERE seq = ?', seq);
  if (row === undefined || asExecutionStatus(row.status) !== 'running') return;
  if (sql.get(`SELECT 1 FROM tasks WHERE exec_seq = ? AND status IN ${UNFINISHED} LIMIT 1`, seq) !== undefined) return;
  const statuses = sql
    .all<{ status: string }>('SELECT DISTINCT status FROM tasks WHERE exec_seq = ?', seq)
    .map((r) => asTaskStatus(r.status));
  const outcome = executionOutcome(statuses);
  if (outcome !== 'running') sql.run('UPDATE executions SET status = ? WHERE seq = ?', outcome, seq);
}

/**
 * Makes ready the dependants of `taskId` whose deps have all succeeded. Two reads
 * whatever the fan-out (the dependants with their deps, then those deps' statuses), as
 * this runs on every completion.
 */
export function readyDependants(sql: Sql, seq: number, taskId: string): number {
  const dependants = sql.all<Pick<TaskRow, 'task_id' | 'status' | 'deps'>>(
    `SELECT t.task_id, t.status, t.deps FROM task_edges e JOIN tasks t ON t.exec_seq = e.exec_seq AND t.task_id = e.task_id
     WHERE e.exec_seq = ? AND e.dep_id = ?`,
    seq,
    taskId,
  );
  if (dependants.length === 0) return 0;
  const nodes = new Map<string, TaskNode>();
  const wanted = new Set<string>();
  for (const row of dependants) {
    const deps = parseDeps(row);
    nodes.set(row.task_id, { id: row.task_id, status: asTaskStatus(row.status), deps });
    for (const dep of deps) wanted.add(dep);
  }
  for (const id of nodes.keys()) wanted.delete(id);
  if (wanted.size > 0) {
    const rows = sql.all<Pick<TaskRow, 'task_id' | 'status'>>(
      'SELECT task_id, status FROM tasks WHERE exec_seq = ? AND task_id IN (SELECT value FROM json_each(?))',
      seq,
      JSON.stringify([...wanted]),
    );
    for (const row of rows) nodes.set(row.task_id, { id: row.task_id, status: asTaskStatus(row.status), deps: [] });
  }
  const dependantIds = dependants.map((r) => r.task_id);
  const ready = readyAfterSuccess({ nodes, dependants: new Map([[taskId, dependantIds]]) }, taskId);
  for (const id of ready) {
    sql.run("UPDATE tasks SET status = 'ready' WHERE exec_seq = ? AND task_id = ?", seq, id);
  }
  return ready.length;
}

/** Marks every unfinished (transitive) dependant of `failedId` skipped. */
export function skipDependants(sql: Sql, seq: number, failedId: string): void {
  const rows = sql.all<Pick<TaskRow, 'task_id' | 'status' | 'deps'>>(
    'SELECT task_id, status, deps FROM tasks WHERE exec_seq = ?',
    seq,
  );
  const nodes = new Map<string, TaskNode>();
  const dependants = new Map<string, string[]>();
  for (const row of rows) {
    const deps = parseDeps(row);
    nodes.set(row.task_id, { id: row.task_id, status: asTaskStatus(row.status), deps });
    for (const dep of deps) {
      const list = dependants.get(dep);
      if (list === undefined) dependants.set(dep, [row.task_id]);
      else list.push(row.task_id);
    }
  }
  const message = `not run: dependency ${failedId} failed`;
  for (const id of skippedAfterFailure({ nodes, dependants }, failedId)) {
    sql.run(
      "UPDATE tasks SET status = 'skipped', message = ? WHERE exec_seq = ? AND task_id = ?",
      message,
      seq,
      id,
    );
  }
}

/** Records how a task's current lease ended (before the task lets go of it). */
export function endCurrentLease(sql: Sql, seq: number, taskId: string, outcome: LeaseOutcome, now: number): void {
  sql.run(
    `UPDATE leases SET outcome = ?, ended_at = ?
     WHERE lease_id = (SELECT lease_id FROM tasks WHERE exec_seq = ? AND task_id = ?) AND outcome IS NULL`,
    outcome,
    now,
    seq,
    taskId,
  );
}

/** Ends an execution with `status`, cancelling what had not finished (the leases of running tasks too). */
export function endExecution(
  sql: Sql,
  seq: number,
  status: Exclude<ExecutionStatus, 'running'>,
  why: string,
  now: number,
): void {
  sql.run(
    `UPDATE leases SET outcome = 'cancelled', ended_at = ?
     WHERE outcome IS NULL AND lease_id IN (SELECT lease_id FROM tasks WHERE exec_seq = ? AND status = 'leased')`,
    now,
    seq,
  );
  sql.run(
    `UPDATE tasks SET status = 'cancelled', lease_id = NULL, lease_expires_at = NULL, message = ?
     WHERE exec_seq = ? AND status IN ${UNFINISHED}`,
    why,
    seq,
  );
  sql.run('UPDATE executions SET status = ?, version = version + 1 WHERE seq = ?', status, seq);
}

/**
 * With --stop-agents-on-failure, the first failure ends the run's work: what has not
 * started yet is cancelled (main shows it as such at once); running tasks finish.
 */
export function stopRunOnFailure(sql: Sql, runId: string, failedId: string): void {
  const run = sql.get<{ stop_agents_on_failure: number }>('SELECT stop_agents_on_failure FROM runs WHERE run_id = ?', runId);
  if (run === undefined || run.stop_agents_on_failure !== 1) return;
  const message = `not run: ${failedId} failed and the run stops on the first failure (--stop-agents-on-failure)`;
  const seqs = sql.all<{ seq: number }>("SELECT seq FROM executions WHERE run_id = ? AND status = 'running'", runId);
  for (const { seq } of seqs) {
    const { changes } = sql.run(
      "UPDATE tasks SET status = 'cancelled', message = ? WHERE exec_seq = ? AND status IN ('pending', 'ready')",
      message,
      seq,
    );
    if (changes > 0) {
      bumpVersion(sql, seq);
      settleExecution(sql, seq);
    }
  }
}
