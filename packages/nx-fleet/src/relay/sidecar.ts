import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { fleetDir } from '../run-marker';
import { ExecutionWatcher } from '../runner/execution-watcher';
import { MainCache } from '../runner/main-cache';
import { processAlive } from '../util/process';
import { describeError } from '../util/errors';
import { startRelay, writeRelayState, type RelayHandler } from './relay-server';

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
/** After finishing the execution, how long the relay waits for the requests Nx left waiting to be answered. */
const SETTLE_MS = 10_000;

/**
 * How the execution ends: what `postTasksExecution` reported (result.json), except that
 * a command whose Nx still waits on the relay for a task did not finish that task.
 * Nx 21+ runs `postTasksExecution` also when it is interrupted (SIGINT/SIGTERM), with
 * the tasks it never finished left out of its results, so the hook's "succeeded" then
 * means only "nothing failed yet". No result at all (Nx gone, time limit): cancelled.
 */
export function sidecarOutcome(
  result: { status: 'succeeded' | 'failed' } | null,
  waitingRequests: number,
): 'succeeded' | 'failed' | 'cancelled' {
  if (waitingRequests > 0 || result === null) return 'cancelled';
  return result.status;
}

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
  // Nx's cache requests not answered yet: Nx is waiting for those tasks
  let waiting = 0;
  const counted: RelayHandler = {
    get: async (hash) => {
      waiting++;
      try {
        return await cache.get(hash);
      } finally {
        waiting--;
      }
    },
    put: (hash, scope, upload) => cache.put(hash, scope, upload),
  };
  const relay = await startRelay(counted, { tmpDir, reporter });
  writeRelayState(dir, relay);

  let ending: Promise<void> | null = null;
  let timers: NodeJS.Timeout | undefined;
  const onTerm = (): void => void end('stopped');
  const onInt = (): void => void end('interrupted');
  const end = (why: string): Promise<void> => {
    ending ??= (async () => {
      clearInterval(timers);
      process.removeListener('SIGTERM', onTerm);
      process.removeListener('SIGINT', onInt);
      const resultFile = join(dir, 'result.json');
      const result = existsSync(resultFile) ? (JSON.parse(readFileSync(resultFile, 'utf8')) as { status: 'succeeded' | 'failed' }) : null;
      const status = sidecarOutcome(result, waiting);
      if (!result) reporter.warn(`ending execution ${executionId}: ${why}`);
      else if (status !== result.status) {
        reporter.warn(`ending execution ${executionId} as cancelled: Nx stopped while waiting for ${waiting} task${waiting === 1 ? '' : 's'}`);
      }
      const flaky = cache.flakySummary();
      if (flaky) reporter.warn(flaky);
      // Finish first, while the watch still runs: the coordinator ends the unfinished tasks,
      // which answers every request Nx left waiting here. Stopping the watch under a request
      // that waits for a task would leave that request waiting (and this process) for ever.
      await client.finishExecution(executionId, status).catch((error: unknown) => {
        reporter.warn(`could not tell the coordinator that execution ${executionId} ended: ${describeError(error)}`);
      });
      for (let i = 0; i < SETTLE_MS / 50 && waiting > 0 && !watcher.failed; i++) await new Promise((r) => setTimeout(r, 50));
      await watcher.stop();
      await relay.close();
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
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  // resolves once one of the above has ended the execution
  for (;;) {
    if (ending) return ending;
    await new Promise<void>((resolve) => setTimeout(resolve, 200));
  }
}

