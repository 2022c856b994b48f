/** Bounded, jittered exponential back-off. Pure: the caller supplies random and sleep. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** No new attempt starts after this much time since the first one. */
  maxTotalMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 10,
  maxTotalMs: 60_000,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
};

export const NO_RETRY: RetryPolicy = { maxAttempts: 1, maxTotalMs: 0, baseDelayMs: 0, maxDelayMs: 0 };

/** Delay before attempt `attempt + 1` ("full jitter"). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export function retryPolicyFromEnv(env: Record<string, string | undefined>, base = DEFAULT_RETRY): RetryPolicy {
  const total = Number(env.FLEET_RETRY_TOTAL_MS);
  if (Number.isFinite(total) && total >= 0) return { ...base, maxTotalMs: total };
  return base;
}
