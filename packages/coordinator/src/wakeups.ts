import { EventEmitter } from 'node:events';

/**
 * In-process wake-ups for long-polls. A wake-up is only a hint: waiters re-read the
 * store (inside its transaction) when they wake, so a missed or spurious one is harmless.
 */
export class Wakeups {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  wakeRun(runId: string): void {
    this.emitter.emit(`run:${runId}`);
  }

  wakeExecution(executionId: string): void {
    this.emitter.emit(`execution:${executionId}`);
  }

  /** Resolves after `ms`, on a wake-up of any of `keys`, or when `signal` aborts. */
  wait(keys: readonly string[], ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || ms <= 0) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        for (const key of keys) this.emitter.off(key, done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const key of keys) this.emitter.on(key, done);
      signal.addEventListener('abort', done);
    });
  }

  /** How many waits are pending (for tests and diagnostics). */
  listenerCount(): number {
    return this.emitter.eventNames().reduce((n, name) => n + this.emitter.listenerCount(name), 0);
  }
}

export const runKey = (runId: string): string => `run:${runId}`;
export const executionKey = (executionId: string): string => `execution:${executionId}`;
