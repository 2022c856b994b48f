import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { FleetClient } from '../client/fleet-client';
import type { ClientConfig } from '../config';
import type { NxCacheKind } from '../nx-version';
import type { NxRunnerContext, NxRunnerOptions, NxTask, NxTasksRunner } from '../nx/types';
import { startRelay } from '../relay/relay-server';
import type { Reporter } from '../reporter';
import type { RunMarker } from '../run-marker';
import { fleetDir } from '../run-marker';
import { describeError } from '../util/errors';
import { newId } from '../util/ids';
import { setEnv, wireCache } from './cache-wiring';
import { ExecutionWatcher } from './execution-watcher';
import { MainCache } from './main-cache';
import { cancelExecutionOnSignal } from './cancel-on-signal';
import { buildPlan } from './plan';
import { preloadEnv } from './preload-env';

export interface DistributedRunInput {
  tasks: NxTask[];
  options: NxRunnerOptions;
  context: NxRunnerContext;
  workspaceRoot: string;
  marker: RunMarker;
  config: ClientConfig;
  kind: NxCacheKind;
  reporter: Reporter;
  defaultRunner: NxTasksRunner;
  isCacheable: (task: NxTask) => boolean;
}

const HEARTBEAT_MS = 5_000;

/**
 * One distributed execution on main: submit the task graph, then let Nx's own runner
 * run it against the relay, which answers each task from what the agents produced.
 */
export async function runDistributed(input: DistributedRunInput): Promise<unknown> {
  const { context, reporter, workspaceRoot, marker } = input;
  const client = new FleetClient({ ...input.config, branch: marker.branch ?? input.config.branch });
  const plan = buildPlan(context.taskGraph, input.isCacheable);
  if (plan.distributed.length === 0) {
    if (Object.keys(context.taskGraph.tasks).length > 0) reporter.info('no task here can be distributed; running on main');
    return input.defaultRunner(input.tasks, input.options, context);
  }
  const executionId = newId('x');
  const command = ['nx', ...process.argv.slice(2)].join(' ').slice(0, 4000);
  const view = await client.createExecution(marker.runId, { executionId, command, tasks: plan.distributed });
  reporter.info(
    `distributing ${plan.distributed.length} task${plan.distributed.length === 1 ? '' : 's'} of run ${marker.runId}` +
      (plan.local.length ? `; ${plan.local.length} run on main (${summarizeLocal(plan.local)})` : ''),
  );

  const watcher = new ExecutionWatcher(client, executionId, reporter);
  watcher.start(view);
  const tmpDir = join(fleetDir(workspaceRoot), 'tmp');
  const replayDir = join(fleetDir(workspaceRoot), 'replay', executionId);
  const cache = new MainCache(client, reporter, tmpDir, watcher, replayDir, plan.distributed);
  const relay = await startRelay(cache, { tmpDir, reporter });
  const unwrapHasher = wrapHasher(context, (taskId, hash) => cache.noteHash(taskId, hash));
  const wired = wireCache(input.kind, relay, input.options, reporter);
  const restoreEnv = setEnv(preloadEnv(replayDir));
  const heartbeat = setInterval(() => {
    client.heartbeatExecution(executionId).catch((error: unknown) => reporter.debug(`heartbeat: ${describeError(error)}`));
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const removeSignalHandler = cancelExecutionOnSignal(input.config, executionId, reporter);

  let failed = false;
  try {
    const results = (await input.defaultRunner(input.tasks, wired.options, context)) as Record<string, string> | undefined;
    failed = Object.values(results ?? {}).some((s) => s === 'failure');
    return results;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    clearInterval(heartbeat);
    removeSignalHandler();
    restoreEnv();
    wired.restore();
    unwrapHasher();
    const flaky = cache.flakySummary();
    if (flaky) reporter.warn(flaky);
    await watcher.stop();
    await relay.close();
    await client.finishExecution(executionId, failed ? 'failed' : 'succeeded').catch((error: unknown) => {
      reporter.warn(`could not tell the coordinator that the execution ended: ${describeError(error)}`);
    });
    rmSync(replayDir, { recursive: true, force: true });
  }
}

function summarizeLocal(local: Array<{ id: string; reason: string }>): string {
  const shown = local.slice(0, 3).map((l) => `${l.id}: ${l.reason}`);
  return shown.join('; ') + (local.length > 3 ? `; and ${local.length - 3} more` : '');
}

/** Learns each hash Nx computes on main (deferred hashes are computed just before the cache lookup). */
function wrapHasher(context: NxRunnerContext, onHash: (taskId: string, hash: string) => void): () => void {
  const hasher = context.hasher as unknown as Record<string, unknown>;
  const originals: Record<string, unknown> = {};
  const hashTask = hasher.hashTask as NxRunnerContext['hasher']['hashTask'] | undefined;
  if (typeof hashTask === 'function') {
    originals.hashTask = hashTask;
    hasher.hashTask = async (task: NxTask, ...rest: unknown[]) => {
      const result = await (hashTask as (...a: unknown[]) => Promise<{ value: string }>).call(context.hasher, task, ...rest);
      onHash(task.id, result.value);
      return result;
    };
  }
  const hashTasks = hasher.hashTasks as NxRunnerContext['hasher']['hashTasks'] | undefined;
  if (typeof hashTasks === 'function') {
    originals.hashTasks = hashTasks;
    hasher.hashTasks = async (list: NxTask[], ...rest: unknown[]) => {
      const results = await (hashTasks as (...a: unknown[]) => Promise<Array<{ value: string }>>).call(context.hasher, list, ...rest);
      results.forEach((r, i) => list[i] && onHash(list[i].id, r.value));
      return results;
    };
  }
  return () => {
    for (const [key, value] of Object.entries(originals)) hasher[key] = value;
  };
}
