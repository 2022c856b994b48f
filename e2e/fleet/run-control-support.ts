/**
 * Small helpers for the run-control and signal tests (e2e/chaos/signals, e2e/fleet/run-control,
 * e2e/field-cases/stdin-and-signals): the coordinator's view of an execution and of its leases,
 * when a process printed something, and whether a pid is still there.
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedProcess } from '../support/processes';
import type { Coordinator } from './cluster';

export interface TaskApiView {
  id: string;
  status: string;
  agent: string | null;
  exitCode: number | null;
  attempts: number;
  message: string | null;
  retried?: number;
  failedAttempts?: Array<{ agent: string; exitCode: number | null }>;
}

export interface ExecutionApiView {
  executionId: string;
  status: string;
  tasks: TaskApiView[];
}

async function getJson<T>(coordinator: Coordinator, path: string): Promise<T> {
  const res = await fetch(`${coordinator.url}${path}`, {
    headers: { authorization: `Bearer ${coordinator.token}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export interface RunApiView {
  runId: string;
  status: string;
  reason: string | null;
  failedTasks: string[];
  taskTimeoutMs: number;
  agents: Array<{ name: string; exited: boolean }>;
  executions: Array<{ executionId: string; command: string; status: string }>;
}

/** GET /v1/runs/:runId. */
export function runView(coordinator: Coordinator, runId: string): Promise<RunApiView> {
  return getJson(coordinator, `/v1/runs/${encodeURIComponent(runId)}`);
}

/** GET /v1/executions/:executionId (no long-poll). */
export function executionView(coordinator: Coordinator, executionId: string): Promise<ExecutionApiView> {
  return getJson(coordinator, `/v1/executions/${encodeURIComponent(executionId)}`);
}

/** The only execution of the run (fails the test when there is not exactly one). */
export async function onlyExecution(coordinator: Coordinator, runId: string): Promise<ExecutionApiView> {
  const run = await runView(coordinator, runId);
  if (run.executions.length !== 1) throw new Error(`run ${runId} has ${run.executions.length} executions, expected 1: ${JSON.stringify(run.executions)}`);
  return executionView(coordinator, run.executions[0].executionId);
}

/** The run's execution of the command that contains `command` (fails the test when there is not exactly one). */
export async function executionOfCommand(coordinator: Coordinator, runId: string, command: string): Promise<ExecutionApiView> {
  const run = await runView(coordinator, runId);
  const matching = run.executions.filter((e) => e.command.includes(command));
  if (matching.length !== 1) throw new Error(`run ${runId} has ${matching.length} executions of "${command}", expected 1: ${JSON.stringify(run.executions)}`);
  return executionView(coordinator, matching[0].executionId);
}

/**
 * How each lease of a task ended, oldest first, read from the coordinator's SQLite file
 * (read-only; the API shows attempts but not why each one ended). ADR 0002: succeeded,
 * failed, retried, lost, timed_out, cancelled, released.
 */
export function leaseOutcomes(coordinator: Coordinator, taskId: string): Array<{ agent: string; outcome: string | null }> {
  const db = new Database(join(coordinator.dataDir, 'state.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT agent, outcome FROM leases WHERE task_id = ? ORDER BY created_at, rowid')
      .all(taskId) as Array<{ agent: string; outcome: string | null }>;
  } finally {
    db.close();
  }
}

/** Resolves with the time (Date.now()) at which `pattern` appeared in the process's output. */
export async function timeOfOutput(proc: ManagedProcess, pattern: RegExp | string, timeoutMs = 60_000): Promise<number> {
  await proc.waitForOutput(pattern, { timeoutMs });
  return Date.now();
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A pid written by a task (`echo $$ > file`), once the file has it (bounded). */
export async function pidFromFile(file: string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / 50 && Date.now() < deadline; i++) {
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) return pid;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no pid in ${file} after ${timeoutMs} ms`);
}

/** Waits (bounded) until no process has this pid; returns how long that took, or null if it was still there. */
export async function waitForPidGone(pid: number, timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  for (let i = 0; i < timeoutMs / 50 + 1 && Date.now() - started <= timeoutMs; i++) {
    if (!pidAlive(pid) || isZombie(pid)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

/** A zombie has exited and only waits for its parent to reap it. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

const mains = new Set<string>();

/** Remembers a main workspace whose start-ci-run left a heartbeat process (see stopHeartbeats). */
export function trackHeartbeat(mainWorkspace: string): void {
  mains.add(mainWorkspace);
}

/**
 * Ends the heartbeat processes of the tracked main workspaces that are still there (a test that failed
 * before stop-all-agents): detached, they are outside cleanupAll's process groups. Call from afterAll.
 */
export function stopHeartbeats(): void {
  for (const ws of mains) {
    try {
      const marker = JSON.parse(readFileSync(join(ws, '.fleet', 'ci-run.json'), 'utf8')) as { heartbeatPid?: number };
      if (marker.heartbeatPid && pidAlive(marker.heartbeatPid)) process.kill(marker.heartbeatPid, 'SIGTERM');
    } catch {
      // no marker (stop-all-agents removed it) or already gone
    }
  }
  mains.clear();
}
