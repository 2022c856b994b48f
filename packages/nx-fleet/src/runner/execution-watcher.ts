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
  private changeWaiters: Array<() => void> = [];
  private readonly terminalListeners: Array<(task: TaskView) => void> = [];
  private readonly seenTerminal = new Set<string>();
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
    this.notifyChange();
    await this.loop;
  }

  task(id: string): TaskView | undefined {
    return this.tasks.get(id);
  }

  /** Every task known so far. */
  allTasks(): TaskView[] {
    return [...this.tasks.values()];
  }

  /** Resolves at the next change of the execution (or at once if the watch has failed). */
  nextChange(): Promise<void> {
    if (this.failure || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** True once stop() was called: nothing will change any more. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Called once for each task as it becomes terminal. */
  onTerminal(listener: (task: TaskView) => void): void {
    this.terminalListeners.push(listener);
    for (const task of this.tasks.values()) if (this.seenTerminal.has(task.id)) listener(task);
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
        this.notifyChange();
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
        if (!this.seenTerminal.has(task.id)) {
          this.seenTerminal.add(task.id);
          for (const listener of this.terminalListeners) listener(task);
        }
        const list = this.waiters.get(task.id);
        if (list) {
          this.waiters.delete(task.id);
          for (const w of list) w.resolve(task);
        }
      }
    }
    this.reportProgress(view);
    this.notifyChange();
  }

  private notifyChange(): void {
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const w of waiters) w();
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
