import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { fleetDir } from '../run-marker';
import { processAlive } from '../util/process';
import { CoordinatorCache } from './cache-handler';
import { startRelay, writeRelayState } from './relay-server';

export interface CacheSidecarOptions {
  client: FleetClient;
  reporter: Reporter;
  /** The relay writes relay.json (where it listens) here. */
  dir: string;
  workspaceRoot: string;
  /** The Nx process this relay serves; when it is gone, the relay leaves. */
  parentPid: number | null;
  maxLifeMs: number;
  /** How often it checks its parent; default 1 s. */
  checkEveryMs?: number;
}

/**
 * The relay of an Nx 21+ command outside a run (a laptop, a job without start-ci-run): the
 * coordinator is only Nx's remote cache, but Nx talks to it through this relay, as it does
 * inside a run, so the same rules hold: a failure is never served as a success, an archive
 * made with Windows separators is a miss, the coordinator's 5xx are retried (bounded) and a
 * store that cannot be made is a warning, never a failed task. Ends on SIGTERM from
 * `postTasksExecution`, when its Nx process is gone, or at `maxLifeMs`.
 */
export async function runCacheSidecar(options: CacheSidecarOptions): Promise<void> {
  const { dir, reporter } = options;
  const tmpDir = join(fleetDir(options.workspaceRoot), 'tmp');
  const relay = await startRelay(new CoordinatorCache(options.client, reporter, tmpDir), { tmpDir, reporter });
  writeRelayState(dir, relay);
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearInterval(timer);
      process.removeListener('SIGTERM', done);
      process.removeListener('SIGINT', done);
      resolve();
    };
    const timer = setInterval(() => {
      if (options.parentPid && !processAlive(options.parentPid)) done();
      else if (Date.now() - started > options.maxLifeMs) done();
    }, options.checkEveryMs ?? 1_000);
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
}
