/**
 * The coordinator's state port. Async so that a networked backend (Postgres) can
 * implement it; every method that changes more than one row is one transaction.
 */
import type { DurationRecord, InitialStatus } from '@fleet/core';
import type { ExecutionView, FinishExecutionRequest, LeasedTask, RunView, TaskStatus } from '@fleet/protocol';

export interface NewRun {
  readonly runId: string;
  readonly expectedAgents: number;
  readonly stopAgentsOnFailure: boolean;
  readonly branch: string | null;
}

/** A successful result recorded for a hash (the artifact key). */
export interface CachedResult {
  readonly hash: string;
  readonly agentName: string | null;
  readonly durationMs: number | null;
}

export interface PlannedTask {
  readonly id: string;
  readonly project: string;
  readonly target: string;
  readonly configuration: string | null;
  readonly hash: string | null;
  readonly deps: readonly string[];
  readonly status: InitialStatus;
  /** b-level in expected ms. */
  readonly priority: number;
  /** A plan-time cache hit, when status is 'succeeded'. */
  readonly cached: CachedResult | null;
}

export interface NewExecution {
  readonly executionId: string;
  readonly command: string;
  /** In plan order. */
  readonly tasks: readonly PlannedTask[];
}

export interface LeaseCompletion {
  readonly agentName: string;
  readonly hash: string | null;
  readonly exitCode: number;
  readonly durationMs: number;
  readonly message: string | null;
  /** Artifact key of a failed attempt's result. */
  readonly log?: string | null;
}

export type CompleteLeaseOutcome =
  | { readonly kind: 'unknown_lease' }
  | { readonly kind: 'not_owner'; readonly owner: string }
  | {
      readonly kind: 'done';
      readonly accepted: boolean;
      readonly taskStatus: TaskStatus;
      readonly executionId: string;
      readonly runId: string;
    };

export type HeartbeatLeaseOutcome =
  | { readonly kind: 'extended'; readonly runId: string }
  | { readonly kind: 'unknown_lease' }
  | { readonly kind: 'not_owner'; readonly owner: string };

export type ReportHashOutcome = 'stored' | 'unchanged' | 'unknown_execution' | 'unknown_task';

export interface ExecutionRef {
  readonly executionId: string;
  readonly runId: string;
  readonly version: number;
}

export interface BlobRecord {
  /** POSIX `namespace/hash`. */
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
  readonly createdAt: number;
}

/** What changed, so the caller can wake the right waiters. */
export interface ChangeSet {
  readonly runIds: readonly string[];
  readonly executionIds: readonly string[];
}

export interface StateStore {
  createRun(run: NewRun, now: number): Promise<RunView>;
  getRun(runId: string, now: number): Promise<RunView | null>;
  /** Closes the run and cancels what its executions had not finished; null if unknown. */
  completeRun(runId: string, reason: string | null, now: number): Promise<{ view: RunView; changes: ChangeSet } | null>;
  /** Registers (or re-registers) an agent; null if the run is unknown. */
  joinRun(runId: string, agentName: string, parallel: number, now: number): Promise<RunView | null>;
  markAgentSeen(runId: string, agentName: string, now: number, exited: boolean): Promise<void>;
  countFailedTasks(runId: string): Promise<number>;

  /** Idempotent by executionId: an existing execution is returned unchanged. */
  insertExecution(runId: string, execution: NewExecution, now: number): Promise<{ view: ExecutionView; created: boolean }>;
  getExecution(executionId: string, now: number): Promise<ExecutionView | null>;
  getExecutionRef(executionId: string): Promise<ExecutionRef | null>;
  findSuccessfulResults(hashes: readonly string[]): Promise<Map<string, CachedResult>>;
  loadDurationHistory(targets: readonly string[], limit: number): Promise<DurationRecord[]>;
  reportHash(executionId: string, taskId: string, hash: string): Promise<ReportHashOutcome>;
  heartbeatExecution(executionId: string, now: number): Promise<boolean>;
  finishExecution(
    executionId: string,
    status: FinishExecutionRequest['status'],
    now: number,
  ): Promise<ExecutionView | null>;

  /** Expires overdue leases of the run; returns the executions that changed. */
  expireLeases(runId: string, now: number, maxAttempts: number): Promise<string[]>;
  nextLeaseExpiry(runId: string): Promise<number | null>;
  /** Leases the run's highest-priority ready task, atomically; null when none is ready. */
  leaseNext(runId: string, agentName: string, leaseId: string, now: number, leaseMs: number): Promise<LeasedTask | null>;
  heartbeatLease(leaseId: string, agentName: string, now: number, leaseMs: number): Promise<HeartbeatLeaseOutcome>;
  completeLease(leaseId: string, completion: LeaseCompletion, now: number): Promise<CompleteLeaseOutcome>;

  getBlob(key: string): Promise<BlobRecord | null>;
  /** False when a record for the key already exists. */
  insertBlob(record: BlobRecord): Promise<boolean>;
  deleteBlob(key: string): Promise<void>;

  close(): Promise<void>;
}
