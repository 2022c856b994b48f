import type Database from 'better-sqlite3';

/** A database with a cache of prepared statements. */
export class Sql {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.stmt(sql).run(...params);
  }

  private depth = 0;

  /**
   * Runs `fn` in one transaction, or in a savepoint when a transaction is open (the store's
   * group commit holds one); nested calls join the outer one, so one method is one
   * savepoint however its helpers nest. No caller catches an error inside a transaction
   * and goes on: an error always leaves the outermost `tx`, which rolls it all back.
   */
  tx<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    try {
      // one better-sqlite3 transaction function for all calls (making one per call was 6 % of the coordinator's CPU)
      this.wrapped ??= this.db.transaction((f: () => unknown) => f());
      return this.wrapped(fn) as T;
    } finally {
      this.depth--;
    }
  }

  private wrapped: Database.Transaction<(fn: () => unknown) => unknown> | null = null;
}

export interface RunRow {
  run_id: string;
  status: string;
  created_at: number;
  completed_at: number | null;
  expected_agents: number;
  stop_agents_on_failure: number;
  branch: string | null;
  /** Schema v4. */
  cache_namespace: string;
  reason: string | null;
  retries: number;
  /** JSON array of target names. */
  stop_agents_after: string;
  main_timeout_ms: number;
  run_timeout_ms: number;
  task_timeout_ms: number;
  /** Null until main's run heartbeat first beats (schema v3). */
  main_heartbeat_at: number | null;
}

export interface AgentRow {
  name: string;
  parallel: number;
  joined_at: number;
  last_seen_at: number;
  tasks_run: number;
  exited: number;
}

export interface ExecutionRow {
  seq: number;
  execution_id: string;
  run_id: string;
  command: string;
  status: string;
  version: number;
  created_at: number;
  last_seen_at: number;
}

export interface TaskRow {
  exec_seq: number;
  task_id: string;
  ord: number;
  run_id: string;
  project: string;
  target: string;
  configuration: string | null;
  status: string;
  hash: string | null;
  deps: string;
  priority: number;
  agent: string | null;
  exit_code: number | null;
  /** Attempts before the current (or last) one: lost, retried after a failure. */
  attempts: number;
  /** Failed attempts put back by the run's `retries`. */
  retried: number;
  duration_ms: number | null;
  message: string | null;
  log: string | null;
  lease_id: string | null;
  lease_expires_at: number | null;
}

export const LEASE_OUTCOMES = ['succeeded', 'failed', 'retried', 'lost', 'timed_out', 'cancelled', 'released'] as const;
/**
 * How a lease ended; 'retried' is a failure that the run's `retries` put back to ready,
 * 'released' a lease its agent handed back (stopping).
 */
export type LeaseOutcome = (typeof LEASE_OUTCOMES)[number];

export interface LeaseRow {
  lease_id: string;
  exec_seq: number;
  task_id: string;
  agent: string;
  created_at: number;
  outcome: LeaseOutcome | null;
  ended_at: number | null;
  exit_code: number | null;
  log: string | null;
  late_result_at: number | null;
  late_exit_code: number | null;
  late_hash: string | null;
}

/** An agent counts as connected when seen this recently and not exited. */
export const AGENT_CONNECTED_MS = 60_000;
