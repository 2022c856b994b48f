import type { Reporter } from '../reporter';
import { describeError } from '../util/errors';

/** What the heartbeat needs from the coordinator: the run's status after each beat. */
export interface RunHeartbeatClient {
  heartbeatRun(runId: string): Promise<{ status: string; reason: string | null }>;
}

export interface MainHeartbeatOptions {
  client: RunHeartbeatClient;
  runId: string;
  reporter: Reporter;
  /** Between beats; default 5 s (the coordinator fails the run after 30 s of silence). */
  intervalMs?: number;
  /**
   * Consecutive failed beats for this long end the heartbeat: by then the coordinator
   * has failed the run for main's silence anyway. Default 90 s.
   */
  giveUpMs?: number;
  /** Hard bound on the heartbeat's life (default 6 h, twice the default run time-out). */
  maxLifeMs?: number;
  /** False once this job no longer holds the run (the marker was removed or replaced). */
  stillHeld: () => boolean;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type HeartbeatEnd = 'run_closed' | 'released' | 'unreachable' | 'max_life';

/**
 * The main job's heartbeat, in a process of its own that `start-ci-run` leaves running for
 * the rest of the CI job: it tells the coordinator that main is alive between and during
 * the job's nx commands. When the CI job is killed it dies with it, the beats stop, and the
 * coordinator fails the run after its main time-out, so the agents leave.
 */
export async function runMainHeartbeat(options: MainHeartbeatOptions): Promise<HeartbeatEnd> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const intervalMs = options.intervalMs ?? 5_000;
  const giveUpMs = options.giveUpMs ?? 90_000;
  const startedAt = now();
  let failingSince: number | null = null;
  for (let beat = 0; ; beat++) {
    if (!options.stillHeld()) return 'released';
    if (now() - startedAt >= (options.maxLifeMs ?? 6 * 3_600_000)) return 'max_life';
    try {
      const answer = await options.client.heartbeatRun(options.runId);
      failingSince = null;
      if (answer.status !== 'open') {
        options.reporter.info(`run ${options.runId} is ${answer.status}${answer.reason ? ` (${answer.reason})` : ''}: heartbeat ends`);
        return 'run_closed';
      }
    } catch (error) {
      failingSince ??= now();
      options.reporter.warn(`main heartbeat for run ${options.runId} failed: ${describeError(error)}`);
      if (now() - failingSince >= giveUpMs) {
        options.reporter.error(`no heartbeat got through for ${Math.round(giveUpMs / 1000)} s: giving up`);
        return 'unreachable';
      }
    }
    await sleep(intervalMs);
  }
}
