import { EventEmitter } from 'node:events';

/**
 * A wake-up listened for from before a long-poll reads the store, so that one sent while
 * the reads are in flight (the store answers on a later turn of the event loop: group
 * commit) is not missed: `wait` then returns at once.
 */
export interface Watch {
  /** Resolves after `ms`, at once if a wake-up came since the watch began, or on one, or when `signal` aborts. */
  wait(ms: number, signal: AbortSignal): Promise<void>;
  /** Stops listening (always call it: a finally). */
  stop(): void;
}

/**
 * In-process wake-ups for long-polls. A wake-up is a hint: waiters re-read the store when
 * they wake, so a spurious one is harmless; a long-poll begins its Watch before its reads,
 * so none that matters is missed.
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

  /** Starts listening for wake-ups of `keys` now; see Watch. */
  watch(keys: readonly string[]): Watch {
    let woken = false;
    let release: (() => void) | null = null;
    const onWake = (): void => {
      woken = true;
      release?.();
    };
    for (const key of keys) this.emitter.on(key, onWake);
    const stop = (): void => {
      for (const key of keys) this.emitter.off(key, onWake);
      release?.();
    };
    return {
      stop,
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (woken || signal.aborted || ms <= 0) {
            resolve();
            return;
          }
          const timer = setTimeout(() => release?.(), ms);
          const onAbort = (): void => release?.();
          signal.addEventListener('abort', onAbort);
          release = () => {
            release = null;
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            resolve();
          };
        }),
    };
  }

  /** How many waits are pending (for tests and diagnostics). */
  listenerCount(): number {
    return this.emitter.eventNames().reduce((n, name) => n + this.emitter.listenerCount(name), 0);
  }
}

export const runKey = (runId: string): string => `run:${runId}`;
export const executionKey = (executionId: string): string => `execution:${executionId}`;
