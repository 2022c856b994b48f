import type { DurationRecord, RunExitFacts } from '@fleet/core';
import type { ExecutionView, FinishExecutionRequest, LeasedTask, RunStatus, RunView } from '@fleet/protocol';
import type {
  BlobRecord,
  CachedResult,
  ChangeSet,
  CompleteLeaseOutcome,
  ExecutionRef,
  HeartbeatLeaseOutcome,
  LeaseCompletion,
  NewExecution,
  NewRun,
  OpenRunTimes,
  ReleaseLeaseOutcome,
  ReportHashOutcome,
  StateStore,
  TokenRecord,
} from '../state-store';
import * as blobs from './blobs';
import * as executions from './executions';
import * as runs from './runs';
import * as scheduling from './scheduling';
import * as tokens from './tokens';
import { openDatabase } from './schema';
import { Sql } from './sql';

interface Pending {
  readonly fn: (sql: Sql) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The embedded backend: one SQLite file (WAL). better-sqlite3 is synchronous; the async
 * signatures are for backends that talk to a server.
 *
 * Group commit: what the requests of one turn of the event loop ask for (50 agents
 * completing and leasing at once) runs in one SQLite transaction, in the order asked, each
 * method in its own savepoint (its `sql.tx`), and every caller is answered once that one
 * COMMIT is done. A commit is most of a write's cost here (its WAL frames and locks), so
 * under load it is paid once per batch instead of once per request. A method that throws
 * rolls back its own savepoint only and rejects its own caller; if SQLite abandons the
 * whole transaction (disk full, I/O error), every caller of the batch is rejected, because
 * nothing of it was kept.
 */
export class SqliteStateStore implements StateStore {
  private readonly sql: Sql;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;

  constructor(file: string) {
    this.sql = new Sql(openDatabase(file));
  }

  private call<T>(fn: (sql: Sql) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      this.flushing ??= new Promise<void>((done) => setImmediate(() => done(this.flush())));
    });
  }

  /** Runs every queued method in one transaction, then answers their callers. */
  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.flushing = null;
    const { db } = this.sql;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      // IMMEDIATE: the write lock from the start, so no read-then-write of the batch can meet a busy snapshot
      db.exec('BEGIN IMMEDIATE');
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: this.sql.tx(() => item.fn(this.sql)) });
        } catch (error) {
          if (!db.inTransaction) throw error; // SQLite rolled the whole batch back
          outcomes.push({ ok: false, error });
        }
      }
      db.exec('COMMIT');
    } catch (error) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // the rollback failing changes nothing for the callers: none of the batch was kept
      }
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }

  createRun(run: NewRun, now: number): Promise<RunView> {
    return this.call((sql) => runs.createRun(sql, run, now));
  }
  getRun(runId: string): Promise<RunView | null> {
    return this.call((sql) => runs.readRunView(sql, runId));
  }
  completeRun(runId: string, reason: string | null, now: number): Promise<{ view: RunView; changes: ChangeSet } | null> {
    return this.call((sql) => runs.completeRun(sql, runId, reason, now));
  }
  joinRun(runId: string, agentName: string, parallel: number, now: number): Promise<RunView | null> {
    return this.call((sql) => runs.joinRun(sql, runId, agentName, parallel, now));
  }
  markAgentSeen(runId: string, agentName: string, now: number, exited: boolean): Promise<void> {
    return this.call((sql) => runs.markAgentSeen(sql, runId, agentName, now, exited));
  }
  runExitFacts(runId: string): Promise<RunExitFacts | null> {
    return this.call((sql) => runs.runExitFacts(sql, runId));
  }
  heartbeatRun(runId: string, now: number): Promise<{ status: RunStatus; reason: string | null } | null> {
    return this.call((sql) => runs.heartbeatRun(sql, runId, now));
  }
  listOpenRuns(): Promise<string[]> {
    return this.call((sql) => runs.listOpenRuns(sql));
  }
  runTimes(runId: string): Promise<OpenRunTimes | null> {
    return this.call((sql) => runs.runTimes(sql, runId));
  }
  failRun(runId: string, reason: string, now: number): Promise<ChangeSet | null> {
    return this.call((sql) => runs.failRun(sql, runId, reason, now));
  }

  insertExecution(runId: string, execution: NewExecution, now: number): Promise<{ view: ExecutionView; created: boolean }> {
    return this.call((sql) => executions.insertExecution(sql, runId, execution, now));
  }
  getExecution(executionId: string, now: number): Promise<ExecutionView | null> {
    return this.call((sql) => executions.readExecutionView(sql, executionId, now));
  }
  getExecutionRef(executionId: string): Promise<ExecutionRef | null> {
    return this.call((sql) => executions.getExecutionRef(sql, executionId));
  }
  findSuccessfulResults(namespaces: readonly string[], hashes: readonly string[]): Promise<Map<string, CachedResult>> {
    return this.call((sql) => executions.findSuccessfulResults(sql, namespaces, hashes));
  }
  loadDurationHistory(targets: readonly string[], limit: number): Promise<DurationRecord[]> {
    return this.call((sql) => executions.loadDurationHistory(sql, targets, limit));
  }
  reportHash(executionId: string, taskId: string, hash: string): Promise<ReportHashOutcome> {
    return this.call((sql) => executions.reportHash(sql, executionId, taskId, hash));
  }
  heartbeatExecution(executionId: string, now: number): Promise<boolean> {
    return this.call((sql) => executions.heartbeatExecution(sql, executionId, now));
  }
  finishExecution(executionId: string, status: FinishExecutionRequest['status'], now: number): Promise<ExecutionView | null> {
    return this.call((sql) => executions.finishExecution(sql, executionId, status, now));
  }

  expireLeases(runId: string, now: number, leaseRetries: number): Promise<string[]> {
    return this.call((sql) => scheduling.expireLeases(sql, runId, now, leaseRetries));
  }
  timeOutLease(leaseId: string, message: string, now: number): Promise<ExecutionRef | null> {
    return this.call((sql) => scheduling.timeOutLease(sql, leaseId, message, now));
  }
  nextLeaseExpiry(runId: string): Promise<number | null> {
    return this.call((sql) => scheduling.nextLeaseExpiry(sql, runId));
  }
  leaseNext(runId: string, agentName: string, leaseId: string, now: number, leaseMs: number): Promise<LeasedTask | null> {
    return this.call((sql) => scheduling.leaseNext(sql, runId, agentName, leaseId, now, leaseMs));
  }
  heartbeatLease(leaseId: string, agentName: string, now: number, leaseMs: number): Promise<HeartbeatLeaseOutcome> {
    return this.call((sql) => scheduling.heartbeatLease(sql, leaseId, agentName, now, leaseMs));
  }
  completeLease(leaseId: string, completion: LeaseCompletion, now: number): Promise<CompleteLeaseOutcome> {
    return this.call((sql) => scheduling.completeLease(sql, leaseId, completion, now));
  }

  releaseLease(leaseId: string, agentName: string, now: number): Promise<ReleaseLeaseOutcome> {
    return this.call((sql) => scheduling.releaseLease(sql, leaseId, agentName, now));
  }

  getBlob(key: string): Promise<BlobRecord | null> {
    return this.call((sql) => blobs.getBlob(sql, key));
  }
  insertBlob(record: BlobRecord): Promise<boolean> {
    return this.call((sql) => blobs.insertBlob(sql, record));
  }
  deleteBlob(key: string): Promise<void> {
    return this.call((sql) => blobs.deleteBlob(sql, key));
  }

  insertToken(token: TokenRecord): Promise<void> {
    return this.call((sql) => tokens.insertToken(sql, token));
  }
  findTokenByDigest(digest: string): Promise<TokenRecord | null> {
    return this.call((sql) => tokens.findTokenByDigest(sql, digest));
  }
  tokenRevokedAt(tokenId: string): Promise<number | null> {
    return this.call(
      (sql) => sql.get<{ revoked_at: number | null }>('SELECT revoked_at FROM tokens WHERE token_id = ?', tokenId)?.revoked_at ?? null,
    );
  }
  listTokens(workspace: string | null): Promise<TokenRecord[]> {
    return this.call((sql) => tokens.listTokens(sql, workspace));
  }
  revokeToken(tokenId: string, workspace: string | null, now: number): Promise<TokenRecord | null> {
    return this.call((sql) => tokens.revokeToken(sql, tokenId, workspace, now));
  }
  runCacheNamespace(runId: string): Promise<string | null> {
    return this.call(
      (sql) => sql.get<{ cache_namespace: string }>('SELECT cache_namespace FROM runs WHERE run_id = ?', runId)?.cache_namespace ?? null,
    );
  }
  leaseRunId(leaseId: string): Promise<string | null> {
    return this.call(
      (sql) =>
        sql.get<{ run_id: string }>(
          'SELECT e.run_id FROM leases l JOIN executions e ON e.seq = l.exec_seq WHERE l.lease_id = ?',
          leaseId,
        )?.run_id ?? null,
    );
  }

  async close(): Promise<void> {
    // what was asked before the close is still answered
    while (this.flushing !== null) await this.flushing;
    this.sql.db.close();
  }
}
