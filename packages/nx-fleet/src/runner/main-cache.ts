import { TERMINAL_TASK_STATUSES, type TaskView } from '@fleet/protocol';
import type { FleetClient } from '../client/fleet-client';
import { CoordinatorCache } from '../relay/cache-handler';
import type { Reporter } from '../reporter';
import { stageReplay, stageSuccess } from '../replay/staging';
import { describeRetries, flakyTasks } from '../retries';
import { describeError } from '../util/errors';
import type { ExecutionWatcher } from './execution-watcher';

export interface MainCacheOptions {
  /**
   * When Nx asks for a hash that no planned task has (the front door could not learn the
   * hashes Nx computes on main, as on Nx 21+), wait for an agent to report a task with
   * that hash; answer a miss only once every task of the execution is done.
   */
  resolveUnknownHashes: boolean;
}

/**
 * The relay's behaviour on main during a distributed execution. Nx asks for each task's
 * hash before it would run it; for a task that agents run, the answer waits until the
 * task is done, then is the agent's artifact (Nx restores outputs and prints the log).
 *
 * A task that failed, or was skipped or cancelled by the coordinator, is staged for the
 * preload (see replay/) as soon as main learns of it, keyed by task id, and Nx gets a
 * miss: Nx then starts the task's process, where the preload prints the agent's log and
 * exits with its code. Keying by task id means this holds even when main never learns
 * which hash Nx computed for the task.
 */
export class MainCache extends CoordinatorCache {
  /** hash -> task id, from the plan, from hashes Nx computes on main, and from agents. */
  private readonly taskOfHash = new Map<string, string>();
  private readonly distributed: Set<string>;
  private readonly staging = new Map<string, Promise<void>>();

  constructor(
    client: FleetClient,
    reporter: Reporter,
    tmpDir: string,
    private readonly watcher: ExecutionWatcher,
    private readonly replayDir: string,
    plan: Array<{ id: string; hash: string | null }>,
    private readonly options: MainCacheOptions = { resolveUnknownHashes: false },
  ) {
    super(client, reporter, tmpDir);
    this.distributed = new Set(plan.map((t) => t.id));
    for (const t of plan) if (t.hash) this.taskOfHash.set(t.hash, t.id);
    watcher.onTerminal((task) => {
      if (task.status !== 'succeeded') this.staging.set(task.id, this.stageUnsuccessful(task));
      else if (this.distributed.has(task.id)) stageSuccess(this.replayDir, { taskId: task.id, agent: task.agent, hash: task.hash });
      const retries = describeRetries(task);
      if (retries && task.status === 'succeeded') this.reporter.warn(`${retries}, where it passed: flaky`);
    });
  }

  /** Nx on main computed `hash` for `taskId` (deferred hashes arrive this way). */
  noteHash(taskId: string, hash: string): void {
    if (this.distributed.has(taskId)) this.taskOfHash.set(hash, taskId);
  }

  /** Replays being written; the runner waits for them before Nx could need them. */
  async settled(): Promise<void> {
    await Promise.all(this.staging.values());
  }

  override async get(hash: string): Promise<{ file: string; temporary: boolean } | null> {
    const taskId = this.taskOfHash.get(hash) ?? (this.options.resolveUnknownHashes ? await this.waitForHash(hash) : undefined);
    if (!taskId) return this.fetchSuccess(hash);
    let task: TaskView;
    try {
      task = await this.watcher.waitForTask(taskId);
    } catch (error) {
      this.reporter.warn(`${taskId} will run on main: ${describeError(error)}`);
      return null;
    }
    if (task.status !== 'succeeded') {
      await this.staging.get(task.id);
      return null;
    }
    if (task.hash && task.hash !== hash) {
      this.reporter.warn(
        `${taskId}: the agent computed hash ${task.hash} but main computed ${hash}; ` +
          'its inputs differ between the machines, so main runs it itself',
      );
      return null;
    }
    const found = await this.fetchSuccess(hash);
    if (!found) this.reporter.warn(`${taskId} succeeded on ${task.agent ?? 'an agent'} but its artifact is missing; main runs it itself`);
    return found;
  }

  /** The task an agent reported `hash` for, waiting while tasks are still to finish. */
  private async waitForHash(hash: string): Promise<string | undefined> {
    for (;;) {
      const tasks = this.watcher.allTasks();
      const match = tasks.find((t) => t.hash === hash && this.distributed.has(t.id));
      if (match) {
        this.taskOfHash.set(hash, match.id);
        return match.id;
      }
      // a stopped or failed watch will not change again: waiting on it would spin for ever
      if (this.watcher.failed || this.watcher.isStopped || tasks.every((t) => TERMINAL_TASK_STATUSES.has(t.status))) return undefined;
      await this.watcher.nextChange();
    }
  }

  private async stageUnsuccessful(task: TaskView): Promise<void> {
    try {
      if (task.status === 'failed') {
        const found = task.log ? await this.fetch(task.log) : null;
        const where = task.agent ? `on agent ${task.agent}` : 'on an agent';
        const attempts = task.attempts > 0 ? ` after ${task.attempts + 1} attempts` : '';
        const retries = describeRetries(task);
        const banner =
          `[fleet] ${task.id} failed ${where}${attempts} (exit code ${task.exitCode ?? 'unknown'})` +
          (task.message
            ? `: ${task.message}`
            : `; its log${retries ? ', the last attempt\'s,' : ''} follows. It is not run again on main.`) +
          (retries ? `\n[fleet] retried: ${retries}, where it failed again` : '');
        this.stage(task, found?.file ?? null, banner);
      } else {
        this.stage(task, null, `[fleet] ${task.id} was ${task.status} by the coordinator${task.message ? `: ${task.message}` : ''}`);
      }
    } catch (error) {
      this.reporter.warn(`could not prepare the result of ${task.id} for main: ${describeError(error)}`);
    }
  }

  /** The summary line of the tasks that passed only on a retry, or null when there were none. */
  flakySummary(): string | null {
    const flaky = flakyTasks(this.watcher.allTasks());
    if (flaky.length === 0) return null;
    return `flaky tasks (passed only on retry): ${flaky.map((t) => `${t.id} (${t.retried} failed attempt${t.retried === 1 ? '' : 's'})`).join(', ')}`;
  }

  private stage(task: TaskView, archive: string | null, banner: string): void {
    // a failure keeps the agent's code; a task Fleet cancelled or skipped exits 1 even when the agent that was
    // stopped reported a signal's code (130): it did not fail, and main's exit code must stay the failure's
    const exitCode = task.status === 'failed' && task.exitCode && task.exitCode > 0 ? task.exitCode : 1;
    stageReplay(this.replayDir, { taskId: task.id, exitCode, banner }, archive);
  }
}
