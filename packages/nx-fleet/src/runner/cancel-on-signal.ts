import { routePath } from '@fleet/protocol';
import { postSync } from '../client/sync-request';
import type { ClientConfig } from '../config';
import type { Reporter } from '../reporter';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * While an execution runs on main (Nx 19–20), SIGINT/SIGTERM (Ctrl-C, a cancelled CI job)
 * first marks the execution cancelled on the coordinator, so the agents stop its tasks, and
 * then lets the signal do what it would have done (Nx's handlers, or the default: exit).
 * Returns the function that removes the handler.
 */
export function cancelExecutionOnSignal(config: ClientConfig, executionId: string, reporter: Reporter): () => void {
  const url = `${config.url.replace(/\/+$/, '')}${routePath('finishExecution', { executionId })}`;
  let done = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (!done) {
      done = true;
      const ok = postSync(url, config.token, { status: 'cancelled' });
      reporter.warn(`${signal}: execution ${executionId} ${ok ? 'cancelled on the coordinator' : 'could not be cancelled on the coordinator'}; agents stop its tasks`);
    }
    // with no other handler, Node's default (exit) would be lost because this one exists
    if (process.listenerCount(signal) <= 1) {
      remove();
      process.kill(process.pid, signal);
    }
  };
  const remove = (): void => {
    for (const s of SIGNALS) process.removeListener(s, handler);
  };
  for (const s of SIGNALS) process.prependListener(s, handler);
  return remove;
}
