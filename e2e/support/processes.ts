import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { CommandFailedError, CommandTimedOutError, E2eError } from './errors';

export interface ProcessExit {
  /** Exit code, or null when the process was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** A string is written to stdin and stdin is closed; 'pipe' leaves `child.stdin` open; default: no stdin. */
  readonly stdin?: string | 'pipe';
  /** Also append stdout and stderr (prefixed by stream) to this file. Its folder is created. */
  readonly logFile?: string;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /** stdout and stderr interleaved in arrival order. */
  readonly output: string;
  /** Resolves once the process has exited and its output streams are closed. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  readonly hasExited: boolean;
  /** Signals the whole process group (the process and everything it started). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM the group, then SIGKILL it if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** Resolves with the output once `pattern` appears in it; rejects on time-out or exit. */
  waitForOutput(pattern: string | RegExp, options?: { timeoutMs?: number }): Promise<string>;
}

const started = new Set<ManagedProcess>();

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what we want.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Starts `command` in its own process group (detached), capturing its output. */
export function startProcess(name: string, command: string, args: readonly string[], options: StartOptions): ManagedProcess {
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn failures (ENOENT, bad cwd) surface on 'error' with no pid.
    throw new E2eError('COMMAND_FAILED', `could not start ${name}: ${command} (cwd ${options.cwd})`);
  }
  const pid = child.pid;
  let stdout = '';
  let stderr = '';
  let output = '';
  let log: WriteStream | undefined;
  if (options.logFile !== undefined) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    log = createWriteStream(options.logFile, { flags: 'a' });
    log.write(`$ ${command} ${args.join(' ')}\n`);
  }
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    output += chunk;
    log?.write(chunk);
    listeners.forEach((listener) => listener());
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    output += chunk;
    log?.write(chunk);
    listeners.forEach((listener) => listener());
  });
  if (typeof options.stdin === 'string') child.stdin?.end(options.stdin);

  let hasExited = false;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.on('error', (error) => {
      output += `\n[spawn error] ${error.message}\n`;
    });
    child.on('close', (code, signal) => {
      hasExited = true;
      log?.end(`\n[exit code=${code} signal=${signal}]\n`);
      listeners.forEach((listener) => listener());
      resolve({ code, signal });
    });
  });

  const managed: ManagedProcess = {
    name,
    pid,
    child,
    get stdout(): string {
      return stdout;
    },
    get stderr(): string {
      return stderr;
    },
    get output(): string {
      return output;
    },
    exited,
    get hasExited(): boolean {
      return hasExited;
    },
    kill(signal: NodeJS.Signals = 'SIGTERM'): void {
      // The group may outlive its leader (grandchildren), so signal it even after exit.
      signalGroup(pid, signal);
    },
    async stop(graceMs = 5000): Promise<ProcessExit> {
      managed.kill('SIGTERM');
      const timer = setTimeout(() => managed.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        managed.kill('SIGKILL');
      }
    },
    waitForOutput(pattern: string | RegExp, waitOptions: { timeoutMs?: number } = {}): Promise<string> {
      const timeoutMs = waitOptions.timeoutMs ?? 30_000;
      const matches = (): boolean => (typeof pattern === 'string' ? output.includes(pattern) : pattern.test(output));
      return new Promise<string>((resolve, reject) => {
        const finish = (error?: Error): void => {
          listeners.delete(check);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve(output);
        };
        const check = (): void => {
          if (matches()) finish();
          else if (hasExited) finish(new CommandFailedError(`${name} (waiting for ${String(pattern)})`, child.exitCode, output));
        };
        const timer = setTimeout(
          () => finish(new CommandTimedOutError(`${name} (waiting for ${String(pattern)})`, timeoutMs, output)),
          timeoutMs,
        );
        listeners.add(check);
        check();
      });
    },
  };
  started.add(managed);
  installExitHook();
  return managed;
}

export interface RunOptions extends StartOptions {
  /** Kill the process group and throw CommandTimedOutError after this long. Default 5 minutes. */
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved. */
  readonly output: string;
  readonly durationMs: number;
}

/** Runs a command to its end (bounded by `timeoutMs`); a non-zero exit is returned, not thrown. */
export async function runToEnd(name: string, command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;
  const startedAt = Date.now();
  const proc = startProcess(name, command, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill('SIGKILL');
  }, timeoutMs);
  try {
    const exit = await proc.exited;
    if (timedOut) throw new CommandTimedOutError(`${name}: ${command} ${args.join(' ')}`, timeoutMs, proc.output);
    return { ...exit, stdout: proc.stdout, stderr: proc.stderr, output: proc.output, durationMs: Date.now() - startedAt };
  } finally {
    clearTimeout(timer);
    // Reap anything the command left running in its group.
    proc.kill('SIGKILL');
    started.delete(proc);
  }
}

/** Like runToEnd, but throws CommandFailedError (with the output tail) unless the exit code is 0. */
export async function runOk(name: string, command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const result = await runToEnd(name, command, args, options);
  if (result.code !== 0) throw new CommandFailedError(`${name}: ${command} ${args.join(' ')}`, result.code, result.output);
  return result;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (prefer letting servers bind port 0). */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new E2eError('COMMAND_FAILED', 'no port assigned'))));
    });
  });
}

export interface WaitForHttpOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Accepted statuses; default 2xx. */
  readonly ok?: (status: number) => boolean;
  /** Give up early, with its output, if this process exits while we wait. */
  readonly process?: ManagedProcess;
}

/** Polls `url` every `intervalMs` until it answers with an accepted status, at most timeoutMs/intervalMs times. */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const ok = options.ok ?? ((status: number): boolean => status >= 200 && status < 300);
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.max(1, Math.ceil(timeoutMs / intervalMs));
  let last = 'no attempt';
  for (let attempt = 0; attempt < maxAttempts && Date.now() < deadline; attempt++) {
    if (options.process?.hasExited) {
      throw new CommandFailedError(`${options.process.name} exited while waiting for ${url}`, options.process.child.exitCode, options.process.output);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(50, Math.min(2000, deadline - Date.now()))) });
      await response.arrayBuffer();
      if (ok(response.status)) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new E2eError('WAIT_TIMED_OUT', `${url} not ready after ${timeoutMs} ms (last: ${last})`);
}

/** Stops every process started through this module that is still tracked. Call from afterAll. */
export async function cleanupAll(graceMs = 3000): Promise<void> {
  const all = [...started];
  await Promise.all(all.map((proc) => proc.stop(graceMs)));
  all.forEach((proc) => started.delete(proc));
  if (started.size === 0) removeExitHook();
}

/** Processes started through this module and not yet cleaned up (for diagnostics). */
export function trackedProcesses(): readonly ManagedProcess[] {
  return [...started];
}

function killAllNow(): void {
  for (const proc of started) signalGroup(proc.pid, 'SIGKILL');
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** A signal to the test process ends it without 'exit': kill our groups, then let the signal act as usual. */
function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  removeExitHook();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

let exitHookInstalled = false;

/** Installed with the first process and removed by cleanupAll, so jest workers do not pile up listeners. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllNow);
  SIGNALS.forEach((signal) => process.on(signal, onSignal));
}

function removeExitHook(): void {
  if (!exitHookInstalled) return;
  exitHookInstalled = false;
  process.removeListener('exit', killAllNow);
  SIGNALS.forEach((signal) => process.removeListener(signal, onSignal));
}
