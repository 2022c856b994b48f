import type { TaskView } from '@fleet/protocol';
import type { FleetClient } from '../client/fleet-client';
import { CoordinatorCache } from '../relay/cache-handler';
import type { Reporter } from '../reporter';
import { stageReplay } from '../replay/staging';
import { describeError } from '../util/errors';
import type { ExecutionWatcher } from './execution-watcher';

/**
 * The relay's behaviour on main during a distributed execution. Nx asks for each task's
 * hash before it would run it; for a task that agents run, the answer waits until the
 * task is done, then is the agent's artifact (Nx restores outputs and prints the log) or,
 * for a failure, a miss with the failure staged for the preload (see replay/).
 */
export class MainCache extends CoordinatorCache {
  /** hash -> task id, from the plan and from hashes Nx computes on main as it goes. */
  private readonly taskOfHash = new Map<string, string>();
  private readonly distributed: Set<string>;

  constructor(
    client: FleetClient,
    reporter: Reporter,
    tmpDir: string,
    private readonly watcher: ExecutionWatcher,
    private readonly replayDir: string,
    plan: Array<{ id: string; hash: string | null }>,
  ) {
    super(client, reporter, tmpDir);
    this.distributed = new Set(plan.map((t) => t.id));
    for (const t of plan) if (t.hash) this.taskOfHash.set(t.hash, t.id);
  }

  /** Nx on main computed `hash` for `taskId` (deferred hashes arrive this way). */
  noteHash(taskId: string, hash: string): void {
    if (this.distributed.has(taskId)) this.taskOfHash.set(hash, taskId);
  }

  override async get(hash: string): Promise<{ file: string; temporary: boolean } | null> {
    const taskId = this.taskOfHash.get(hash);
    if (!taskId) return this.fetch(hash);
    let task: TaskView;
    try {
      task = await this.watcher.waitForTask(taskId);
    } catch (error) {
      this.reporter.warn(`${taskId} will run on main: ${describeError(error)}`);
      return null;
    }
    switch (task.status) {
      case 'succeeded': {
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
      case 'failed':
        await this.stageFailure(task);
        return null;
      case 'skipped':
      case 'cancelled':
        this.stage(task, null, `[fleet] ${task.id} was ${task.status} by the coordinator${task.message ? `: ${task.message}` : ''}`);
        return null;
      case 'pending':
      case 'ready':
      case 'leased':
        return null; // not terminal: waitForTask never resolves with these
    }
  }

  private async stageFailure(task: TaskView): Promise<void> {
    const found = task.log ? await this.fetch(task.log) : null;
    const where = task.agent ? `on agent ${task.agent}` : 'on an agent';
    const attempts = task.attempts > 1 ? ` after ${task.attempts} attempts` : '';
    const banner =
      `[fleet] ${task.id} failed ${where}${attempts} (exit code ${task.exitCode ?? 'unknown'})` +
      (task.message ? `: ${task.message}` : '; its log follows. It is not run again on main.');
    this.stage(task, found?.file ?? null, banner);
  }

  private stage(task: TaskView, archive: string | null, banner: string): void {
    stageReplay(this.replayDir, { taskId: task.id, exitCode: task.exitCode && task.exitCode > 0 ? task.exitCode : 1, banner }, archive);
  }
}
