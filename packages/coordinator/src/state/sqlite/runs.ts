import type { RunExitFacts } from '@fleet/core';
import type { AgentView, RunStatus, RunView } from '@fleet/protocol';
import type { ChangeSet, NewRun, OpenRunTimes } from '../state-store';
import { publicRunId } from '../../trust/namespaces';
import { endExecution, settleExecution, UNFINISHED } from './graph';
import { asExecutionStatus, asRunStatus } from './rows';
import type { AgentRow, ExecutionRow, RunRow, Sql } from './sql';

function stopAgentsAfter(run: Pick<RunRow, 'stop_agents_after'>): string[] {
  return JSON.parse(run.stop_agents_after) as string[];
}

export function readRunView(sql: Sql, runId: string): RunView | null {
  const run = sql.get<RunRow>('SELECT * FROM runs WHERE run_id = ?', runId);
  if (run === undefined) return null;
  const agents = sql.all<AgentRow>('SELECT * FROM agents WHERE run_id = ? ORDER BY joined_at, name', runId);
  const executions = sql.all<ExecutionRow>('SELECT * FROM executions WHERE run_id = ? ORDER BY seq', runId);
  const failed = sql.all<{ task_id: string }>(
    "SELECT DISTINCT task_id FROM tasks WHERE run_id = ? AND status = 'failed' ORDER BY task_id",
    runId,
  );
  return {
    runId: publicRunId(run.run_id),
    status: asRunStatus(run.status),
    createdAt: run.created_at,
    completedAt: run.completed_at,
    expectedAgents: run.expected_agents,
    stopAgentsOnFailure: run.stop_agents_on_failure === 1,
    branch: run.branch,
    reason: run.reason,
    retries: run.retries,
    stopAgentsAfter: stopAgentsAfter(run),
    mainTimeoutMs: run.main_timeout_ms,
    runTimeoutMs: run.run_timeout_ms,
    taskTimeoutMs: run.task_timeout_ms,
    agents: agents.map(
      (a): AgentView => ({
        name: a.name,
        parallel: a.parallel,
        joinedAt: a.joined_at,
        lastSeenAt: a.last_seen_at,
        tasksRun: a.tasks_run,
        exited: a.exited === 1,
      }),
    ),
    executions: executions.map((e) => ({
      executionId: e.execution_id,
      command: e.command,
      status: asExecutionStatus(e.status),
    })),
    failedTasks: failed.map((f) => f.task_id),
  };
}

export function createRun(sql: Sql, run: NewRun, now: number): RunView {
  return sql.tx(() => {
    sql.run(
      `INSERT INTO runs (run_id, status, created_at, completed_at, expected_agents, stop_agents_on_failure, branch,
         cache_namespace, retries, stop_agents_after, main_timeout_ms, run_timeout_ms, task_timeout_ms)
       VALUES (?, 'open', ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
      run.runId,
      now,
      run.expectedAgents,
      run.stopAgentsOnFailure ? 1 : 0,
      run.branch,
      run.cacheNamespace,
      run.retries,
      JSON.stringify(run.stopAgentsAfter),
      run.mainTimeoutMs,
      run.runTimeoutMs,
      run.taskTimeoutMs,
    );
    return readRunView(sql, run.runId) as RunView;
  });
}

export function completeRun(
  sql: Sql,
  runId: string,
  reason: string | null,
  now: number,
): { view: RunView; changes: ChangeSet } | null {
  return sql.tx(() => {
    const run = sql.get<RunRow>('SELECT * FROM runs WHERE run_id = ?', runId);
    if (run === undefined) return null;
    const executionIds: string[] = [];
    if (asRunStatus(run.status) === 'open') {
      const running = sql.all<ExecutionRow>(
        "SELECT * FROM executions WHERE run_id = ? AND status = 'running'",
        runId,
      );
      for (const execution of running) {
        executionIds.push(execution.execution_id);
        const unfinished = sql.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM tasks WHERE exec_seq = ? AND status IN ${UNFINISHED}`,
          execution.seq,
        );
        if ((unfinished?.n ?? 0) === 0) {
          settleExecution(sql, execution.seq);
          continue;
        }
        const failed = sql.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM tasks WHERE exec_seq = ? AND status IN ('failed', 'skipped')",
          execution.seq,
        );
        endExecution(
          sql,
          execution.seq,
          (failed?.n ?? 0) > 0 ? 'failed' : 'cancelled',
          'run completed before the task ran',
          now,
        );
      }
      const anyFailed = sql.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM executions WHERE run_id = ? AND status = 'failed'",
        runId,
      );
      sql.run(
        'UPDATE runs SET status = ?, completed_at = ?, reason = ? WHERE run_id = ?',
        (anyFailed?.n ?? 0) > 0 ? 'failed' : 'completed',
        now,
        reason,
        runId,
      );
    }
    return { view: readRunView(sql, runId) as RunView, changes: { runIds: [runId], executionIds } };
  });
}

export function upsertAgent(sql: Sql, runId: string, name: string, parallel: number | null, now: number): void {
  sql.run(
    `INSERT INTO agents (run_id, name, parallel, joined_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id, name) DO UPDATE SET last_seen_at = excluded.last_seen_at,
       parallel = CASE WHEN ? IS NULL THEN agents.parallel ELSE excluded.parallel END`,
    runId,
    name,
    parallel ?? 1,
    now,
    now,
    parallel,
  );
}

export function joinRun(sql: Sql, runId: string, name: string, parallel: number, now: number): RunView | null {
  return sql.tx(() => {
    if (sql.get('SELECT 1 FROM runs WHERE run_id = ?', runId) === undefined) return null;
    upsertAgent(sql, runId, name, parallel, now);
    sql.run('UPDATE agents SET exited = 0 WHERE run_id = ? AND name = ?', runId, name);
    return readRunView(sql, runId);
  });
}

export function markAgentSeen(sql: Sql, runId: string, name: string, now: number, exited: boolean): void {
  sql.tx(() => {
    if (sql.get('SELECT 1 FROM runs WHERE run_id = ?', runId) === undefined) return;
    upsertAgent(sql, runId, name, null, now);
    if (exited) sql.run('UPDATE agents SET exited = 1 WHERE run_id = ? AND name = ?', runId, name);
  });
}

export function failRun(sql: Sql, runId: string, reason: string, now: number): ChangeSet | null {
  return sql.tx(() => {
    const run = sql.get<RunRow>('SELECT * FROM runs WHERE run_id = ?', runId);
    if (run === undefined || asRunStatus(run.status) !== 'open') return null;
    const running = sql.all<ExecutionRow>("SELECT * FROM executions WHERE run_id = ? AND status = 'running'", runId);
    for (const execution of running) endExecution(sql, execution.seq, 'failed', `not finished: ${reason}`, now);
    sql.run("UPDATE runs SET status = 'failed', completed_at = ?, reason = ? WHERE run_id = ?", now, reason, runId);
    return { runIds: [runId], executionIds: running.map((e) => e.execution_id) };
  });
}

export function listOpenRuns(sql: Sql): string[] {
  return sql.all<{ run_id: string }>("SELECT run_id FROM runs WHERE status = 'open' ORDER BY created_at").map((r) => r.run_id);
}

export function runTimes(sql: Sql, runId: string): OpenRunTimes | null {
  const run = sql.get<RunRow>('SELECT * FROM runs WHERE run_id = ?', runId);
  if (run === undefined || asRunStatus(run.status) !== 'open') return null;
  const runningExecutions = sql
    .all<ExecutionRow>("SELECT execution_id, last_seen_at FROM executions WHERE run_id = ? AND status = 'running'", runId)
    .map((e) => ({ executionId: e.execution_id, lastSeenAt: e.last_seen_at }));
  const leasedTasks = sql
    .all<{ lease_id: string; execution_id: string; task_id: string; agent: string; created_at: number; lease_expires_at: number }>(
      `SELECT l.lease_id, e.execution_id, t.task_id, l.agent, l.created_at, t.lease_expires_at
       FROM tasks t JOIN leases l ON l.lease_id = t.lease_id JOIN executions e ON e.seq = t.exec_seq
       WHERE t.run_id = ? AND t.status = 'leased'`,
      runId,
    )
    .map((r) => ({
      leaseId: r.lease_id,
      executionId: r.execution_id,
      taskId: r.task_id,
      agent: r.agent,
      leasedAt: r.created_at,
      expiresAt: r.lease_expires_at,
    }));
  return {
    runId,
    createdAt: run.created_at,
    limits: { runTimeoutMs: run.run_timeout_ms, taskTimeoutMs: run.task_timeout_ms, mainSilenceMs: run.main_timeout_ms },
    runningExecutions,
    leasedTasks,
    mainHeartbeatAt: run.main_heartbeat_at ?? null,
    agents: sql
      .all<{ name: string; last_seen_at: number; exited: number }>('SELECT name, last_seen_at, exited FROM agents WHERE run_id = ?', runId)
      .map((a) => ({ name: a.name, lastSeenAt: a.last_seen_at, exited: a.exited === 1 })),
    // 0 or 1: core only asks whether any task waits for an agent, and this runs before
    // every lease answer, so it stops at the first ready task instead of counting them all
    readyTasks:
      sql.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM tasks t JOIN executions e ON e.seq = t.exec_seq
         WHERE t.run_id = ? AND t.status = 'ready' AND e.status = 'running' LIMIT 1)`,
        runId,
      )?.n ?? 0,
  };
}

export function runExitFacts(sql: Sql, runId: string): RunExitFacts | null {
  const run = sql.get<RunRow>('SELECT * FROM runs WHERE run_id = ?', runId);
  if (run === undefined) return null;
  const count = (where: string, ...params: unknown[]): number =>
    sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE run_id = ? AND ${where}`, runId, ...params)?.n ?? 0;
  const targets = stopAgentsAfter(run);
  const listed = targets.length === 0 ? '' : `target IN (${targets.map(() => '?').join(', ')})`;
  return {
    runId,
    status: asRunStatus(run.status),
    reason: run.reason,
    stopAgentsOnFailure: run.stop_agents_on_failure === 1,
    failedTasks: count("status = 'failed'"),
    stopAgentsAfter: targets,
    listedTasks: targets.length === 0 ? 0 : count(listed, ...targets),
    listedUnfinished: targets.length === 0 ? 0 : count(`${listed} AND status IN ${UNFINISHED}`, ...targets),
    readyOrLeased: targets.length === 0 ? 0 : count("status IN ('ready', 'leased')"),
  };
}

export function heartbeatRun(sql: Sql, runId: string, now: number): { status: RunStatus; reason: string | null } | null {
  return sql.tx(() => {
    const run = sql.get<RunRow>('SELECT * FROM runs WHERE run_id = ?', runId);
    if (run === undefined) return null;
    sql.run("UPDATE executions SET last_seen_at = ? WHERE run_id = ? AND status = 'running'", now, runId);
    if (asRunStatus(run.status) === 'open') sql.run('UPDATE runs SET main_heartbeat_at = ? WHERE run_id = ?', now, runId);
    return { status: asRunStatus(run.status), reason: run.reason };
  });
}
