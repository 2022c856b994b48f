import { enforceRun, type RunModelContext } from './leasing';

/** Calls `fn` every `ms`; the server's is an unref'd setInterval, tests drive a manual one. */
export interface Ticker {
  every(ms: number, fn: () => Promise<void>): { stop(): void };
}

export const intervalTicker: Ticker = {
  every(ms, fn) {
    const timer = setInterval(() => void fn(), ms);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  },
};

export interface Sweeper {
  /** One pass over every open run (what each tick does); resolves when it is done. */
  sweep(): Promise<void>;
  /** Stops the ticks and waits for a pass in progress. */
  stop(): Promise<void>;
}

/**
 * Applies lease expiry and the run model's time-outs to every open run on a timer, so
 * that they fire although no agent or main asks (a run whose agents and main are all
 * gone still ends). A pass never overlaps the previous one.
 */
export function startSweeper(ctx: RunModelContext): Sweeper {
  const { deps } = ctx;
  let current: Promise<void> | null = null;
  const pass = async (): Promise<void> => {
    const open = await deps.state.listOpenRuns();
    for (const runId of open) {
      await enforceRun(ctx, runId);
    }
    // the lease path's memo of runs that ended
    if (ctx.runDueAt !== undefined) {
      const still = new Set(open);
      for (const runId of ctx.runDueAt.keys()) if (!still.has(runId)) ctx.runDueAt.delete(runId);
    }
  };
  const sweep = (): Promise<void> => {
    current ??= pass()
      .catch((error: unknown) => deps.reporter.error('sweeper pass failed', { error: String(error) }))
      .finally(() => {
        current = null;
      });
    return current;
  };
  const interval = deps.config.sweepIntervalMs;
  const ticks = interval > 0 ? (deps.ticker ?? intervalTicker).every(interval, sweep) : null;
  return {
    sweep,
    async stop(): Promise<void> {
      ticks?.stop();
      await current;
    },
  };
}
