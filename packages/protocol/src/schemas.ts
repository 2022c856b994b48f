/**
 * The HTTP contract between the coordinator and its clients (main job, agents, CLI).
 *
 * Every request and response body is declared here once, as a TypeBox schema: the
 * coordinator's routes validate with these schemas and the client validates answers with
 * them too, and the TypeScript types below are derived from the same objects.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const PROTOCOL_VERSION = 1;

/* ---------------------------------------------------------------- identifiers */

/** A run id: one CI pipeline (plus an optional group). Built from CI variables. */
export const RunId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$' });
/** Ids the coordinator generates (executions, leases, agents). */
export const OpaqueId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
/** An Nx task hash (decimal on current Nx, hex on older ones). */
export const Hash = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });
/** An Nx task id: `project:target[:configuration]`; project names may hold `@` and `/`. */
export const TaskId = Type.String({ pattern: '^[^\\s:]{1,256}:[^\\s:]{1,128}(:[^\\s:]{1,128})?$' });
export const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@/-]{0,127}$' });
const Ms = Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600 * 1000 });
/** An Nx target name (`build`, `e2e-ci`): no spaces, colons or commas. */
export const TargetName = Type.String({ pattern: '^[^\\s:,]{1,128}$' });
const Strict = { additionalProperties: false } as const;

/* ---------------------------------------------------------------- statuses */

export const RUN_STATUSES = ['open', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TASK_STATUSES = [
  'pending', // waiting for dependencies
  'ready', // may be leased
  'leased', // running on an agent
  'succeeded',
  'failed',
  'skipped', // a dependency failed
  'cancelled', // the execution ended before it ran
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
]);

export const EXECUTION_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/* ---------------------------------------------------------------- errors */

export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'not_owner',
  'run_closed',
  /** Try again shortly (e.g. the same artifact is being uploaded right now). */
  'busy',
  /** Too many requests from one token: slow down (429, with retry-after). */
  'rate_limited',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBody = Type.Object(
  { code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))), message: Type.String() },
  Strict,
);
export type ErrorBody = Static<typeof ErrorBody>;

/* ---------------------------------------------------------------- health */

export const Health = Type.Object({
  ok: Type.Boolean(),
  protocolVersion: Type.Integer(),
  version: Type.String(),
});
export type Health = Static<typeof Health>;

/* ---------------------------------------------------------------- runs */

/** Allowed ranges of a run's own limits (CreateRunRequest); clients check flags with the same numbers. */
export const RUN_LIMITS = {
  retries: { min: 0, max: 10 },
  mainTimeoutMs: { min: 10_000, max: 24 * 3600 * 1000 },
  runTimeoutMs: { min: 60_000, max: 7 * 24 * 3600 * 1000 },
  taskTimeoutMs: { min: 10_000, max: 7 * 24 * 3600 * 1000 },
} as const;

export const CreateRunRequest = Type.Object(
  {
    runId: RunId,
    agents: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    stopAgentsOnFailure: Type.Optional(Type.Boolean()),
    /** The branch main builds; its cache writes are scoped to it unless it is trusted. */
    branch: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\x00-\\x1f\\x7f]+$' })),
    /** A task that fails (exit code not 0) is put back this many times, on another agent when one can take it. Default 0. */
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: RUN_LIMITS.retries.max })),
    /**
     * Agents exit once the run has a task of one of these targets, every such task is
     * terminal and nothing of the run is ready or leased.
     */
    stopAgentsAfter: Type.Optional(Type.Array(TargetName, { maxItems: 100 })),
    /** The run fails when main has been silent this long on every running execution. Default: the server's (30 s). */
    mainTimeoutMs: Type.Optional(Type.Integer({ minimum: RUN_LIMITS.mainTimeoutMs.min, maximum: RUN_LIMITS.mainTimeoutMs.max })),
    /** The run fails this long after it was created. Default: the server's (3 h). */
    runTimeoutMs: Type.Optional(Type.Integer({ minimum: RUN_LIMITS.runTimeoutMs.min, maximum: RUN_LIMITS.runTimeoutMs.max })),
    /** One attempt of a task fails this long after its lease began. Default: the server's (1 h). */
    taskTimeoutMs: Type.Optional(Type.Integer({ minimum: RUN_LIMITS.taskTimeoutMs.min, maximum: RUN_LIMITS.taskTimeoutMs.max })),
  },
  Strict,
);
export type CreateRunRequest = Static<typeof CreateRunRequest>;

export const AgentView = Type.Object({
  name: Name,
  parallel: Type.Integer(),
  joinedAt: Type.Integer(),
  lastSeenAt: Type.Integer(),
  tasksRun: Type.Integer(),
  exited: Type.Boolean(),
});
export type AgentView = Static<typeof AgentView>;

export const RunView = Type.Object({
  runId: RunId,
  status: Type.Union(RUN_STATUSES.map((s) => Type.Literal(s))),
  createdAt: Type.Integer(),
  completedAt: Type.Union([Type.Integer(), Type.Null()]),
  expectedAgents: Type.Integer(),
  stopAgentsOnFailure: Type.Boolean(),
  /** The branch of the run (CreateRunRequest.branch); agents' cache writes carry it too. */
  branch: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /** Why the run ended, when it was ended by a time-out, main going silent, or stop-all-agents' reason. */
  reason: Type.Union([Type.String(), Type.Null()]),
  retries: Type.Integer(),
  stopAgentsAfter: Type.Array(Type.String()),
  mainTimeoutMs: Type.Integer(),
  runTimeoutMs: Type.Integer(),
  taskTimeoutMs: Type.Integer(),
  agents: Type.Array(AgentView),
  executions: Type.Array(
    Type.Object({ executionId: OpaqueId, command: Type.String(), status: Type.String() }),
  ),
  failedTasks: Type.Array(Type.String()),
});
export type RunView = Static<typeof RunView>;

/** The answer to main's heartbeat: the run's status, and why it ended if it has. */
export const RunHeartbeatResponse = Type.Object({
  status: Type.Union(RUN_STATUSES.map((s) => Type.Literal(s))),
  reason: Type.Union([Type.String(), Type.Null()]),
});
export type RunHeartbeatResponse = Static<typeof RunHeartbeatResponse>;

export const CompleteRunRequest = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  Strict,
);
export type CompleteRunRequest = Static<typeof CompleteRunRequest>;

/* ---------------------------------------------------------------- executions */

export const PlanTask = Type.Object(
  {
    id: TaskId,
    project: Type.String({ minLength: 1, maxLength: 256 }),
    target: Type.String({ minLength: 1, maxLength: 128 }),
    configuration: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Null when Nx hashes the task only once its dependencies' outputs exist. */
    hash: Type.Union([Hash, Type.Null()]),
    /** Ids of tasks of this plan that must succeed first. */
    deps: Type.Array(TaskId, { maxItems: 10000 }),
  },
  Strict,
);
export type PlanTask = Static<typeof PlanTask>;

export const CreateExecutionRequest = Type.Object(
  {
    /** Chosen by the client so that a repeated request creates nothing twice. */
    executionId: OpaqueId,
    command: Type.String({ maxLength: 4000 }),
    tasks: Type.Array(PlanTask, { maxItems: 100000 }),
  },
  Strict,
);
export type CreateExecutionRequest = Static<typeof CreateExecutionRequest>;

/** An attempt that failed and was retried: where, how, and the artifact key of its result. */
export const FailedAttempt = Type.Object({
  agent: Type.String(),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  log: Type.Union([Hash, Type.Null()]),
});
export type FailedAttempt = Static<typeof FailedAttempt>;

export const TaskView = Type.Object({
  id: TaskId,
  project: Type.String(),
  target: Type.String(),
  configuration: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union(TASK_STATUSES.map((s) => Type.Literal(s))),
  /** The planned hash, or the one the agent computed for a deferred task. */
  hash: Type.Union([Hash, Type.Null()]),
  agent: Type.Union([Type.String(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  /** Attempts before the current (or last) one: lost agents and retried failures. The attempt number is attempts + 1. */
  attempts: Type.Integer(),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  /** Why a task failed without a result of its own (agent lost, dependency failed…). */
  message: Type.Union([Type.String(), Type.Null()]),
  /** The artifact key of a failed attempt's result (outputs + log), never the task's hash. */
  log: Type.Union([Hash, Type.Null()]),
  /** How many failed attempts (exit code not 0) were retried before the current one (`retries` of the run). */
  retried: Type.Optional(Type.Integer()),
  /** Those retried attempts, oldest first; present when `retried` > 0. */
  failedAttempts: Type.Optional(Type.Array(FailedAttempt)),
});
export type TaskView = Static<typeof TaskView>;

export const ExecutionView = Type.Object({
  executionId: OpaqueId,
  runId: RunId,
  command: Type.String(),
  status: Type.Union(EXECUTION_STATUSES.map((s) => Type.Literal(s))),
  /** Grows by one with every change to the execution; used for long-polling. */
  version: Type.Integer(),
  tasks: Type.Array(TaskView),
  agentsConnected: Type.Integer(),
});
export type ExecutionView = Static<typeof ExecutionView>;

export const WatchExecutionQuery = Type.Object(
  {
    /** Answer as soon as the execution's version is greater than this. */
    since: Type.Optional(Type.Integer({ minimum: -1 })),
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 25000 })),
  },
  Strict,
);
export type WatchExecutionQuery = Static<typeof WatchExecutionQuery>;

export const ReportHashRequest = Type.Object({ taskId: TaskId, hash: Hash }, Strict);
export type ReportHashRequest = Static<typeof ReportHashRequest>;

export const FinishExecutionRequest = Type.Object(
  { status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]) },
  Strict,
);
export type FinishExecutionRequest = Static<typeof FinishExecutionRequest>;

/* ---------------------------------------------------------------- agents and leases */

export const JoinRunRequest = Type.Object(
  { agentName: Name, parallel: Type.Integer({ minimum: 1, maximum: 64 }) },
  Strict,
);
export type JoinRunRequest = Static<typeof JoinRunRequest>;

export const LeaseRequest = Type.Object(
  {
    agentName: Name,
    /** How long the coordinator may hold the request open when nothing is ready. */
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 25000 })),
  },
  Strict,
);
export type LeaseRequest = Static<typeof LeaseRequest>;

export const LeasedTask = Type.Object({
  leaseId: OpaqueId,
  executionId: OpaqueId,
  taskId: TaskId,
  project: Type.String(),
  target: Type.String(),
  configuration: Type.Union([Type.String(), Type.Null()]),
  hash: Type.Union([Hash, Type.Null()]),
  attempt: Type.Integer(),
  leaseMs: Ms,
  /** This attempt fails this long after the lease began (heartbeats do not extend it): the agent may stop the task itself. */
  timeoutMs: Ms,
});
export type LeasedTask = Static<typeof LeasedTask>;

export const LeaseResponse = Type.Union([
  Type.Object({ action: Type.Literal('run'), task: LeasedTask }),
  Type.Object({ action: Type.Literal('wait'), retryInMs: Ms }),
  Type.Object({ action: Type.Literal('exit'), reason: Type.String() }),
]);
export type LeaseResponse = Static<typeof LeaseResponse>;

export const LeaseHeartbeatRequest = Type.Object({ agentName: Name }, Strict);
export type LeaseHeartbeatRequest = Static<typeof LeaseHeartbeatRequest>;

export const CompleteLeaseRequest = Type.Object(
  {
    agentName: Name,
    /** The hash the agent's Nx computed for the task (its artifact's key). */
    hash: Type.Union([Hash, Type.Null()]),
    exitCode: Type.Integer({ minimum: -1000, maximum: 1000 }),
    durationMs: Ms,
    /** Why there is no result of the task's own (the agent could not run it). */
    message: Type.Optional(Type.String({ maxLength: 4000 })),
    /** For a failure: the artifact key of its result (outputs + log), kept apart from cache keys. */
    log: Type.Optional(Hash),
    /**
     * Also ask for this agent's next task in the same round trip: the answer's `next` is what a
     * lease request without waiting would answer (run, exit, or wait — then long-poll as usual).
     */
    leaseNext: Type.Optional(Type.Boolean()),
  },
  Strict,
);
export type CompleteLeaseRequest = Static<typeof CompleteLeaseRequest>;

export const CompleteLeaseResponse = Type.Object({
  /**
   * False when the coordinator had already taken the task back (lease expired, task
   * timed out, run ended): the result is recorded as late and changes nothing.
   */
  accepted: Type.Boolean(),
  taskStatus: Type.Union(TASK_STATUSES.map((s) => Type.Literal(s))),
  /** Present when the request set `leaseNext`. */
  next: Type.Optional(LeaseResponse),
});
export type CompleteLeaseResponse = Static<typeof CompleteLeaseResponse>;

/** An agent that stops (SIGTERM) hands its leases back so another agent takes the task at once. */
export const ReleaseLeaseRequest = Type.Object(
  { agentName: Name, reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  Strict,
);
export type ReleaseLeaseRequest = Static<typeof ReleaseLeaseRequest>;

/* ---------------------------------------------------------------- cache */

/** Headers of the artifact routes beyond Nx's own API. */
export const HEADER_SHA256 = 'x-fleet-sha256';
/**
 * The branch a cache request comes from (CI variables, or start-ci-run). Writes from a
 * trusted branch go to the workspace's shared namespace, others only to their branch's.
 */
export const HEADER_BRANCH = 'x-fleet-branch';
/** Longest branch name accepted (header and CreateRunRequest.branch). */
export const MAX_BRANCH_LENGTH = 256;

/* ---------------------------------------------------------------- tokens */

/** What a token may do; each scope includes the ones before it. */
export const TOKEN_SCOPES = ['read-only', 'read-write', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** A workspace: one isolated tenant of a coordinator (its runs, executions, artifacts and tokens). */
export const WorkspaceName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' });
export const DEFAULT_WORKSPACE = 'default';
export const TokenId = Type.String({ pattern: '^tok_[A-Za-z0-9_-]{8,64}$' });

export const CreateTokenRequest = Type.Object(
  {
    scope: Type.Union(TOKEN_SCOPES.map((s) => Type.Literal(s))),
    /** Default: the creating token's workspace (`default` for the server's token). */
    workspace: Type.Optional(WorkspaceName),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /**
     * True: this token's writes never reach the shared namespace, whatever branch it
     * declares (for jobs that build untrusted code, e.g. pull requests). Default false.
     */
    branchScoped: Type.Optional(Type.Boolean()),
  },
  Strict,
);
export type CreateTokenRequest = Static<typeof CreateTokenRequest>;

export const TokenView = Type.Object({
  tokenId: TokenId,
  scope: Type.Union(TOKEN_SCOPES.map((s) => Type.Literal(s))),
  workspace: WorkspaceName,
  label: Type.Union([Type.String(), Type.Null()]),
  branchScoped: Type.Boolean(),
  createdAt: Type.Integer(),
  revokedAt: Type.Union([Type.Integer(), Type.Null()]),
});
export type TokenView = Static<typeof TokenView>;

/** The only answer that ever holds a token's secret: it is shown once and stored as a hash. */
export const CreatedToken = Type.Object({ token: Type.String(), view: TokenView });
export type CreatedToken = Static<typeof CreatedToken>;

export const TokenList = Type.Object({ tokens: Type.Array(TokenView) });
export type TokenList = Static<typeof TokenList>;

export const ALL_SCHEMAS: Record<string, TSchema> = {
  ErrorBody,
  Health,
  CreateRunRequest,
  RunView,
  CompleteRunRequest,
  CreateExecutionRequest,
  ExecutionView,
  WatchExecutionQuery,
  ReportHashRequest,
  FinishExecutionRequest,
  JoinRunRequest,
  LeaseRequest,
  LeaseResponse,
  LeaseHeartbeatRequest,
  CompleteLeaseRequest,
  ReleaseLeaseRequest,
  CompleteLeaseResponse,
  RunHeartbeatResponse,
  CreateTokenRequest,
  TokenView,
  CreatedToken,
  TokenList,
};
