import {
  BadRequestError,
  DEFAULT_LEASE_RETRIES,
  DEFAULT_MAIN_SILENCE_MS,
  DEFAULT_RUN_TIMEOUT_MS,
  DEFAULT_TASK_TIMEOUT_MS,
  DEFAULT_NO_AGENT_MS,
} from '@fleet/core';
import { RUN_LIMITS } from '@fleet/protocol';
import { silentReporter, type Reporter } from './reporter';

export const DEFAULT_PORT = 4646;
export const DEFAULT_LEASE_MS = 10_000;
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;
/** How often the sweeper applies leases' expiry and the run model's time-outs. */
export const DEFAULT_SWEEP_INTERVAL_MS = 1000;
/** Branches whose writes go to a workspace's shared cache namespace (docs/security.md). */
export const DEFAULT_TRUSTED_BRANCHES: readonly string[] = ['main', 'master'];
/** Requests per token per minute; far above what honest CI sends, low enough to stop a runaway client. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 20_000;
/** Long-polls (lease, execution watch) one token may hold open at once. */
export const DEFAULT_MAX_LONG_POLLS_PER_TOKEN = 1_000;

/** What `startServer` accepts; everything but `token` has a default. */
export interface ServerConfig {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 4646; 0 picks a free port. */
  port?: number;
  /** Default `.fleet` (resolved against the working directory). */
  dataDir?: string;
  /** The bearer token every request but GET /healthz must carry. */
  token: string;
  /** Default 10000. */
  leaseMs?: number;
  /** Default 2 GiB. */
  maxArtifactBytes?: number;
  /** A task whose agent is lost is put back this many times; the next loss fails it. Default 2. */
  leaseRetries?: number;
  /** @deprecated Use leaseRetries (= maxAttempts - 1); refused together with it. */
  maxAttempts?: number;
  /** Default for runs that set no mainTimeoutMs: 30 000. */
  mainSilenceMs?: number;
  /** Default for runs that set no runTimeoutMs: 3 h. */
  runTimeoutMs?: number;
  /** Default for runs that set no taskTimeoutMs: 1 h. */
  taskTimeoutMs?: number;
  /** Ready tasks and no agent heard from for this long fails the run; default 30 000. */
  noAgentMs?: number;
  /** How often the sweeper runs; default 1000; 0 turns it off (requests still apply the time-outs). */
  sweepIntervalMs?: number;
  /** Branch names or `*` patterns whose writes are shared; default main and master. */
  trustedBranches?: readonly string[];
  /** Requests per token per minute, answered 429 beyond; 0 turns the limit off. Default 20 000. */
  rateLimitPerMinute?: number;
  /** Long-polls one token may hold open at once, answered 429 beyond. Default 1000. */
  maxLongPollsPerToken?: number;
  reporter?: Reporter;
}

export type ResolvedServerConfig = Required<Omit<ServerConfig, 'maxAttempts'>>;

const KEYS: ReadonlySet<string> = new Set([
  'host',
  'port',
  'dataDir',
  'token',
  'leaseMs',
  'maxArtifactBytes',
  'leaseRetries',
  'maxAttempts',
  'mainSilenceMs',
  'noAgentMs',
  'runTimeoutMs',
  'taskTimeoutMs',
  'sweepIntervalMs',
  'trustedBranches',
  'rateLimitPerMinute',
  'maxLongPollsPerToken',
  'reporter',
]);

function integer(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadRequestError(`config.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function text(name: string, value: unknown, fallback: string | undefined): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new BadRequestError(`config.${name} must be a non-empty string`);
  }
  return value;
}

function reporter(value: unknown): Reporter {
  if (value === undefined) return silentReporter;
  const r = value as Partial<Record<keyof Reporter, unknown>>;
  if (typeof value !== 'object' || value === null || [r.info, r.warn, r.error].some((f) => typeof f !== 'function')) {
    throw new BadRequestError('config.reporter must have info, warn and error functions');
  }
  return value as Reporter;
}

/** Parses and checks a config once; unknown keys are refused. */
export function parseServerConfig(input: unknown): ResolvedServerConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadRequestError('config must be an object');
  }
  const raw = input as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) throw new BadRequestError(`unknown config keys: ${unknown.join(', ')}`);
  return {
    host: text('host', raw['host'], '127.0.0.1'),
    port: integer('port', raw['port'], 0, 65535, DEFAULT_PORT),
    dataDir: text('dataDir', raw['dataDir'], '.fleet'),
    token: text('token', raw['token'], undefined),
    leaseMs: integer('leaseMs', raw['leaseMs'], 100, 3_600_000, DEFAULT_LEASE_MS),
    maxArtifactBytes: integer('maxArtifactBytes', raw['maxArtifactBytes'], 0, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_ARTIFACT_BYTES),
    leaseRetries: leaseRetries(raw['leaseRetries'], raw['maxAttempts']),
    mainSilenceMs: limit('mainSilenceMs', raw['mainSilenceMs'], RUN_LIMITS.mainTimeoutMs, DEFAULT_MAIN_SILENCE_MS),
    runTimeoutMs: limit('runTimeoutMs', raw['runTimeoutMs'], RUN_LIMITS.runTimeoutMs, DEFAULT_RUN_TIMEOUT_MS),
    taskTimeoutMs: limit('taskTimeoutMs', raw['taskTimeoutMs'], RUN_LIMITS.taskTimeoutMs, DEFAULT_TASK_TIMEOUT_MS),
    noAgentMs: integer('noAgentMs', raw['noAgentMs'], 1_000, 24 * 3_600_000, DEFAULT_NO_AGENT_MS),
    sweepIntervalMs: integer('sweepIntervalMs', raw['sweepIntervalMs'], 0, 60_000, DEFAULT_SWEEP_INTERVAL_MS),
    trustedBranches: branches(raw['trustedBranches']),
    rateLimitPerMinute: integer('rateLimitPerMinute', raw['rateLimitPerMinute'], 0, 100_000_000, DEFAULT_RATE_LIMIT_PER_MINUTE),
    maxLongPollsPerToken: integer('maxLongPollsPerToken', raw['maxLongPollsPerToken'], 1, 1_000_000, DEFAULT_MAX_LONG_POLLS_PER_TOKEN),
    reporter: reporter(raw['reporter']),
  };
}

function branches(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_TRUSTED_BRANCHES;
  const ok = (b: unknown): boolean => typeof b === 'string' && b.trim() !== '' && b.length <= 256 && !/[\x00-\x1f\x7f]/.test(b);
  if (!Array.isArray(value) || !value.every(ok)) {
    throw new BadRequestError(
      'config.trustedBranches must be a list of branch names or patterns (e.g. ["main", "release/*"]); an empty list trusts no branch',
    );
  }
  return value.map((b: string) => b.trim());
}

function limit(name: string, value: unknown, range: { min: number; max: number }, fallback: number): number {
  return integer(name, value, range.min, range.max, fallback);
}

/** leaseRetries, or the older maxAttempts (attempts = 1 + retries); never both. */
function leaseRetries(retries: unknown, maxAttempts: unknown): number {
  if (maxAttempts === undefined) return integer('leaseRetries', retries, 0, 100, DEFAULT_LEASE_RETRIES);
  if (retries !== undefined) throw new BadRequestError('config.maxAttempts is the older name of config.leaseRetries (minus one): give only leaseRetries');
  return integer('maxAttempts', maxAttempts, 1, 101, DEFAULT_LEASE_RETRIES + 1) - 1;
}
