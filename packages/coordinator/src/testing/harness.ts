/** Test support: a real SQLite file and blob folder in a temp dir, a fake clock, inject(). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import {
  createFakeClock,
  createSequentialIds,
  DEFAULT_LEASE_RETRIES,
  DEFAULT_MAIN_SILENCE_MS,
  DEFAULT_RUN_TIMEOUT_MS,
  DEFAULT_TASK_TIMEOUT_MS,
  DEFAULT_NO_AGENT_MS,
  type FakeClock,
} from '@fleet/core';
import { createApp } from '../app';
import { DEFAULT_MAX_LONG_POLLS_PER_TOKEN, DEFAULT_SWEEP_INTERVAL_MS, DEFAULT_TRUSTED_BRANCHES } from '../config';
import type { Ticker } from '../sweeper';
import { FsBlobStore } from '../blobs/fs/fs-blob-store';
import type { Reporter } from '../reporter';
import { SqliteStateStore } from '../state/sqlite/sqlite-state-store';
import { call, type CallOptions, type CallResult } from './http-call';

export const TEST_TOKEN = 'test-token-123';

export interface Harness {
  readonly app: FastifyInstance;
  readonly clock: FakeClock;
  /** The sweeper's timer: `await h.ticker.tick()` runs one pass. */
  readonly ticker: ManualTicker;
  readonly dir: string;
  readonly url: string;
  readonly reported: { level: string; message: string }[];
  /** JSON call with the test token; `body` strings are sent as they are. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<CallResult>;
  /** A raw call (no token added). */
  raw(options: CallOptions): Promise<CallResult>;
  /** Stops this server (keeping its data and clock), lets `downMs` pass, and starts a new one on them. */
  restart(downMs?: number): Promise<Harness>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  leaseMs?: number;
  maxArtifactBytes?: number;
  leaseRetries?: number;
  mainSilenceMs?: number;
  runTimeoutMs?: number;
  taskTimeoutMs?: number;
  noAgentMs?: number;
  trustedBranches?: readonly string[];
  rateLimitPerMinute?: number;
  maxLongPollsPerToken?: number;
  /** Reuse this data directory (a restart); default: a new temp dir. */
  dir?: string;
  /** Reuse this clock (a restart); default: a new fake clock. */
  clock?: FakeClock;
}

/** A ticker driven by the test: `tick()` runs what the server scheduled (one sweeper pass) and waits for it. */
export interface ManualTicker extends Ticker {
  tick(): Promise<void>;
  readonly running: boolean;
  readonly intervalMs: number | null;
}

export function createManualTicker(): ManualTicker {
  let scheduled: (() => Promise<void>) | null = null;
  let intervalMs: number | null = null;
  let stopped = false;
  return {
    every(ms, fn) {
      scheduled = fn;
      intervalMs = ms;
      return {
        stop: () => {
          stopped = true;
        },
      };
    },
    async tick(): Promise<void> {
      if (scheduled === null || stopped) throw new Error('nothing is scheduled on the ticker');
      await scheduled();
    },
    get running(): boolean {
      return scheduled !== null && !stopped;
    },
    get intervalMs(): number | null {
      return intervalMs;
    },
  };
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'fleet-coordinator-'));
  const state = new SqliteStateStore(join(dir, 'state.sqlite'));
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  const clock = options.clock ?? createFakeClock();
  const ticker = createManualTicker();
  const reported: { level: string; message: string }[] = [];
  const reporter: Reporter = {
    info: (message) => reported.push({ level: 'info', message }),
    warn: (message) => reported.push({ level: 'warn', message }),
    error: (message) => reported.push({ level: 'error', message }),
  };
  const app = createApp({
    state,
    blobs,
    clock,
    ids: createSequentialIds('lease'),
    reporter,
    ticker,
    config: {
      token: TEST_TOKEN,
      leaseMs: options.leaseMs ?? 10_000,
      maxArtifactBytes: options.maxArtifactBytes ?? 1024 * 1024,
      leaseRetries: options.leaseRetries ?? DEFAULT_LEASE_RETRIES,
      mainSilenceMs: options.mainSilenceMs ?? DEFAULT_MAIN_SILENCE_MS,
      runTimeoutMs: options.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
      taskTimeoutMs: options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
      noAgentMs: options.noAgentMs ?? DEFAULT_NO_AGENT_MS,
      sweepIntervalMs: DEFAULT_SWEEP_INTERVAL_MS,
      trustedBranches: options.trustedBranches ?? DEFAULT_TRUSTED_BRANCHES,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 0,
      maxLongPollsPerToken: options.maxLongPollsPerToken ?? DEFAULT_MAX_LONG_POLLS_PER_TOKEN,
    },
  });
  // app.inject cannot run under jest here (light-my-request needs the ESM-only cookie@2),
  // so tests talk real HTTP to port 0.
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    clock,
    ticker,
    dir,
    url,
    reported,
    call(method, path, body, headers = {}): Promise<CallResult> {
      const allHeaders: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}`, ...headers };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        allHeaders['content-type'] ??= 'application/json';
      }
      return call(url, { method, path, headers: allHeaders, body: payload });
    },
    raw(options: CallOptions): Promise<CallResult> {
      return call(url, options);
    },
    async restart(downMs = 0): Promise<Harness> {
      await app.close();
      await state.close();
      clock.advance(downMs);
      return createHarness({ ...options, dir, clock });
    },
    async close(): Promise<void> {
      await app.close();
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A plan task with project and target taken from its id. */
export function planTask(id: string, deps: string[] = [], hash: string | null = `h-${id.replace(/[^A-Za-z0-9]/g, '')}`): {
  id: string;
  project: string;
  target: string;
  hash: string | null;
  deps: string[];
} {
  const [project = '', target = ''] = id.split(':');
  return { id, project, target, hash, deps };
}
