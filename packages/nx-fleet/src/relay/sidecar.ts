import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { fleetDir } from '../run-marker';
import { ExecutionWatcher } from '../runner/execution-watcher';
import { MainCache } from '../runner/main-cache';
import { processAlive } from '../util/process';
import { describeError } from '../util/errors';
import { startRelay } from './relay-server';

export interface SidecarOptions {
  client: FleetClient;
  reporter: Reporter;
  executionId: string;
  /** Holds plan.json; the relay writes relay.json (where it listens) and reads result.json. */
  dir: string;
  workspaceRoot: string;
  /** The Nx process this relay serves; when it is gone, the relay ends the execution and leaves. */
  parentPid: number | null;
  /** Hard bound on the relay's life. */
  maxLifeMs: number;
}

const HEARTBEAT_MS = 5_000;

/**
 * The relay of one execution on Nx 21+, as a process of its own beside Nx: plugin hooks
 * run in plugin workers or in the daemon, which may not live as long as the command.
 * It ends on SIGTERM from `postTasksExecution` (with the command's outcome in
 * result.json), when its parent Nx process disappears, or at `maxLifeMs`.
 */
export async function runSidecar(options: SidecarOptions): Promise<void> {
  const { client, reporter, executionId, dir } = options;
  const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as Array<{ id: string; hash: string | null }>;
  const watcher = new ExecutionWatcher(client, executionId, reporter);
  watcher.start(await client.getExecution(executionId));
  const tmpDir = join(fleetDir(options.workspaceRoot), 'tmp');
  const cache = new MainCache(client, reporter, tmpDir, watcher, join(dir, 'replay'), plan, { resolveUnknownHashes: true });
  const relay = await startRelay(cache, { tmpDir, reporter });
  const stateFile = join(dir, 'relay.json');
  writeFileSync(`${stateFile}.tmp`, JSON.stringify({ url: relay.url, secret: relay.secret }));
  renameSync(`${stateFile}.tmp`, stateFile);

  let ending: Promise<void> | null = null;
  let timers: NodeJS.Timeout | undefined;
  const end = (why: string): Promise<void> => {
    ending ??= (async () => {
      clearInterval(timers);
      const resultFile = join(dir, 'result.json');
      const result = existsSync(resultFile) ? (JSON.parse(readFileSync(resultFile, 'utf8')) as { status: 'succeeded' | 'failed' }) : null;
      if (!result) reporter.warn(`ending execution ${executionId}: ${why}`);
      const flaky = cache.flakySummary();
      if (flaky) reporter.warn(flaky);
      await watcher.stop();
      await relay.close();
      await client.finishExecution(executionId, result?.status ?? 'cancelled').catch((error: unknown) => {
        reporter.warn(`could not tell the coordinator that execution ${executionId} ended: ${describeError(error)}`);
      });
      rmSync(dir, { recursive: true, force: true });
    })();
    return ending;
  };
  const started = Date.now();
  timers = setInterval(() => {
    client.heartbeatExecution(executionId).catch((error: unknown) => reporter.debug(`heartbeat: ${describeError(error)}`));
    if (options.parentPid && !processAlive(options.parentPid)) void end(`its Nx process ${options.parentPid} is gone`);
    if (Date.now() - started > options.maxLifeMs) void end(`it ran for more than ${Math.round(options.maxLifeMs / 60_000)} minutes`);
  }, HEARTBEAT_MS);
  process.once('SIGTERM', () => void end('stopped'));
  process.once('SIGINT', () => void end('interrupted'));
  // resolves once one of the above has ended the execution
  for (;;) {
    if (ending) return ending;
    await new Promise<void>((resolve) => setTimeout(resolve, 200));
  }
}

