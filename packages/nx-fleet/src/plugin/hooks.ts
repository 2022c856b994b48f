import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetClient } from '../client/fleet-client';
import { resolveClientConfig, type ClientConfig, type FleetRunnerOptions } from '../config';
import type { NxTask } from '../nx/types';
import { classifyNxVersion, nxPackageVersion } from '../nx-version';
import { streamReporter } from '../reporter';
import { fleetDir, readRunMarker, type RunMarker } from '../run-marker';
import { buildPlan } from '../runner/plan';
import { preloadEnv } from '../runner/preload-env';
import { CLI_SCRIPT } from '../util/cli-script';
import { processAlive } from '../util/process';
import { describeError, FleetError } from '../util/errors';
import { newId } from '../util/ids';
import { taskGraphOf } from './task-graph';

/** What Nx passes to the hooks (20.4+). */
export interface PreTasksContext {
  id: string;
  workspaceRoot: string;
  nxJsonConfiguration?: Record<string, unknown>;
  argv: string[];
}
export interface PostTasksContext extends PreTasksContext {
  taskResults: Record<string, { status: string }>;
}

interface HookState {
  /** Null for a cache-only relay (no run). */
  executionId: string | null;
  relayPid: number;
  resultFile: string;
}

const hookFile = (root: string, id: string): string => join(fleetDir(root), 'hooks', `${id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}.json`);

/** What postTasksExecution of the same command needs to find its relay. */
function saveHookState(root: string, id: string, state: HookState): void {
  mkdirSync(join(fleetDir(root), 'hooks'), { recursive: true });
  writeFileSync(hookFile(root, id), JSON.stringify(state));
}

/** What preTasksExecution does for a command, decided before anything starts. */
export type PreTasksPlan =
  /** Nothing: Nx 19–20 (the tasks runner does the work), an agent, opted out, or no coordinator configured. */
  | { action: 'none' }
  /** Outside a run: the coordinator is Nx's remote cache, nothing more. */
  | { action: 'cache'; config: ClientConfig }
  /** Inside a run: the command's tasks are distributed. */
  | { action: 'distribute'; config: ClientConfig; marker: RunMarker };

/**
 * The decision of preTasksExecution, without side effects: throws for an unsupported Nx,
 * and for an unusable configuration inside a run (outside one it is `debug`ged and the
 * command runs as usual). `readMarker` is called only when the marker matters.
 */
export function planPreTasks(input: {
  nxVersion: string;
  env: NodeJS.ProcessEnv;
  options: FleetRunnerOptions | undefined;
  readMarker: () => RunMarker | null;
  debug: (message: string) => void;
}): PreTasksPlan {
  const { nxVersion: version, env } = input;
  const kind = classifyNxVersion(version);
  if (kind.kind === 'runner') return { action: 'none' }; // Nx 19–20: the tasks runner does the work
  if (kind.kind === 'unsupported') throw new FleetError(kind.message ?? `Nx ${version} is not supported by Fleet`, 'unsupported_nx');
  if (env.FLEET_DISTRIBUTE === 'false' || env.FLEET_AGENT_CACHE_URL) return { action: 'none' }; // an agent, or opted out
  const marker = input.readMarker();
  let config: ClientConfig | null = null;
  try {
    config = resolveClientConfig(env, { nxJsonOptions: input.options });
  } catch (error) {
    if (marker) throw error;
    input.debug(`remote cache off: ${describeError(error)}`);
  }
  if (!config) return { action: 'none' };
  return marker ? { action: 'distribute', config, marker } : { action: 'cache', config };
}

/**
 * The variables preTasksExecution sets in Nx's process: outside a run (`replayDir` null)
 * only the cache settings pointing Nx's HTTP cache at the relay; inside one also the
 * replay preload for task processes.
 */
export function hookEnv(relay: { url: string; secret: string }, replayDir: string | null): Record<string, string> {
  const env: Record<string, string> = {};
  if (replayDir !== null) {
    Object.assign(env, preloadEnv(replayDir));
    // the relay cannot tell which task a hash it never saw belongs to: the task's process can
    env.FLEET_WARN_LOCAL_RERUN = 'true';
  }
  env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER = relay.url;
  env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN = relay.secret;
  return env;
}

/**
 * The front door for Nx 21+, where custom tasks runners are gone: an Nx plugin whose
 * `preTasksExecution` hook, inside an active run, submits the command's task graph and
 * starts Fleet's relay beside Nx; the environment it sets points Nx's HTTP cache at the
 * relay and loads the replay preload into task processes. Outside a run it makes the
 * coordinator Nx's remote cache (when FLEET_TOKEN is set), nothing more.
 */
export async function preTasksExecution(options: FleetRunnerOptions | undefined, context: PreTasksContext): Promise<void> {
  const root = context.workspaceRoot;
  const reporter = streamReporter(process.stderr, { verbose: process.env.FLEET_VERBOSE === 'true' });
  const decision = planPreTasks({
    nxVersion: nxPackageVersion(root),
    env: process.env,
    options,
    readMarker: () => readRunMarker(root),
    debug: (message) => reporter.debug(message),
  });
  if (decision.action === 'none') return;
  const { config } = decision;
  if (decision.action === 'cache') {
    // a laptop or a job without a run: the coordinator is an ordinary remote cache, behind a
    // relay as in a run (failures never served, bounded retries, a store that fails is a warning)
    const dir = join(fleetDir(root), 'relays', newId('cache'));
    mkdirSync(dir, { recursive: true });
    let relay: { url: string; secret: string; pid: number };
    try {
      relay = await startRelayProcess(root, dir, null, [], config);
    } catch (error) {
      reporter.warn(`remote cache through ${config.url} is off for this command: ${describeError(error)}`);
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    saveHookState(root, context.id, { executionId: null, relayPid: relay.pid, resultFile: join(dir, 'result.json') });
    Object.assign(process.env, hookEnv(relay, null));
    return;
  }
  const { marker } = decision;
  const client = new FleetClient({ ...config, branch: marker.branch ?? config.branch });
  const graph = await taskGraphOf(context.argv, root);
  const plan = buildPlan(graph, (task: NxTask) => task.cache === true);
  if (plan.distributed.length === 0) return;
  for (const task of plan.distributed) task.hash = null; // Nx hashes them later; agents report theirs
  const executionId = newId('x');
  const command = ['nx', ...context.argv.slice(2)].join(' ').slice(0, 4000);
  await client.createExecution(marker.runId, { executionId, command, tasks: plan.distributed });
  reporter.info(
    `distributing ${plan.distributed.length} task${plan.distributed.length === 1 ? '' : 's'} of run ${marker.runId}` +
      (plan.local.length ? `; ${plan.local.length} run on main` : ''),
  );

  const dir = join(fleetDir(root), 'relays', executionId);
  mkdirSync(dir, { recursive: true });
  const relayState = await startRelayProcess(root, dir, executionId, plan.distributed, config);
  saveHookState(root, context.id, { executionId, relayPid: relayState.pid, resultFile: join(dir, 'result.json') });
  // every assignment is recorded by Nx and applied to the main process
  Object.assign(process.env, hookEnv(relayState, join(dir, 'replay')));
}

/** Ends the execution: tells the relay the command's outcome and waits for it to leave. */
export async function postTasksExecution(_options: FleetRunnerOptions | undefined, context: PostTasksContext): Promise<void> {
  const file = hookFile(context.workspaceRoot, context.id);
  if (!existsSync(file)) return;
  const state = JSON.parse(readFileSync(file, 'utf8')) as HookState;
  if (state.executionId !== null) {
    const failed = Object.values(context.taskResults ?? {}).some((r) => r.status === 'failure' || r.status === 'skipped');
    writeFileSync(state.resultFile, JSON.stringify({ status: failed ? 'failed' : 'succeeded' }));
  }
  try {
    process.kill(state.relayPid, 'SIGTERM');
  } catch {
    // already gone: it finishes the execution itself when it loses its parent
  }
  for (let i = 0; i < 100 && processAlive(state.relayPid); i++) await new Promise((r) => setTimeout(r, 100));
  rmSync(file, { force: true });
}


/** Starts `nx-fleet internal-relay` detached and waits (bounded) for it to say where it listens. */
async function startRelayProcess(
  root: string,
  dir: string,
  executionId: string | null,
  plan: Array<{ id: string; hash: string | null }>,
  config: ClientConfig,
): Promise<{ url: string; secret: string; pid: number }> {
  const planFile = join(dir, 'plan.json');
  const stateFile = join(dir, 'relay.json');
  writeFileSync(planFile, JSON.stringify(plan));
  const log = openSync(join(dir, 'relay.log'), 'a');
  const child = spawn(
    process.execPath,
    [
      CLI_SCRIPT,
      'internal-relay',
      ...(executionId ? ['--execution-id', executionId] : []),
      '--dir',
      dir,
      '--workspace',
      root,
      '--parent-pid',
      String(process.ppid),
    ],
    // stderr is the Nx command's own (through the plugin worker), so progress lines reach the CI log
    { detached: true, stdio: ['ignore', log, 'inherit'], env: { ...process.env, FLEET_URL: config.url, FLEET_TOKEN: config.token } },
  );
  child.unref();
  for (let i = 0; i < 300; i++) {
    if (existsSync(stateFile)) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { url: string; secret: string };
      return { ...state, pid: child.pid ?? 0 };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new FleetError(`Fleet's relay did not start; see ${join(dir, 'relay.log')}`);
}
