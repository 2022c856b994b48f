import { attemptNumber, expireLease, leaseExpiresAt } from '@fleet/core';
import type { LeasedTask } from '@fleet/protocol';
import type { CompleteLeaseOutcome, HeartbeatLeaseOutcome, LeaseCompletion } from '../state-store';
import { bumpVersion, readyDependants, settleExecution, skipDependants, stopRunOnFailure } from './graph';
import { asTaskStatus } from './rows';
import { upsertAgent } from './runs';
import type { ExecutionRow, Sql, TaskRow } from './sql';

interface LeaseRow {
  lease_id: string;
  exec_seq: number;
  task_id: string;
  agent: string;
}

function executionOf(sql: Sql, seq: number): ExecutionRow {
  return sql.get<ExecutionRow>('SELECT * FROM executions WHERE seq = ?', seq) as ExecutionRow;
}

export function expireLeases(sql: Sql, runId: string, now: number, maxAttempts: number): string[] {
  return sql.tx(() => {
    const overdue = sql.all<TaskRow>(
      "SELECT * FROM tasks WHERE run_id = ? AND status = 'leased' AND lease_expires_at <= ?",
      runId,
      now,
    );
    const changed = new Set<number>();
    for (const task of overdue) {
      const outcome = expireLease(task.attempts, maxAttempts);
      sql.run(
        `UPDATE tasks SET status = ?, attempts = ?, message = ?, lease_id = NULL, lease_expires_at = NULL
         WHERE exec_seq = ? AND task_id = ?`,
        outcome.status,
        outcome.attempts,
        outcome.message,
        task.exec_seq,
        task.task_id,
      );
      if (outcome.status === 'failed') skipDependants(sql, task.exec_seq, task.task_id);
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

export function leaseNext(
  sql: Sql,
  runId: string,
  agentName: string,
  leaseId: string,
  now: number,
  leaseMs: number,
): LeasedTask | null {
  return sql.tx(() => {
    // Same order as core's compareReady: b-level first, then execution and plan order.
    const task = sql.get<TaskRow>(
      `SELECT * FROM tasks WHERE run_id = ? AND status = 'ready'
       ORDER BY priority DESC, exec_seq ASC, ord ASC LIMIT 1`,
      runId,
    );
    upsertAgent(sql, runId, agentName, null, now);
    if (task === undefined) return null;
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
      return { ...base, accepted: false, taskStatus: asTaskStatus(current?.status ?? 'cancelled') };
    }
    const status = result.exitCode === 0 ? 'succeeded' : 'failed';
    // the hash the agent's Nx computed wins: its artifact is stored under it
    const hash = result.hash ?? task.hash;
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
      status === 'failed' ? (result.log ?? null) : null,
      task.exec_seq,
      task.task_id,
    );
    sql.run(
      'INSERT INTO history (project, target, hash, duration_ms, exit_code, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
      task.project,
      task.target,
      hash,
      result.durationMs,
      result.exitCode,
      now,
    );
    upsertAgent(sql, task.run_id, result.agentName, null, now);
    sql.run('UPDATE agents SET tasks_run = tasks_run + 1 WHERE run_id = ? AND name = ?', task.run_id, result.agentName);
    if (status === 'succeeded') {
      const artifactKey = result.hash ?? hash;
      if (artifactKey !== null) {
        sql.run(
          `INSERT INTO results (hash, exec_seq, task_id, agent, duration_ms, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (hash) DO NOTHING`,
          artifactKey,
          task.exec_seq,
          task.task_id,
          result.agentName,
          result.durationMs,
          now,
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
