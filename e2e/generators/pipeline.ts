/**
 * A generated CI pipeline read back as plain data (jobs of shell steps), and a runner that
 * executes one job's steps as separate shell processes with the provider's semantics:
 * steps in order, a failed step skips the following ones except those marked "always".
 * The provider readers are in github.ts, circleci.ts and azure.ts.
 */
import { join } from 'node:path';
import { isolatedEnv } from '../support/env';
import { startProcess, type ManagedProcess } from '../support/processes';

export interface StepPlan {
  name: string;
  /** The shell command; null for a step the test does not run (an action, a task, an orb, the install). */
  command: string | null;
  /** Why a step is not run, when command is null. */
  skipReason?: string;
  /** The shell the provider runs `command` with: argv before the command, e.g. ['bash', '-e', '-c']. */
  shell: string[];
  /** The step's own environment, with the provider's expressions already resolved. */
  env: Record<string, string>;
  /** Runs even after an earlier step failed (`if: always()`, `when: always`, `condition: always()`). */
  always: boolean;
  timeoutMs: number;
  /** Variables a step the test stands in for would give the later steps (nx-set-shas: NX_BASE, NX_HEAD). */
  exports?: Record<string, string>;
}

export interface JobPlan {
  /** e.g. "main", "agents (agent 2)". */
  name: string;
  /** What the job's steps see from the provider: its own variables and the job-level environment. */
  env: (workspace: string) => Record<string, string>;
  steps: StepPlan[];
  /** Variables a step sets for the later ones through its output (Azure's `##vso[task.setvariable]`). */
  exportsFromOutput?: (stdout: string) => Record<string, string>;
  /** Expands the provider's macros in a command or a step's env value just before it runs (Azure's `$(Name)`). */
  expand?: (text: string, env: Record<string, string>) => string;
}

export interface PipelinePlan {
  main: JobPlan;
  agents: JobPlan[];
}

export type StepStatus = 'passed' | 'failed' | 'skipped' | 'not-run';

export interface StepResult {
  name: string;
  command: string | null;
  /** passed / failed: it ran; skipped: the test does not run it (see skipReason); not-run: an earlier step failed. */
  status: StepStatus;
  skipReason?: string;
  code: number | null;
  stdout: string;
  output: string;
  durationMs: number;
  /** The environment it ran with (for assertions on what the provider gave it). */
  env: Record<string, string>;
}

export interface JobResult {
  name: string;
  steps: StepResult[];
  /** True when every step that ran passed. */
  ok: boolean;
  /** The step named `name`; throws when there is none. */
  step(name: string): StepResult;
  /** Everything the job's steps printed, in order. */
  output: string;
}

/** The install command of npm, yarn or pnpm: the test's workspace copies already have node_modules. */
export function isInstallCommand(command: string): boolean {
  return /^(npm ci|npm install|yarn install|yarn|pnpm install)(\s|$)/.test(command.trim());
}

export const INSTALL_SKIPPED = 'install: the workspace copy already has node_modules (hard-linked from the template)';

export interface RunJobOptions {
  workspace: string;
  /** Variables of the machine itself (beyond isolatedEnv) that the provider does not set. */
  extraEnv?: Record<string, string | undefined>;
  /** Ends the running step (SIGTERM to its group) and skips the rest. */
  signal?: AbortSignal;
  logFile?: string;
}

/**
 * Runs a job's steps one after the other in `workspace`. Never throws for a failing or
 * timed-out step: the result says what happened (code null when it was killed).
 */
export async function runJob(job: JobPlan, options: RunJobOptions): Promise<JobResult> {
  const results: StepResult[] = [];
  const exported: Record<string, string> = {};
  let failed = false;
  const base = job.env(options.workspace);
  for (const plan of job.steps) {
    const step = expanded(job, plan, { ...base, ...exported });
    const env = isolatedEnv(options.workspace, { ...options.extraEnv, ...base, ...exported, ...step.env });
    if (step.command === null) {
      Object.assign(exported, step.exports ?? {});
      results.push({ name: step.name, command: null, status: 'skipped', skipReason: step.skipReason, code: null, stdout: '', output: '', durationMs: 0, env });
      continue;
    }
    if ((failed && !step.always) || options.signal?.aborted) {
      results.push({ name: step.name, command: step.command, status: 'not-run', code: null, stdout: '', output: '', durationMs: 0, env });
      continue;
    }
    const startedAt = Date.now();
    const proc = startProcess(`${job.name}: ${step.name}`, step.shell[0], [...step.shell.slice(1), step.command], {
      cwd: options.workspace,
      env,
      logFile: options.logFile ?? join(options.workspace, '.fleet-e2e', `${job.name.replace(/\W+/g, '-')}.log`),
    });
    const exit = await endOf(proc, step.timeoutMs, options.signal);
    const code = exit.code;
    const status: StepStatus = code === 0 ? 'passed' : 'failed';
    if (status === 'failed') failed = true;
    else Object.assign(exported, job.exportsFromOutput?.(proc.stdout) ?? {});
    results.push({ name: step.name, command: step.command, status, code, stdout: proc.stdout, output: proc.output, durationMs: Date.now() - startedAt, env });
  }
  return {
    name: job.name,
    steps: results,
    ok: results.every((r) => r.status !== 'failed'),
    output: results.map((r) => r.output).join(''),
    step(name: string): StepResult {
      const found = results.find((r) => r.name === name);
      if (!found) throw new Error(`job ${job.name} has no step "${name}" (steps: ${results.map((r) => r.name).join(', ')})`);
      return found;
    },
  };
}

function expanded(job: JobPlan, step: StepPlan, env: Record<string, string>): StepPlan {
  const expand = job.expand;
  if (!expand) return step;
  return {
    ...step,
    command: step.command === null ? null : expand(step.command, env),
    env: Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, expand(v, env)])),
  };
}

/** Waits for the step's process, killing its group after `timeoutMs` or on abort (then code is null). */
async function endOf(proc: ManagedProcess, timeoutMs: number, signal?: AbortSignal): Promise<{ code: number | null }> {
  const kill = (): void => {
    void proc.stop(3000);
  };
  const timer = setTimeout(kill, timeoutMs);
  signal?.addEventListener('abort', kill, { once: true });
  try {
    const exit = await proc.exited;
    return { code: exit.code };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', kill);
    // Reap anything the step left running in its group.
    proc.kill('SIGKILL');
  }
}
