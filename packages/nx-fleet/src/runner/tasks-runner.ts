import { join } from 'node:path';
import { FleetClient } from '../client/fleet-client';
import { readNxJson, resolveClientConfig, type ClientConfig, type FleetRunnerOptions } from '../config';
import { requireFromWorkspace } from '../nx/load';
import { classifyNxVersion, nxPackageVersion, type NxCacheKind } from '../nx-version';
import type { NxRunnerContext, NxRunnerOptions, NxTask, NxTasksRunner } from '../nx/types';
import { CoordinatorCache } from '../relay/cache-handler';
import { startRelay } from '../relay/relay-server';
import { streamReporter, type Reporter } from '../reporter';
import { fleetDir, readRunMarker } from '../run-marker';
import { describeError, FleetError } from '../util/errors';
import { cacheKind, wireCache } from './cache-wiring';
import { runDistributed } from './distributed';

/**
 * The front door for Nx 19 and 20: `tasksRunnerOptions.default.runner = "nx-fleet"`.
 *  - on an agent (started by `nx-fleet start-agent`): Nx's default runner, its cache wired
 *    to the agent's relay;
 *  - in a job where `start-ci-run` ran: the execution is distributed;
 *  - anywhere else: Nx's default runner, with the coordinator as remote cache when a URL
 *    and FLEET_TOKEN are set, so laptops keep working as before.
 */
export const fleetTasksRunner: NxTasksRunner = async (tasks, options, context) => {
  const workspaceRoot = findWorkspaceRoot();
  const version = classifyNxVersion(nxPackageVersion(workspaceRoot));
  // Nx 21+ never calls a custom runner; anything older than 19.8 is refused, never run silently
  if (version.kind === 'unsupported') throw new FleetError(`nx-fleet: ${version.message}`, 'unsupported_nx');
  const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
  const defaultRunner = requireFromWorkspace<{ default: NxTasksRunner }>('nx/tasks-runners/default', workspaceRoot).default;
  const nxJson = context.nxJson ?? readNxJson(workspaceRoot);
  const kind = cacheKind(workspaceRoot, nxJson, process.env);

  const agentCache = process.env.FLEET_AGENT_CACHE_URL;
  if (agentCache) {
    const wired = wireCache(kind, { url: agentCache, secret: process.env.FLEET_AGENT_CACHE_SECRET ?? '' }, options, reporter);
    try {
      return await defaultRunner(tasks, wired.options, context);
    } finally {
      wired.restore();
    }
  }

  const marker = process.env.FLEET_DISTRIBUTE === 'false' ? null : readRunMarker(workspaceRoot);
  let config: ClientConfig | null = null;
  try {
    config = resolveClientConfig(process.env, { nxJsonOptions: options as FleetRunnerOptions });
  } catch (error) {
    // inside a run this is fatal; on a laptop without FLEET_TOKEN, Nx just runs as usual
    if (marker) throw error;
    reporter.debug(`remote cache off: ${describeError(error)}`);
  }
  if (marker && config) {
    return runDistributed({ tasks, options, context, workspaceRoot, marker, config, kind, reporter, defaultRunner, isCacheable: cacheableCheck(workspaceRoot, options) });
  }
  if (!config) return defaultRunner(tasks, options, context);
  return runWithRemoteCache(tasks, options, context, { workspaceRoot, reporter, kind, client: new FleetClient({ ...config, branch: readRunMarker(workspaceRoot)?.branch ?? config.branch }), defaultRunner });
};

async function runWithRemoteCache(
  tasks: NxTask[],
  options: NxRunnerOptions,
  context: NxRunnerContext,
  env: { workspaceRoot: string; reporter: Reporter; kind: NxCacheKind; client: FleetClient; defaultRunner: NxTasksRunner },
): Promise<unknown> {
  const tmpDir = join(fleetDir(env.workspaceRoot), 'tmp');
  let relay;
  try {
    relay = await startRelay(new CoordinatorCache(env.client, env.reporter, tmpDir), { tmpDir, reporter: env.reporter });
  } catch (error) {
    env.reporter.warn(`remote cache disabled: ${describeError(error)}`);
    return env.defaultRunner(tasks, options, context);
  }
  const wired = wireCache(env.kind, relay, options, env.reporter);
  try {
    return await env.defaultRunner(tasks, wired.options, context);
  } finally {
    wired.restore();
    await relay.close();
  }
}

function findWorkspaceRoot(): string {
  try {
    return requireFromWorkspace<{ workspaceRoot: string }>('nx/src/utils/workspace-root', process.cwd()).workspaceRoot;
  } catch {
    return process.env.NX_WORKSPACE_ROOT_PATH ?? process.cwd();
  }
}

/** Nx's own notion of a cacheable task, from the workspace's Nx. */
function cacheableCheck(workspaceRoot: string, options: NxRunnerOptions): (task: NxTask) => boolean {
  try {
    const utils = requireFromWorkspace<{ isCacheableTask: (t: NxTask, o: NxRunnerOptions) => boolean }>(
      'nx/src/tasks-runner/utils',
      workspaceRoot,
    );
    return (task) => utils.isCacheableTask(task, options);
  } catch {
    return (task) => task.cache === true || (options.cacheableOperations ?? []).includes(task.target.target);
  }
}
