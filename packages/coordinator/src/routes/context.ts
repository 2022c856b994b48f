import type { AppDeps } from '../app-deps';
import type { Wakeups } from '../wakeups';

/** What every route module receives. */
export interface RouteContext {
  readonly deps: AppDeps;
  readonly wakeups: Wakeups;
  /** Aborted when the server closes, so long-polls let go at once. */
  readonly shutdown: AbortSignal;
  /** The injected clock's time when the app was created. */
  readonly startedAt: number;
  /** See RunModelContext.runDueAt. */
  readonly runDueAt?: Map<string, number>;
}
