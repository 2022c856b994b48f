import { backoffDelay, DEFAULT_RETRY } from './retry';

describe('backoffDelay', () => {
  it('grows exponentially with jitter and never passes the cap', () => {
    const low = (): number => 0;
    const high = (): number => 0.999999;
    expect(backoffDelay(DEFAULT_RETRY, 1, low)).toBe(125);
    expect(backoffDelay(DEFAULT_RETRY, 1, high)).toBe(250);
    expect(backoffDelay(DEFAULT_RETRY, 3, high)).toBe(1000);
    for (let attempt = 1; attempt < 40; attempt++) {
      expect(backoffDelay(DEFAULT_RETRY, attempt, high)).toBeLessThanOrEqual(DEFAULT_RETRY.maxDelayMs);
      expect(backoffDelay(DEFAULT_RETRY, attempt, low)).toBeGreaterThanOrEqual(Math.min(125, DEFAULT_RETRY.maxDelayMs / 2));
    }
  });
});
