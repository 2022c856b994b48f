import { BadRequestError } from '@fleet/core';
import { silentReporter, type Reporter } from './reporter';

export const DEFAULT_PORT = 4646;
export const DEFAULT_LEASE_MS = 10_000;
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;

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
  /** Attempts per task before "agent lost N times"; default 3 (1 try + 2 retries). */
  maxAttempts?: number;
  reporter?: Reporter;
}

export type ResolvedServerConfig = Required<ServerConfig>;

const KEYS: ReadonlySet<string> = new Set([
  'host',
  'port',
  'dataDir',
  'token',
  'leaseMs',
  'maxArtifactBytes',
  'maxAttempts',
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
    maxAttempts: integer('maxAttempts', raw['maxAttempts'], 1, 100, 3),
    reporter: reporter(raw['reporter']),
  };
}
