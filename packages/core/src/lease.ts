import type { TaskStatus } from '@fleet/protocol';

/** A task whose agent is lost goes back to ready this many times; the next loss fails it. */
export const DEFAULT_LEASE_RETRIES = 2;

/** Failed tasks (exit code not 0) are not retried unless the run asks for it. */
export const DEFAULT_RETRIES = 0;
export const MAX_RETRIES = 10;

export interface LeaseState {
  readonly leaseId: string;
  readonly agentName: string;
  readonly expiresAt: number;
}

export function leaseExpiresAt(now: number, leaseMs: number): number {
  return now + leaseMs;
}

export function isLeaseExpired(lease: Pick<LeaseState, 'expiresAt'>, now: number): boolean {
  return now >= lease.expiresAt;
}

export type RetryOutcome =
  | { readonly status: Extract<TaskStatus, 'ready'>; readonly message: null }
  | { readonly status: Extract<TaskStatus, 'failed'>; readonly message: string };

/** "once", "twice", "3 times". */
export function times(n: number): string {
  if (n === 1) return 'once';
  if (n === 2) return 'twice';
  return `${n} times`;
}

/**
 * What happens to a task whose lease expired. `lostOn` names the agents whose leases
 * of the task expired, oldest first, the one that just expired included. The task goes
 * back to ready while the losses do not exceed `leaseRetries`; the next loss fails it
 * with a message that says why in words.
 */
export function expireLease(lostOn: readonly string[], leaseRetries: number = DEFAULT_LEASE_RETRIES): RetryOutcome {
  const lost = lostOn.length;
  if (lost <= leaseRetries) return { status: 'ready', message: null };
  return {
    status: 'failed',
    message: `agent lost ${times(lost)} (lease expired on ${lostOn.join(', then ')}; retry limit ${leaseRetries})`,
  };
}

/**
 * What happens to a task whose attempt failed (exit code not 0), given how many failed
 * attempts were already retried: back to ready while `retried < retries`, else failed.
 * The failure keeps its own result (log, exit code), so the message is null either way.
 */
export function failAttempt(retried: number, retries: number = DEFAULT_RETRIES): { readonly status: Extract<TaskStatus, 'ready' | 'failed'> } {
  return { status: retried < retries ? 'ready' : 'failed' };
}

/** The 1-based number of the attempt a new lease starts, given the attempts before it. */
export function attemptNumber(attempts: number): number {
  return attempts + 1;
}
