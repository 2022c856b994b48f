import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, hostname } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { LeasedTask, LeaseResponse, RunView } from '@fleet/protocol';
import { cleanBranch, LONG_POLL_MS, type FleetClient } from '../client/fleet-client';
import { CoordinatorHttpError } from '../client/http';
import type { Reporter } from '../reporter';
import { startRelay, type Relay } from '../relay/relay-server';
import { fleetDir } from '../run-marker';
import { formatDuration } from '../util/duration';
import { describeError, FleetError } from '../util/errors';
import { newId } from '../util/ids';
import { AgentCache, failureLogKey } from './agent-cache';
import { agentNxEnv } from './nx-env';
import { processAlive } from '../util/process';

export interface AgentOptions {
  client: FleetClient;
  runId: string;
  name: string;
  parallel: number;
  workspaceRoot: string;
  reporter: Reporter;
  /** Where each task's output goes (the CLI prints it). */
  output: (taskId: string, chunk: Buffer) => void;
  /** How long to wait for main to create the run. */
  joinTimeoutMs: number;
  /** Leave after this long with no task and no running execution in the run. */
  idleTimeoutMs?: number;
  /** The Nx CLI of the workspace. */
  nxBin: string;
  /** Aborting it (SIGTERM/SIGINT in the CLI) stops the running tasks and hands their leases back. */
  signal?: AbortSignal;
  /** The run's branch once joined (set by runAgent from the run): FLEET_BRANCH of the tasks it runs. */
  branch?: string;
  /**
   * Ask for the slot's next task with each completion (default true): one round trip
   * instead of two, and a dependant readied by the completion tends to stay on the agent
   * that has its dependency's outputs. False leases only through the long-poll.
   */
  leaseNext?: boolean;
}

export interface AgentResult {
  tasksRun: number;
  reason: string;
  /** Why the agent left before the run ended (idle time-out, stopped by a signal), else null. */
  abnormal: string | null;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000;
/** After SIGTERM to a task's Nx, how long before SIGKILL. */
const KILL_GRACE_MS = 5_000;
const MAX_CAPTURE = 4 * 1024 * 1024;
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** A task's Nx process that can be stopped with a reason (lease lost, time-out, agent stopping). */
interface RunningTask {
  readonly task: LeasedTask;
  stop(reason: string): void;
}

/**
 * An agent: joins the run, leases tasks (long-poll), runs each with `nx run` in its own
 * checkout (Nx restores the dependencies' outputs from the cache through the relay and
 * stores the result, failures included), reports it, and exits when the run completes.
 * A task is stopped when the coordinator takes its lease back (expired, execution
 * cancelled, task timed out) or when it runs past its time-out; on `signal` the agent
 * stops its tasks, hands their leases back and leaves.
 */
export async function runAgent(options: AgentOptions): Promise<AgentResult> {
  const { client, reporter, runId, name } = options;
  const joined = await joinWhenOpen(options);
  // the run's branch (main's, from start-ci-run): the agent's cache requests and its tasks carry it
  const branch = runBranch(joined);
  reporter.info(`agent ${name} joined run ${runId} (parallel ${options.parallel}${branch ? `, branch ${branch}` : ''})`);
  const tmpDir = join(fleetDir(options.workspaceRoot), 'tmp');
  const cache = new AgentCache(branch ? client.withBranch(branch) : client, reporter, tmpDir);
  if (branch) options = { ...options, branch };
  const relay = await startRelay(cache, { tmpDir, reporter });
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const running = new Map<string, RunningTask>();
  const leaving = new AbortController();
  let tasksRun = 0;
  let reason = '';
  let abnormal: string | null = null;
  let lastActivity = Date.now();
  const leave = (why: string, isAbnormal: boolean): void => {
    if (leaving.signal.aborted) return;
    reason = why;
    if (isAbnormal) abnormal = why;
    leaving.abort();
  };
  const onSignal = (): void => {
    leave('stopped by a signal: running tasks were handed back to the run', true);
    for (const run of running.values()) run.stop(`agent ${name} is stopping`);
  };
  options.signal?.addEventListener('abort', onSignal, { once: true });
  if (options.signal?.aborted) onSignal();

  /** No task for idleTimeoutMs: leave unless an execution of the run is still going (others may be busy). */
  const checkIdle = async (): Promise<void> => {
    if (Date.now() - lastActivity < idleTimeoutMs || running.size > 0) return;
    const run = await client.getRun(runId).catch(() => null);
    if (run && run.executions.some((e) => e.status === 'running')) {
      lastActivity = Date.now();
      return;
    }
    const why = `no task and no running execution for ${formatDuration(idleTimeoutMs)} (agent idle time-out): leaving`;
    reporter.warn(why);
    leave(why, true);
  };

  // a coordinator older than `leaseNext` refuses it (400): then complete and lease apart, as before
  let leaseNextSupported = options.leaseNext ?? true;
  const nextLease: NextLease = {
    wanted: () => leaseNextSupported && !leaving.signal.aborted,
    unsupported: () => {
      if (leaseNextSupported) reporter.debug('the coordinator does not take leaseNext with a completion: leasing separately');
      leaseNextSupported = false;
    },
  };

  const slot = async (_: unknown, index: number): Promise<void> => {
    // the answer that came with the last completion (one round trip for both), if any
    let next: LeaseResponse | undefined;
    while (!leaving.signal.aborted) {
      let answer = next;
      next = undefined;
      try {
        answer ??= await client.lease(runId, name, LONG_POLL_MS, { signal: leaving.signal });
      } catch (error) {
        if (leaving.signal.aborted) return;
        throw error;
      }
      if (answer.action === 'exit') {
        leave(answer.reason, false);
        return;
      }
      if (answer.action === 'wait') {
        await checkIdle();
        await sleep(Math.min(answer.retryInMs, 5_000), leaving.signal);
        continue;
      }
      if (leaving.signal.aborted) {
        // leased as the agent was stopping: give it straight back
        await handBack(options, answer.task, `agent ${name} is stopping`);
        return;
      }
      tasksRun++;
      lastActivity = Date.now();
      next = await runLeasedTask(options, answer.task, relay, cache, index, running, nextLease);
      lastActivity = Date.now();
    }
    // the agent began leaving while a completion was in flight: the task it brought goes back at once
    if (next?.action === 'run') await handBack(options, next.task, `agent ${name} is stopping`);
  };
  try {
    await Promise.all(Array.from({ length: options.parallel }, slot));
  } finally {
    options.signal?.removeEventListener('abort', onSignal);
    await relay.close();
  }
  return { tasksRun, reason, abnormal };
}

/** Whether a completion also asks for the slot's next task (one round trip instead of two). */
interface NextLease {
  /** Not when the agent is leaving, nor once the coordinator refused it. */
  wanted(): boolean;
  unsupported(): void;
}

/** Hands a lease back so another agent can take the task at once (not after the lease time). */
async function handBack(options: AgentOptions, task: LeasedTask, why: string): Promise<void> {
  try {
    await options.client.releaseLease(task.leaseId, options.name, why);
    options.reporter.info(`${task.taskId}: lease handed back (${why})`);
  } catch (error) {
    options.reporter.warn(`${task.taskId}: could not hand the lease back (${describeError(error)}); it returns to the queue when it expires`);
  }
}

/**
 * Agents often start before the main job has opened the run: wait for it (up to
 * joinTimeoutMs), saying so once. A URL that is not a Fleet coordinator, or one that
 * cannot be reached for the client's retry budget, fails at once with its reason.
 */
async function joinWhenOpen(options: AgentOptions): Promise<RunView> {
  const { client, reporter, runId, name } = options;
  await client.health(); // bounded retries; a wrong URL or a non-Fleet server fails here
  const deadline = Date.now() + options.joinTimeoutMs;
  let said = false;
  for (;;) {
    try {
      return await client.joinRun(runId, name, options.parallel);
    } catch (error) {
      const runMissing = error instanceof CoordinatorHttpError && error.status === 404 && error.serverCode === 'not_found';
      if (!runMissing) throw error;
      if (Date.now() >= deadline) {
        throw new FleetError(
          `run ${runId} was not opened within ${Math.round(options.joinTimeoutMs / 1000)} s: did the main job run ` +
            '`nx-fleet start-ci-run` with the same run id (FLEET_RUN_ID or the CI variables)?',
          'join_timeout',
        );
      }
      if (!said) reporter.info(`waiting for the main job to open run ${runId} (up to ${Math.round(options.joinTimeoutMs / 1000)} s)`);
      said = true;
      await sleep(Math.min(2_000, Math.max(0, deadline - Date.now())));
    }
  }
}

async function runLeasedTask(
  options: AgentOptions,
  task: LeasedTask,
  relay: Relay,
  cache: AgentCache,
  slot: number,
  running: Map<string, RunningTask>,
  nextLease: NextLease,
): Promise<LeaseResponse | undefined> {
  const { client, reporter, name } = options;
  const started = Date.now();
  reporter.info(`running ${task.taskId} (attempt ${task.attempt})`);
  const scopeUrl = `${relay.url}/${task.leaseId}`;
  let stopped = null as string | null; // set from callbacks
  let handedBack = false as boolean;
  const nxRun = startNx(options, task, scopeUrl, relay.secret, slot);
  const stop = (why: string): void => {
    if (stopped !== null) return;
    stopped = why;
    reporter.warn(`stopping ${task.taskId}: ${why}`);
    nxRun.kill();
  };
  running.set(task.leaseId, {
    task,
    stop: (why) => {
      handedBack = true;
      stop(why);
    },
  });
  const heartbeat = setInterval(() => {
    client.heartbeatLease(task.leaseId, name).catch((error: unknown) => {
      // 404/409: the coordinator no longer gives this task to us (lease expired, execution cancelled, task timed out)
      if (error instanceof CoordinatorHttpError && (error.status === 404 || error.status === 409)) {
        stop(`the coordinator took the task back (${error.message})`);
      } else reporter.debug(`lease heartbeat: ${describeError(error)}`);
    });
  }, Math.max(1_000, Math.floor(task.leaseMs / 3)));
  heartbeat.unref();
  const timeoutMs = (task as { timeoutMs?: number }).timeoutMs;
  const timer = timeoutMs ? setTimeout(() => stop(`task time-out (${formatDuration(timeoutMs)}) reached on agent ${name}`), timeoutMs) : undefined;
  timer?.unref();
  let exitCode: number;
  let captured = '';
  try {
    ({ exitCode, captured } = await nxRun.done);
  } catch (error) {
    exitCode = 1;
    captured = `[fleet] agent ${name} could not start nx for ${task.taskId}: ${describeError(error)}\n`;
  } finally {
    clearInterval(heartbeat);
    clearTimeout(timer);
    running.delete(task.leaseId);
  }
  const stored = cache.storedBy(task.leaseId);
  cache.forget(task.leaseId);
  if (handedBack) {
    await handBack(options, task, stopped ?? 'agent stopping');
    return undefined;
  }
  if (stopped !== null) captured += `[fleet] ${task.taskId} was stopped: ${stopped}\n`;
  // the task's own result: under its planned hash, else the last one its Nx stored
  // (dependencies come from the cache and store nothing)
  const own = task.hash
    ? (stored.find((s) => s.hash === task.hash) ?? (stored.length === 1 ? stored[0] : undefined))
    : stored[stored.length - 1];
  const hash = own?.hash ?? task.hash;
  let log = own?.failed ? own.key : undefined;
  if (exitCode !== 0 && !own?.failed) {
    // Nx stored no result (it crashed, was stopped, or could not start the task): make one from what the agent saw
    log = (await uploadCapturedFailure(options, task, exitCode, captured, cache)) ?? undefined;
  }
  const durationMs = Date.now() - started;
  const completion = {
    agentName: name,
    hash: hash ?? null,
    exitCode,
    durationMs,
    ...(log ? { log } : {}),
    ...(stopped !== null ? { message: stopped.slice(0, 4000) } : {}),
  };
  let result;
  if (nextLease.wanted()) {
    try {
      result = await client.completeLease(task.leaseId, { ...completion, leaseNext: true });
    } catch (error) {
      if (!(error instanceof CoordinatorHttpError && error.status === 400)) throw error;
      nextLease.unsupported();
    }
  }
  result ??= await client.completeLease(task.leaseId, completion);
  reporter.info(
    `${task.taskId} ${exitCode === 0 ? 'succeeded' : `failed (exit ${exitCode})`} in ${(durationMs / 1000).toFixed(1)} s` +
      (result.accepted
        ? ''
        : ' — too late: the coordinator had already taken the task back (lease expired, execution ended, or task timed out); this result is ignored'),
  );
  // "wait": nothing was ready at that instant; the slot long-polls at once (no pause)
  return result.next?.action === 'wait' ? undefined : result.next;
}

function startNx(
  options: AgentOptions,
  task: LeasedTask,
  cacheUrl: string,
  secret: string,
  slot: number,
): { done: Promise<{ exitCode: number; captured: string }>; kill(): void } {
  const target = [task.project, task.target, task.configuration].filter(Boolean).join(':');
  const env = agentNxEnv({
    base: process.env,
    workspaceRoot: options.workspaceRoot,
    slot,
    cacheUrl,
    secret,
    agentName: options.name,
    branch: options.branch,
  });
  let child: ReturnType<typeof spawn> | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let tree: number[] = [];
  const done = new Promise<{ exitCode: number; captured: string }>((resolve, reject) => {
    child = spawn(process.execPath, [options.nxBin, 'run', target, '--outputStyle=stream'], {
      cwd: options.workspaceRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let captured = '';
    const onData = (chunk: Buffer): void => {
      options.output(task.taskId, chunk);
      if (captured.length < MAX_CAPTURE) captured += chunk.toString('utf8');
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // a stopped task's tree is killed at the grace time unless all of it has gone already
      if (tree.every((pid) => !processAlive(pid))) clearTimeout(killTimer);
      if (code === null) captured += `[fleet] nx was killed by ${signal ?? 'an unknown signal'} on agent ${options.name}\n`;
      resolve({ exitCode: code ?? 128 + signalNumber(signal), captured });
    });
  });
  return {
    done,
    kill: () => {
      if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
      // The whole tree, not only Nx: Nx 19.8 does not end on SIGTERM while a run-commands task
      // runs, and a task's own children (`sleep`, a server) outlive their shell. Whatever is left
      // after the grace time is killed, also once Nx itself has gone.
      tree = [child.pid, ...descendantsOf(child.pid, processTable())];
      signalAll(tree, 'SIGTERM');
      killTimer = setTimeout(() => {
        const alive = child?.pid && child.exitCode === null && child.signalCode === null;
        const later = alive ? descendantsOf(child!.pid!, processTable()) : [];
        signalAll([...new Set([...tree, ...later])], 'SIGKILL');
      }, KILL_GRACE_MS);
      killTimer.unref();
    },
  };
}

/** Every descendant of `root` in a process table of [pid, ppid] rows, nearest first. */
export function descendantsOf(root: number, table: ReadonlyArray<readonly [number, number]>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) {
    if (pid === ppid) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const found: number[] = [];
  const seen = new Set<number>([root]);
  const queue = [root];
  for (let i = 0; i < queue.length && found.length < 10_000; i++) {
    for (const pid of children.get(queue[i]) ?? []) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      found.push(pid);
      queue.push(pid);
    }
  }
  return found;
}

/** [pid, ppid] of every process (POSIX `ps`); empty where there is none (Windows), so only Nx is signalled. */
export function processTable(): Array<[number, number]> {
  try {
    const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .filter((row): row is [number, number] => row.length === 2 && row.every((n) => Number.isInteger(n) && n > 0));
  } catch {
    return [];
  }
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** The shell's convention: a process killed by signal N exits 128 + N. */
function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && osConstants.signals[signal]) || 15;
}

/** A failure artifact in Nx's format (terminalOutput + code) made from what the agent saw. */
async function uploadCapturedFailure(
  options: AgentOptions,
  task: LeasedTask,
  exitCode: number,
  captured: string,
  cache: AgentCache,
): Promise<string | null> {
  const dir = join(fleetDir(options.workspaceRoot), 'tmp', `failure-${newId()}`);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(join(dir, 'terminalOutput'), captured);
    const code = Buffer.alloc(4);
    code.writeInt32BE(exitCode, 0);
    await writeFile(join(dir, 'code'), code);
    const archive = join(dir, 'artifact.tar.gz');
    await tar.c({ cwd: dir, file: archive, gzip: true, portable: true }, ['terminalOutput', 'code']);
    const sha256 = createHash('sha256').update(await readFile(archive)).digest('hex');
    const key = failureLogKey(task.leaseId);
    return (await cache.store(key, { file: archive, sha256 })) ? key : null;
  } catch (error) {
    options.reporter.warn(`could not upload the log of ${task.taskId}: ${describeError(error)}`);
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The branch of a run (RunView.branch, when the coordinator tells it), cleaned for a header. */
export function runBranch(run: RunView): string | undefined {
  const branch = (run as RunView & { branch?: unknown }).branch;
  return typeof branch === 'string' ? cleanBranch(branch) : undefined;
}

export function agentNameFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env.FLEET_AGENT_NAME || `agent-${hostname()}-${process.pid}`;
  const name = raw.replace(/[^A-Za-z0-9._@/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  if (!name) throw new FleetError(`cannot make an agent name from "${raw}": pass --name`, 'bad_config');
  return name;
}
