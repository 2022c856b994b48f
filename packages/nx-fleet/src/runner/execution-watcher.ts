import { TERMINAL_TASK_STATUSES, type ExecutionView, type TaskView } from '@fleet/protocol';
import { LONG_POLL_MS, type FleetClient } from '../client/fleet-client';
import type { Reporter } from '../reporter';
import { describeError } from '../util/errors';

/**
 * Follows one execution with long-polls (each at most LONG_POLL_MS) and tells waiters
 * when their task is done. Main learns of a completion as soon as the coordinator does.
 */
export class ExecutionWatcher {
  private version = -1;
  private readonly tasks = new Map<string, TaskView>();
  private readonly waiters = new Map<string, Array<{ resolve: (t: TaskView) => void; reject: (e: Error) => void }>>();
  private stopped = false;
  private readonly abort = new AbortController();
  private failure: Error | null = null;
  private loop: Promise<void> | null = null;
  private lastProgress = '';
  latest: ExecutionView | null = null;

  constructor(
    private readonly client: FleetClient,
    readonly executionId: string,
    private readonly reporter: Reporter,
  ) {}

  start(initial?: ExecutionView): void {
    if (initial) this.apply(initial);
    this.loop = this.run();
  }

  /** Ends the watch at once, cancelling the long-poll in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }

  task(id: string): TaskView | undefined {
    return this.tasks.get(id);
  }

  /** Resolves with the task once it is terminal (succeeded, failed, skipped, cancelled). */
  waitForTask(id: string): Promise<TaskView> {
    const known = this.tasks.get(id);
    if (known && TERMINAL_TASK_STATUSES.has(known.status)) return Promise.resolve(known);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(id, list);
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const view = await this.client.getExecution(this.executionId, this.version, LONG_POLL_MS, this.abort.signal);
        this.apply(view);
      } catch (error) {
        if (this.stopped) return;
        this.failure = new Error(`lost the Fleet coordinator while waiting for tasks: ${describeError(error)}`);
        for (const list of this.waiters.values()) for (const w of list) w.reject(this.failure);
        this.waiters.clear();
        return;
      }
    }
  }

  private apply(view: ExecutionView): void {
    if (view.version <= this.version && this.latest) return;
    this.version = view.version;
    this.latest = view;
    for (const task of view.tasks) {
      this.tasks.set(task.id, task);
      if (TERMINAL_TASK_STATUSES.has(task.status)) {
        const list = this.waiters.get(task.id);
        if (list) {
          this.waiters.delete(task.id);
          for (const w of list) w.resolve(task);
        }
      }
    }
    this.reportProgress(view);
  }

  private reportProgress(view: ExecutionView): void {
    const count = (...statuses: TaskView['status'][]): number => view.tasks.filter((t) => statuses.includes(t.status)).length;
    const done = count('succeeded', 'failed', 'skipped', 'cancelled');
    const failed = count('failed');
    const line =
      `${done}/${view.tasks.length} tasks done${failed ? ` (${failed} failed)` : ''}, ` +
      `${count('leased')} running, ${count('ready', 'pending')} queued · ` +
      `${view.agentsConnected} agent${view.agentsConnected === 1 ? '' : 's'} connected`;
    if (line !== this.lastProgress) {
      this.lastProgress = line;
      this.reporter.info(line);
    }
  }
}
