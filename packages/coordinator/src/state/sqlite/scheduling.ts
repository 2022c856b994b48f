import { attemptNumber, expireLease, failAttempt, leaseExpiresAt } from '@fleet/core';
import type { LeasedTask } from '@fleet/protocol';
import type {
  CompleteLeaseOutcome,
  ExecutionRef,
  HeartbeatLeaseOutcome,
  LeaseCompletion,
  ReleaseLeaseOutcome,
} from '../state-store';
import { bumpVersion, endCurrentLease, readyDependants, settleExecution, skipDependants, stopRunOnFailure } from './graph';
import { asTaskStatus } from './rows';
import { upsertAgent } from './runs';
import { AGENT_CONNECTED_MS, type ExecutionRow, type LeaseRow, type RunRow, type Sql, type TaskRow } from './sql';

function executionOf(sql: Sql, seq: number): ExecutionRow {
  return sql.get<ExecutionRow>('SELECT * FROM executions WHERE seq = ?', seq) as ExecutionRow;
}

export function expireLeases(sql: Sql, runId: string, now: number, leaseRetries: number): string[] {
  return sql.tx(() => {
    const overdue = sql.all<TaskRow>(
      "SELECT * FROM tasks WHERE run_id = ? AND status = 'leased' AND lease_expires_at <= ?",
      runId,
      now,
    );
    const changed = new Set<number>();
    for (const task of overdue) {
      endCurrentLease(sql, task.exec_seq, task.task_id, 'lost', now);
      const lostOn = sql
        .all<{ agent: string }>(
          "SELECT agent FROM leases WHERE exec_seq = ? AND task_id = ? AND outcome = 'lost' ORDER BY created_at, rowid",
          task.exec_seq,
          task.task_id,
        )
        .map((l) => l.agent);
      const outcome = expireLease(lostOn, leaseRetries);
      // back to ready: the lost attempt counts; failed: the lost attempt was the last one
      sql.run(
        `UPDATE tasks SET status = ?, attempts = attempts + ?, message = ?, lease_id = NULL, lease_expires_at = NULL
         WHERE exec_seq = ? AND task_id = ?`,
        outcome.status,
        outcome.status === 'ready' ? 1 : 0,
        outcome.message,
        task.exec_seq,
        task.task_id,
      );
      if (outcome.status === 'failed') {
        skipDependants(sql, task.exec_seq, task.task_id);
        stopRunOnFailure(sql, task.run_id, task.task_id);
      }
      changed.add(task.exec_seq);
    }
    const ids: string[] = [];
    for (const seq of changed) {
      bumpVersion(sql, seq);
      settleExecution(sql, seq);
      ids.push(executionOf(sql, seq).execution_id);
    }
    return ids;
  });
}

export function nextLeaseExpiry(sql: Sql, runId: string): number | null {
  const row = sql.get<{ t: number | null }>(
    "SELECT MIN(lease_expires_at) AS t FROM tasks WHERE run_id = ? AND status = 'leased'",
    runId,
  );
  return row?.t ?? null;
}

/** Start of a subquery: "a lease of task t that failed and was retried, on agent …". */
const FAILED_BY =
  "SELECT 1 FROM leases l WHERE l.exec_seq = t.exec_seq AND l.task_id = t.task_id AND l.outcome = 'retried' AND l";

export function leaseNext(
  sql: Sql,
  runId: string,
  agentName: string,
  leaseId: string,
  now: number,
  leaseMs: number,
): LeasedTask | null {
  return sql.tx(() => {
    upsertAgent(sql, runId, agentName, null, now);
    // Same order as core's compareReady: b-level first, then execution and plan order.
    // A task this agent failed before (and that was retried) is left to another
    // connected agent that has not failed it, while there is one.
    const task = sql.get<TaskRow>(
      `SELECT * FROM tasks t WHERE t.run_id = ? AND t.status = 'ready' AND (
         t.retried = 0
         OR NOT EXISTS (${FAILED_BY}.agent = ?)
         OR NOT EXISTS (
           SELECT 1 FROM agents a WHERE a.run_id = t.run_id AND a.name <> ? AND a.exited = 0 AND a.last_seen_at >= ?
             AND NOT EXISTS (${FAILED_BY}.agent = a.name)))
       ORDER BY t.priority DESC, t.exec_seq ASC, t.ord ASC LIMIT 1`,
      runId,
      agentName,
      agentName,
      now - AGENT_CONNECTED_MS,
    );
    if (task === undefined) return null;
    const run = sql.get<Pick<RunRow, 'task_timeout_ms'>>('SELECT task_timeout_ms FROM runs WHERE run_id = ?', runId);
    const expiresAt = leaseExpiresAt(now, leaseMs);
    sql.run(
      `UPDATE tasks SET status = 'leased', lease_id = ?, lease_expires_at = ?, agent = ?
       WHERE exec_seq = ? AND task_id = ?`,
      leaseId,
      expiresAt,
      agentName,
      task.exec_seq,
      task.task_id,
    );
    sql.run(
      'INSERT INTO leases (lease_id, exec_seq, task_id, agent, created_at) VALUES (?, ?, ?, ?, ?)',
      leaseId,
      task.exec_seq,
      task.task_id,
      agentName,
      now,
    );
    bumpVersion(sql, task.exec_seq);
    return {
      leaseId,
      executionId: executionOf(sql, task.exec_seq).execution_id,
      taskId: task.task_id,
      project: task.project,
      target: task.target,
      configuration: task.configuration,
      hash: task.hash,
      attempt: attemptNumber(task.attempts),
      leaseMs,
      timeoutMs: run?.task_timeout_ms ?? 0,
    };
  });
}

/** A lease is live while it is still its task's current lease (even if overdue but not yet expired). */
function liveTask(sql: Sql, lease: LeaseRow): TaskRow | null {
  const task = sql.get<TaskRow>('SELECT * FROM tasks WHERE exec_seq = ? AND task_id = ?', lease.exec_seq, lease.task_id);
  if (task === undefined) return null;
  return task.lease_id === lease.lease_id && asTaskStatus(task.status) === 'leased' ? task : null;
}

export function heartbeatLease(
  sql: Sql,
  leaseId: string,
  agentName: string,
  now: number,
  leaseMs: number,
): HeartbeatLeaseOutcome {
  return sql.tx((): HeartbeatLeaseOutcome => {
    const lease = sql.get<LeaseRow>('SELECT * FROM leases WHERE lease_id = ?', leaseId);
    if (lease === undefined) return { kind: 'unknown_lease' };
    if (lease.agent !== agentName) return { kind: 'not_owner', owner: lease.agent };
    const task = liveTask(sql, lease);
    if (task === null) return { kind: 'unknown_lease' };
    sql.run(
      'UPDATE tasks SET lease_expires_at = ? WHERE exec_seq = ? AND task_id = ?',
      leaseExpiresAt(now, leaseMs),
      lease.exec_seq,
      lease.task_id,
    );
    upsertAgent(sql, task.run_id, agentName, null, now);
    return { kind: 'extended', runId: task.run_id };
  });
}

/** Whether `result` repeats the completion this lease already ended with. */
function isRepeatedCompletion(lease: LeaseRow, result: LeaseCompletion): boolean {
  const completed = lease.outcome === 'succeeded' || lease.outcome === 'failed' || lease.outcome === 'retried';
  return completed && lease.exit_code === result.exitCode;
}

/** Records a result that came after the coordinator had taken the task back; the first one is kept. */
function recordLate(sql: Sql, leaseId: string, result: LeaseCompletion, now: number): void {
  sql.run(
    'UPDATE leases SET late_result_at = ?, late_exit_code = ?, late_hash = ? WHERE lease_id = ? AND late_result_at IS NULL',
    now,
    result.exitCode,
    result.hash,
    leaseId,
  );
}

export function completeLease(sql: Sql, leaseId: string, result: LeaseCompletion, now: number): CompleteLeaseOutcome {
  return sql.tx((): CompleteLeaseOutcome => {
    const lease = sql.get<LeaseRow>('SELECT * FROM leases WHERE lease_id = ?', leaseId);
    if (lease === undefined) return { kind: 'unknown_lease' };
    if (lease.agent !== result.agentName) return { kind: 'not_owner', owner: lease.agent };
    const execution = executionOf(sql, lease.exec_seq);
    const base = { kind: 'done', executionId: execution.execution_id, runId: execution.run_id } as const;
    const task = liveTask(sql, lease);
    if (task === null) {
      const current = sql.get<TaskRow>(
        'SELECT status FROM tasks WHERE exec_seq = ? AND task_id = ?',
        lease.exec_seq,
        lease.task_id,
      );
      const taskStatus = asTaskStatus(current?.status ?? 'cancelled');
      // the same completion again (its answer was lost, the client retried): the first one's answer, no second effect
      if (isRepeatedCompletion(lease, result)) return { ...base, accepted: true, taskStatus, repeated: true };
      // late: the task was re-queued, re-leased, timed out or cancelled; this result changes nothing of it
      recordLate(sql, leaseId, result, now);
      return { ...base, accepted: false, taskStatus };
    }
    // the hash the agent's Nx computed wins: its artifact is stored under it
    const hash = result.hash ?? task.hash;
    const log = result.exitCode === 0 ? null : (result.log ?? null);
    sql.run(
      'INSERT INTO history (project, target, hash, duration_ms, exit_code, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
      task.project,
      task.target,
      hash,
      result.durationMs,
      result.exitCode,
      now,
    );
    // the agent is seen and has run one more task: one statement while its row exists (it joined or leased)
    const counted = sql.run(
      'UPDATE agents SET tasks_run = tasks_run + 1, last_seen_at = ? WHERE run_id = ? AND name = ?',
      now,
      task.run_id,
      result.agentName,
    );
    if (counted.changes === 0) {
      upsertAgent(sql, task.run_id, result.agentName, null, now);
      sql.run('UPDATE agents SET tasks_run = tasks_run + 1 WHERE run_id = ? AND name = ?', task.run_id, result.agentName);
    }
    const run = sql.get<Pick<RunRow, 'retries'>>('SELECT retries FROM runs WHERE run_id = ?', task.run_id);
    const status = result.exitCode === 0 ? 'succeeded' : failAttempt(task.retried, run?.retries ?? 0).status;
    sql.run(
      'UPDATE leases SET outcome = ?, ended_at = ?, exit_code = ?, log = ? WHERE lease_id = ?',
      status === 'ready' ? 'retried' : status,
      now,
      result.exitCode,
      log,
      leaseId,
    );
    if (status === 'ready') {
      // a flaky retry: the failed attempt's result stays with its lease (failedAttempts in the view)
      sql.run(
        `UPDATE tasks SET status = 'ready', attempts = attempts + 1, retried = retried + 1, exit_code = NULL,
           duration_ms = NULL, message = NULL, log = NULL, lease_id = NULL, lease_expires_at = NULL
         WHERE exec_seq = ? AND task_id = ?`,
        task.exec_seq,
        task.task_id,
      );
      bumpVersion(sql, task.exec_seq);
      return { ...base, accepted: true, taskStatus: 'ready' };
    }
    sql.run(
      `UPDATE tasks SET status = ?, hash = ?, agent = ?, exit_code = ?, duration_ms = ?, message = ?, log = ?,
         lease_id = NULL, lease_expires_at = NULL
       WHERE exec_seq = ? AND task_id = ?`,
      status,
      hash,
      result.agentName,
      result.exitCode,
      result.durationMs,
      result.message,
      log,
      task.exec_seq,
      task.task_id,
    );
    if (status === 'succeeded') {
      const artifactKey = result.hash ?? hash;
      if (artifactKey !== null) {
        sql.run(
          `INSERT INTO results (namespace, hash, exec_seq, task_id, agent, duration_ms, recorded_at)
           SELECT r.cache_namespace, ?, ?, ?, ?, ?, ? FROM runs r WHERE r.run_id = ?
           ON CONFLICT (namespace, hash) DO NOTHING`,
          artifactKey,
          task.exec_seq,
          task.task_id,
          result.agentName,
          result.durationMs,
          now,
          task.run_id,
        );
      }
      readyDependants(sql, task.exec_seq, task.task_id);
    } else {
      skipDependants(sql, task.exec_seq, task.task_id);
      stopRunOnFailure(sql, task.run_id, task.task_id);
    }
    bumpVersion(sql, task.exec_seq);
    settleExecution(sql, task.exec_seq);
    return { ...base, accepted: true, taskStatus: status };
  });
}

/** Fails the task of a current lease whose task time-out fired. */
export function timeOutLease(sql: Sql, leaseId: string, message: string, now: number): ExecutionRef | null {
  return sql.tx((): ExecutionRef | null => {
    const lease = sql.get<LeaseRow>('SELECT * FROM leases WHERE lease_id = ?', leaseId);
    if (lease === undefined) return null;
    const task = liveTask(sql, lease);
    if (task === null) return null;
    endCurrentLease(sql, task.exec_seq, task.task_id, 'timed_out', now);
    sql.run(
      `UPDATE tasks SET status = 'failed', exit_code = NULL, duration_ms = ?, message = ?, log = NULL,
         lease_id = NULL, lease_expires_at = NULL
       WHERE exec_seq = ? AND task_id = ?`,
      now - lease.created_at,
      message,
      task.exec_seq,
      task.task_id,
    );
    skipDependants(sql, task.exec_seq, task.task_id);
    stopRunOnFailure(sql, task.run_id, task.task_id);
    bumpVersion(sql, task.exec_seq);
    settleExecution(sql, task.exec_seq);
    const execution = executionOf(sql, task.exec_seq);
    return { executionId: execution.execution_id, runId: execution.run_id, version: execution.version };
  });
}

export function releaseLease(sql: Sql, leaseId: string, agentName: string, now: number): ReleaseLeaseOutcome {
  return sql.tx((): ReleaseLeaseOutcome => {
    const lease = sql.get<LeaseRow>('SELECT * FROM leases WHERE lease_id = ?', leaseId);
    if (lease === undefined) return { kind: 'unknown_lease' };
    if (lease.agent !== agentName) return { kind: 'not_owner', owner: lease.agent };
    const task = liveTask(sql, lease);
    if (task === null) return { kind: 'not_current' };
    endCurrentLease(sql, task.exec_seq, task.task_id, 'released', now);
    sql.run(
      `UPDATE tasks SET status = 'ready', attempts = attempts + 1, lease_id = NULL, lease_expires_at = NULL
       WHERE exec_seq = ? AND task_id = ?`,
      task.exec_seq,
      task.task_id,
    );
    bumpVersion(sql, task.exec_seq);
    const execution = executionOf(sql, task.exec_seq);
    return { kind: 'released', executionId: execution.execution_id, runId: execution.run_id };
  });
}
