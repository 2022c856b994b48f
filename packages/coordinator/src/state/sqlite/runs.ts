import type { AgentView, RunView } from '@fleet/protocol';
import type { ChangeSet, NewRun } from '../state-store';
import { endExecution, settleExecution, UNFINISHED } from './graph';
import { asExecutionStatus, asRunStatus } from './rows';
import type { AgentRow, ExecutionRow, RunRow, Sql } from './sql';

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
    runId: run.run_id,
    status: asRunStatus(run.status),
    createdAt: run.created_at,
    completedAt: run.completed_at,
    expectedAgents: run.expected_agents,
    stopAgentsOnFailure: run.stop_agents_on_failure === 1,
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
      `INSERT INTO runs (run_id, status, created_at, completed_at, expected_agents, stop_agents_on_failure, branch)
       VALUES (?, 'open', ?, NULL, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
      run.runId,
      now,
      run.expectedAgents,
      run.stopAgentsOnFailure ? 1 : 0,
      run.branch,
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
        endExecution(sql, execution.seq, (failed?.n ?? 0) > 0 ? 'failed' : 'cancelled', 'run completed before the task ran');
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
