/**
 * The coordinator's state port. Async so that a networked backend (Postgres) can
 * implement it; every method that changes more than one row is one transaction.
 */
import type { DurationRecord, InitialStatus, RunExitFacts, RunTimes } from '@fleet/core';
import type {
  ExecutionView,
  FinishExecutionRequest,
  LeasedTask,
  RunStatus,
  RunView,
  TaskStatus,
  TokenView,
} from '@fleet/protocol';

export interface NewRun {
  readonly runId: string;
  readonly expectedAgents: number;
  readonly stopAgentsOnFailure: boolean;
  readonly branch: string | null;
  /** The cache namespace its results are recorded in (trust/namespaces.ts). */
  readonly cacheNamespace: string;
  /** Failed attempts put back per task. */
  readonly retries: number;
  readonly stopAgentsAfter: readonly string[];
  readonly mainTimeoutMs: number;
  readonly runTimeoutMs: number;
  readonly taskTimeoutMs: number;
}

/** An open run's timestamps and limits, for core's firedDeadlines. */
export interface OpenRunTimes extends RunTimes {
  readonly runId: string;
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
      /** The same completion again (its answer was lost): answered as the first, with no effect. */
      readonly repeated?: boolean;
      readonly executionId: string;
      readonly runId: string;
    };

export type HeartbeatLeaseOutcome =
  | { readonly kind: 'extended'; readonly runId: string }
  | { readonly kind: 'unknown_lease' }
  | { readonly kind: 'not_owner'; readonly owner: string };

export type ReleaseLeaseOutcome =
  | { readonly kind: 'released'; readonly executionId: string; readonly runId: string }
  /** The lease is no longer its task's current one: nothing to give back. */
  | { readonly kind: 'not_current' }
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

/** A token as stored: its secret only as a sha256 digest. */
export interface TokenRecord extends TokenView {
  readonly secretSha256: string;
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
  /** What decides whether an agent should exit; null if the run is unknown. */
  runExitFacts(runId: string): Promise<RunExitFacts | null>;
  /**
   * Main's heartbeat for the whole run: counts as contact on each of its running
   * executions. The run's status and reason after it; null if the run is unknown.
   */
  heartbeatRun(runId: string, now: number): Promise<{ status: RunStatus; reason: string | null } | null>;
  /** Ids of the runs that are still open. */
  listOpenRuns(): Promise<string[]>;
  /** Timestamps and limits of an open run; null when it is unknown or not open. */
  runTimes(runId: string): Promise<OpenRunTimes | null>;
  /**
   * Ends an open run as failed with `reason`: its running executions fail and what they
   * had not finished (leased tasks included) is cancelled with the reason as message.
   * Null when the run is unknown or no longer open.
   */
  failRun(runId: string, reason: string, now: number): Promise<ChangeSet | null>;

  /** Idempotent by executionId: an existing execution is returned unchanged. */
  insertExecution(runId: string, execution: NewExecution, now: number): Promise<{ view: ExecutionView; created: boolean }>;
  getExecution(executionId: string, now: number): Promise<ExecutionView | null>;
  getExecutionRef(executionId: string): Promise<ExecutionRef | null>;
  /** Results recorded under these hashes, looked up in `namespaces` in order (the first found wins). */
  findSuccessfulResults(namespaces: readonly string[], hashes: readonly string[]): Promise<Map<string, CachedResult>>;
  loadDurationHistory(targets: readonly string[], limit: number): Promise<DurationRecord[]>;
  reportHash(executionId: string, taskId: string, hash: string): Promise<ReportHashOutcome>;
  /** Main's contact with a running execution (heartbeat, watch, hash report): moves its last_seen_at. */
  heartbeatExecution(executionId: string, now: number): Promise<boolean>;
  finishExecution(
    executionId: string,
    status: FinishExecutionRequest['status'],
    now: number,
  ): Promise<ExecutionView | null>;

  /**
   * Expires overdue leases of the run: each task goes back to ready, or fails once it
   * was lost more than `leaseRetries` times. Returns the executions that changed.
   */
  expireLeases(runId: string, now: number, leaseRetries: number): Promise<string[]>;
  /**
   * Fails the task of a still-current lease (its time-out fired) with `message`; its
   * dependants are skipped. Null when the lease is no longer its task's current one.
   */
  timeOutLease(leaseId: string, message: string, now: number): Promise<ExecutionRef | null>;
  nextLeaseExpiry(runId: string): Promise<number | null>;
  /**
   * Leases the run's highest-priority ready task, atomically; null when none is ready.
   * A task this agent already failed is skipped while another connected agent that has
   * not failed it is in the run.
   */
  leaseNext(runId: string, agentName: string, leaseId: string, now: number, leaseMs: number): Promise<LeasedTask | null>;
  heartbeatLease(leaseId: string, agentName: string, now: number, leaseMs: number): Promise<HeartbeatLeaseOutcome>;
  completeLease(leaseId: string, completion: LeaseCompletion, now: number): Promise<CompleteLeaseOutcome>;
  /**
   * An agent hands its lease back (it is stopping): the task is ready again at once.
   * Not a loss: it does not count toward leaseRetries.
   */
  releaseLease(leaseId: string, agentName: string, now: number): Promise<ReleaseLeaseOutcome>;
  /** The cache namespace a run records its results in; null when the run is unknown. */
  runCacheNamespace(runId: string): Promise<string | null>;
  /** The (stored) run id a lease belongs to; null when the lease is unknown. */
  leaseRunId(leaseId: string): Promise<string | null>;

  getBlob(key: string): Promise<BlobRecord | null>;
  /** False when a record for the key already exists. */
  insertBlob(record: BlobRecord): Promise<boolean>;
  deleteBlob(key: string): Promise<void>;

  insertToken(token: TokenRecord): Promise<void>;
  /** The token whose secret has this sha256, revoked or not; null when there is none. */
  findTokenByDigest(digest: string): Promise<TokenRecord | null>;
  /** When the token was revoked; null when it is not (or unknown). */
  tokenRevokedAt(tokenId: string): Promise<number | null>;
  /** All tokens (workspace null) or one workspace's, oldest first. */
  listTokens(workspace: string | null): Promise<TokenRecord[]>;
  /** Null when unknown, or of another workspace than `workspace` (null: any). */
  revokeToken(tokenId: string, workspace: string | null, now: number): Promise<TokenRecord | null>;

  close(): Promise<void>;
}
