import { publicRunId } from '../../trust/namespaces';
import type { DurationRecord } from '@fleet/core';
import type { ExecutionView, FailedAttempt, FinishExecutionRequest } from '@fleet/protocol';
import type { CachedResult, ExecutionRef, NewExecution, ReportHashOutcome } from '../state-store';
import { endExecution, settleExecution } from './graph';
import { asExecutionStatus, toTaskView } from './rows';
import { AGENT_CONNECTED_MS, type ExecutionRow, type LeaseRow, type Sql, type TaskRow } from './sql';

export function readExecutionView(sql: Sql, executionId: string, now: number): ExecutionView | null {
  const execution = sql.get<ExecutionRow>('SELECT * FROM executions WHERE execution_id = ?', executionId);
  if (execution === undefined) return null;
  const tasks = sql.all<TaskRow>('SELECT * FROM tasks WHERE exec_seq = ? ORDER BY ord', execution.seq);
  const failedAttempts = new Map<string, FailedAttempt[]>();
  const retried = sql.all<Pick<LeaseRow, 'task_id' | 'agent' | 'exit_code' | 'log'>>(
    "SELECT task_id, agent, exit_code, log FROM leases WHERE exec_seq = ? AND outcome = 'retried' ORDER BY created_at, rowid",
    execution.seq,
  );
  for (const attempt of retried) {
    const list = failedAttempts.get(attempt.task_id) ?? [];
    list.push({ agent: attempt.agent, exitCode: attempt.exit_code, log: attempt.log });
    failedAttempts.set(attempt.task_id, list);
  }
  const agents = sql.get<{ n: number }>(
    'SELECT COUNT(*) AS n FROM agents WHERE run_id = ? AND exited = 0 AND last_seen_at >= ?',
    execution.run_id,
    now - AGENT_CONNECTED_MS,
  );
  return {
    executionId: execution.execution_id,
    runId: publicRunId(execution.run_id),
    command: execution.command,
    status: asExecutionStatus(execution.status),
    version: execution.version,
    tasks: tasks.map((row) => {
      const view = toTaskView(row);
      const attempts = failedAttempts.get(row.task_id);
      return attempts === undefined ? view : { ...view, failedAttempts: attempts };
    }),
    agentsConnected: agents?.n ?? 0,
  };
}

/** The view of a just-inserted execution, built from the plan instead of re-read row by row. */
function plannedView(sql: Sql, runId: string, seq: number, execution: NewExecution, now: number): ExecutionView {
  const row = sql.get<ExecutionRow>('SELECT * FROM executions WHERE seq = ?', seq) as ExecutionRow;
  const agents = sql.get<{ n: number }>(
    'SELECT COUNT(*) AS n FROM agents WHERE run_id = ? AND exited = 0 AND last_seen_at >= ?',
    runId,
    now - AGENT_CONNECTED_MS,
  );
  return {
    executionId: execution.executionId,
    runId: publicRunId(runId),
    command: execution.command,
    status: asExecutionStatus(row.status),
    version: row.version,
    tasks: execution.tasks.map((task) => {
      const cached = task.status === 'succeeded' ? task.cached : null;
      return {
        id: task.id,
        project: task.project,
        target: task.target,
        configuration: task.configuration,
        status: task.status,
        hash: task.hash,
        agent: cached?.agentName ?? null,
        exitCode: cached === null ? null : 0,
        attempts: 0,
        durationMs: cached?.durationMs ?? null,
        message: null,
        log: null,
        retried: 0,
      };
    }),
    agentsConnected: agents?.n ?? 0,
  };
}

export function insertExecution(
  sql: Sql,
  runId: string,
  execution: NewExecution,
  now: number,
): { view: ExecutionView; created: boolean } {
  return sql.tx(() => {
    const existing = readExecutionView(sql, execution.executionId, now);
    if (existing !== null) return { view: existing, created: false };
    const { lastInsertRowid } = sql.run(
      `INSERT INTO executions (execution_id, run_id, command, status, version, created_at, last_seen_at)
       VALUES (?, ?, ?, 'running', 1, ?, ?)`,
      execution.executionId,
      runId,
      execution.command,
      now,
      now,
    );
    const seq = Number(lastInsertRowid);
    const insertTask = sql.stmt(
      `INSERT INTO tasks (exec_seq, task_id, ord, run_id, project, target, configuration, status, hash, deps,
         priority, agent, exit_code, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertEdge = sql.stmt('INSERT OR IGNORE INTO task_edges (exec_seq, dep_id, task_id) VALUES (?, ?, ?)');
    execution.tasks.forEach((task, ord) => {
      const cached = task.status === 'succeeded' ? task.cached : null;
      insertTask.run(
        seq,
        task.id,
        ord,
        runId,
        task.project,
        task.target,
        task.configuration,
        task.status,
        task.hash,
        JSON.stringify(task.deps),
        task.priority,
        cached?.agentName ?? null,
        cached === null ? null : 0,
        cached?.durationMs ?? null,
      );
      for (const dep of task.deps) insertEdge.run(seq, dep, task.id);
    });
    settleExecution(sql, seq);
    return { view: plannedView(sql, runId, seq, execution, now), created: true };
  });
}

export function getExecutionRef(sql: Sql, executionId: string): ExecutionRef | null {
  const row = sql.get<ExecutionRow>('SELECT * FROM executions WHERE execution_id = ?', executionId);
  return row === undefined ? null : { executionId, runId: row.run_id, version: row.version };
}

export function findSuccessfulResults(
  sql: Sql,
  namespaces: readonly string[],
  hashes: readonly string[],
): Map<string, CachedResult> {
  const found = new Map<string, CachedResult>();
  for (const hash of new Set(hashes)) {
    for (const namespace of namespaces) {
      const row = sql.get<{ agent: string | null; duration_ms: number | null }>(
        'SELECT agent, duration_ms FROM results WHERE namespace = ? AND hash = ?',
        namespace,
        hash,
      );
      if (row !== undefined) {
        found.set(hash, { hash, agentName: row.agent, durationMs: row.duration_ms });
        break;
      }
    }
  }
  return found;
}

export function loadDurationHistory(sql: Sql, targets: readonly string[], limit: number): DurationRecord[] {
  const records: DurationRecord[] = [];
  for (const target of new Set(targets)) {
    const rows = sql.all<{ project: string; target: string; duration_ms: number }>(
      'SELECT project, target, duration_ms FROM history WHERE target = ? AND exit_code = 0 ORDER BY id DESC LIMIT ?',
      target,
      limit,
    );
    for (const r of rows) records.push({ project: r.project, target: r.target, durationMs: r.duration_ms });
  }
  return records;
}

export function reportHash(sql: Sql, executionId: string, taskId: string, hash: string): ReportHashOutcome {
  return sql.tx((): ReportHashOutcome => {
    const execution = sql.get<ExecutionRow>('SELECT * FROM executions WHERE execution_id = ?', executionId);
    if (execution === undefined) return 'unknown_execution';
    const task = sql.get<TaskRow>('SELECT * FROM tasks WHERE exec_seq = ? AND task_id = ?', execution.seq, taskId);
    if (task === undefined) return 'unknown_task';
    if (task.hash !== null) return 'unchanged';
    sql.run('UPDATE tasks SET hash = ? WHERE exec_seq = ? AND task_id = ?', hash, execution.seq, taskId);
    sql.run('UPDATE executions SET version = version + 1 WHERE seq = ?', execution.seq);
    return 'stored';
  });
}

export function heartbeatExecution(sql: Sql, executionId: string, now: number): boolean {
  return sql.run('UPDATE executions SET last_seen_at = ? WHERE execution_id = ?', now, executionId).changes > 0;
}

export function finishExecution(
  sql: Sql,
  executionId: string,
  status: FinishExecutionRequest['status'],
  now: number,
): ExecutionView | null {
  return sql.tx(() => {
    const execution = sql.get<ExecutionRow>('SELECT * FROM executions WHERE execution_id = ?', executionId);
    if (execution === undefined) return null;
    if (asExecutionStatus(execution.status) === 'running') {
      endExecution(sql, execution.seq, status, `execution finished (${status}) before the task ran`, now);
    }
    sql.run('UPDATE executions SET last_seen_at = ? WHERE seq = ?', now, execution.seq);
    return readExecutionView(sql, executionId, now);
  });
}
