import type { TaskStatus } from '@fleet/protocol';

/** 1 try + 2 retries. */
export const DEFAULT_MAX_ATTEMPTS = 3;

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

export type LeaseExpiryOutcome =
  | { readonly status: Extract<TaskStatus, 'ready'>; readonly attempts: number; readonly message: null }
  | { readonly status: Extract<TaskStatus, 'failed'>; readonly attempts: number; readonly message: string };

/**
 * What happens to a task whose lease expired: `attempts` counts the attempts lost so
 * far (before this one). The task goes back to ready, or fails once `maxAttempts`
 * attempts have been lost.
 */
export function expireLease(attempts: number, maxAttempts: number = DEFAULT_MAX_ATTEMPTS): LeaseExpiryOutcome {
  const lost = attempts + 1;
  if (lost >= maxAttempts) {
    return { status: 'failed', attempts: lost, message: `agent lost ${lost} times` };
  }
  return { status: 'ready', attempts: lost, message: null };
}

/** The 1-based number of the attempt a new lease starts. */
export function attemptNumber(attempts: number): number {
  return attempts + 1;
}
