/** Test support: a real SQLite file and blob folder in a temp dir, a fake clock, inject(). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createFakeClock, createSequentialIds, type FakeClock } from '@fleet/core';
import { createApp } from '../app';
import { FsBlobStore } from '../blobs/fs/fs-blob-store';
import type { Reporter } from '../reporter';
import { SqliteStateStore } from '../state/sqlite/sqlite-state-store';
import { call, type CallOptions, type CallResult } from './http-call';

export const TEST_TOKEN = 'test-token-123';

export interface Harness {
  readonly app: FastifyInstance;
  readonly clock: FakeClock;
  readonly dir: string;
  readonly url: string;
  readonly reported: { level: string; message: string }[];
  /** JSON call with the test token; `body` strings are sent as they are. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<CallResult>;
  /** A raw call (no token added). */
  raw(options: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  leaseMs?: number;
  maxArtifactBytes?: number;
  maxAttempts?: number;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-coordinator-'));
  const state = new SqliteStateStore(join(dir, 'state.sqlite'));
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  const clock = createFakeClock();
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
    config: {
      token: TEST_TOKEN,
      leaseMs: options.leaseMs ?? 10_000,
      maxArtifactBytes: options.maxArtifactBytes ?? 1024 * 1024,
      maxAttempts: options.maxAttempts ?? 3,
    },
  });
  // app.inject cannot run under jest here (light-my-request needs the ESM-only cookie@2),
  // so tests talk real HTTP to port 0.
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    clock,
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
