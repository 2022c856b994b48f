import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, hostname } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { LeasedTask } from '@fleet/protocol';
import { LONG_POLL_MS, type FleetClient } from '../client/fleet-client';
import { CoordinatorHttpError } from '../client/http';
import type { Reporter } from '../reporter';
import { startRelay, type Relay } from '../relay/relay-server';
import { fleetDir } from '../run-marker';
import { describeError, FleetError } from '../util/errors';
import { newId } from '../util/ids';
import { AgentCache, failureLogKey } from './agent-cache';
import { agentNxEnv } from './nx-env';

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
  /** The Nx CLI of the workspace. */
  nxBin: string;
}

const MAX_CAPTURE = 4 * 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An agent: joins the run, leases tasks (long-poll), runs each with `nx run` in its own
 * checkout (Nx restores the dependencies' outputs from the cache through the relay and
 * stores the result, failures included), reports it, and exits when the run completes.
 */
export async function runAgent(options: AgentOptions): Promise<{ tasksRun: number; reason: string }> {
  const { client, reporter, runId, name } = options;
  await joinWhenOpen(options);
  reporter.info(`agent ${name} joined run ${runId} (parallel ${options.parallel})`);
  const tmpDir = join(fleetDir(options.workspaceRoot), 'tmp');
  const cache = new AgentCache(client, reporter, tmpDir);
  const relay = await startRelay(cache, { tmpDir, reporter });
  let tasksRun = 0;
  let reason = '';
  let stop = false;
  const slot = async (_: unknown, index: number): Promise<void> => {
    while (!stop) {
      const answer = await client.lease(runId, name, LONG_POLL_MS);
      if (answer.action === 'exit') {
        stop = true;
        reason = answer.reason;
        return;
      }
      if (answer.action === 'wait') {
        await sleep(Math.min(answer.retryInMs, 5_000));
        continue;
      }
      tasksRun++;
      await runLeasedTask(options, answer.task, relay, cache, index);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.parallel }, slot));
  } finally {
    await relay.close();
  }
  return { tasksRun, reason };
}

/**
 * Agents often start before the main job has opened the run: wait for it (up to
 * joinTimeoutMs), saying so once. A URL that is not a Fleet coordinator, or one that
 * cannot be reached for the client's retry budget, fails at once with its reason.
 */
async function joinWhenOpen(options: AgentOptions): Promise<void> {
  const { client, reporter, runId, name } = options;
  await client.health(); // bounded retries; a wrong URL or a non-Fleet server fails here
  const deadline = Date.now() + options.joinTimeoutMs;
  let said = false;
  for (;;) {
    try {
      await client.joinRun(runId, name, options.parallel);
      return;
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

async function runLeasedTask(options: AgentOptions, task: LeasedTask, relay: Relay, cache: AgentCache, slot: number): Promise<void> {
  const { client, reporter, name } = options;
  const started = Date.now();
  reporter.info(`running ${task.taskId} (attempt ${task.attempt})`);
  const heartbeat = setInterval(() => {
    client.heartbeatLease(task.leaseId, name).catch((error: unknown) => reporter.debug(`lease heartbeat: ${describeError(error)}`));
  }, Math.max(1_000, Math.floor(task.leaseMs / 3)));
  heartbeat.unref();
  const scopeUrl = `${relay.url}/${task.leaseId}`;
  let exitCode: number;
  let captured = '';
  try {
    ({ exitCode, captured } = await runNx(options, task, scopeUrl, relay.secret, slot));
  } catch (error) {
    exitCode = 1;
    captured = `[fleet] agent ${name} could not start nx for ${task.taskId}: ${describeError(error)}\n`;
  } finally {
    clearInterval(heartbeat);
  }
  const stored = cache.storedBy(task.leaseId);
  cache.forget(task.leaseId);
  // the task's own result: under its planned hash, else the last one its Nx stored
  // (dependencies come from the cache and store nothing)
  const own = task.hash
    ? (stored.find((s) => s.hash === task.hash) ?? (stored.length === 1 ? stored[0] : undefined))
    : stored[stored.length - 1];
  const hash = own?.hash ?? task.hash;
  let log = own?.failed ? own.key : undefined;
  if (exitCode !== 0 && !own?.failed) {
    // Nx stored no result (it crashed, or could not start the task): make one from what the agent saw
    log = (await uploadCapturedFailure(options, task, exitCode, captured, cache)) ?? undefined;
  }
  const durationMs = Date.now() - started;
  const result = await client.completeLease(task.leaseId, { agentName: name, hash: hash ?? null, exitCode, durationMs, ...(log ? { log } : {}) });
  reporter.info(
    `${task.taskId} ${exitCode === 0 ? 'succeeded' : `failed (exit ${exitCode})`} in ${(durationMs / 1000).toFixed(1)} s` +
      (result.accepted ? '' : ' — too late: the task was given to another agent, this result is ignored'),
  );
}

function runNx(
  options: AgentOptions,
  task: LeasedTask,
  cacheUrl: string,
  secret: string,
  slot: number,
): Promise<{ exitCode: number; captured: string }> {
  const target = [task.project, task.target, task.configuration].filter(Boolean).join(':');
  const env = agentNxEnv({ base: process.env, workspaceRoot: options.workspaceRoot, slot, cacheUrl, secret, agentName: options.name });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.nxBin, 'run', target, '--outputStyle=stream'], {
      cwd: options.workspaceRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let captured = '';
    const onData = (chunk: Buffer): void => {
      options.output(task.taskId, chunk);
      if (captured.length < MAX_CAPTURE) captured += chunk.toString('utf8');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === null) captured += `[fleet] nx was killed by ${signal ?? 'an unknown signal'} on agent ${options.name}\n`;
      resolve({ exitCode: code ?? 128 + signalNumber(signal), captured });
    });
  });
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

export function agentNameFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env.FLEET_AGENT_NAME || `agent-${hostname()}-${process.pid}`;
  const name = raw.replace(/[^A-Za-z0-9._@/-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
  if (!name) throw new FleetError(`cannot make an agent name from "${raw}": pass --name`, 'bad_config');
  return name;
}
